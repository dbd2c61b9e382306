"""The mdat walk of a battery-cut MP4, on hand-made bytes (no ffmpeg)."""

from __future__ import annotations

import io
import struct

import pytest

from evidock.daemon.derivatives import recover
from evidock.daemon.errors import RecoveryImpossible


def box(kind: bytes, payload: bytes, size: int | None = None) -> bytes:
    return struct.pack(">I4s", size if size is not None else 8 + len(payload), kind) + payload


def nal(header: int, body: bytes) -> bytes:
    return struct.pack(">I", 1 + len(body)) + bytes([header]) + body


# first_mb_in_slice 0 ('1'), slice_type P ('1'), pps 0 ('1'), frame_num (4 bits) n
def slice_body(frame_num: int) -> bytes:
    return bytes([0b11100000 | frame_num << 1, 0xAA, 0xBB])


SPS = bytes([0x67, 66, 0, 30]) + bytes([0b11100000])  # baseline, sps 0, log2_max_frame_num 4


def test_the_mdat_of_a_cut_file_is_found_and_a_whole_file_is_refused():
    cut = box(b"ftyp", b"isom0000") + box(b"mdat", b"x" * 50, size=10_000)[:40]
    start, end = recover.media_data(cut)
    assert (24, 56) == (start, end)  # to the end of the cut file
    whole = box(b"ftyp", b"isom") + box(b"moov", b"") + box(b"mdat", b"x")
    with pytest.raises(RecoveryImpossible, match="not a battery-cut"):
        recover.media_data(whole)


def test_frame_num_bits_come_from_the_sps():
    assert 4 == recover.frame_num_bits(SPS)


def test_video_units_are_kept_and_audio_between_them_skipped():
    audio = b"\x00\x12\x34\x56\x21\x10" * 7  # looks like nothing valid for long
    frames = [nal(0x65, slice_body(0))] + [nal(0x41, slice_body(n)) for n in (1, 2, 3)]
    mdat = frames[0] + audio + frames[1] + audio + frames[2] + frames[3] + audio
    out = io.BytesIO()
    walk = recover.annexb(mdat, 0, len(mdat), b"\x00\x00\x00\x01" + SPS, out)
    assert (4, 1) == (walk.slices, walk.key_slices)
    assert out.getvalue().count(b"\x00\x00\x00\x01") == 5  # the SPS and four pictures
    assert walk.skipped_bytes == 3 * len(audio)


def test_a_stray_slice_with_the_wrong_frame_number_is_not_taken_out_of_step():
    mdat = (nal(0x65, slice_body(0)) + b"\x01\x02\x03" + nal(0x41, slice_body(9))
            + b"\x01\x02\x03" + nal(0x41, slice_body(1)))
    walk = recover.annexb(mdat, 0, len(mdat), b"\x00\x00\x00\x01" + SPS, io.BytesIO())
    assert 2 == walk.slices


def test_the_audio_configuration_and_the_encoders_priming_come_from_the_reference():
    probe = {"streams": [{"codec_type": "video"}, {"codec_type": "audio", "codec_name": "aac",
                                                   "profile": "LC", "sample_rate": "48000",
                                                   "channels": 2}]}
    config = recover.audio_config_of(probe, b"-0.021333,\n")
    assert (bytes.fromhex("1190"), 1024) == (config.specific_config(), config.priming)
    mono = recover.AudioConfig(44100, 1)
    assert bytes.fromhex("1208") == mono.specific_config()
    assert None is recover.audio_config({"streams": [{"codec_type": "video"}]})
    opus = {"streams": [{"codec_type": "audio", "codec_name": "opus"}]}
    assert "not AAC" in recover.audio_config(opus)
    assert 0 == recover.priming(b"", 48000)


def test_the_bytes_between_video_units_are_kept_as_the_audio_chunks():
    unit = b"\x00\x00\x00\x05" + b"\x65\x88\x84\x00\x10"  # an IDR slice of 5 bytes
    sound = b"\x21\x1a\x54\xe5\x01" * 20
    data = sound + unit + unit + sound + unit
    walk = recover.annexb(data, 0, len(data), b"", io.BytesIO())
    assert [(0, 100), (118, 218)] == walk.gaps
