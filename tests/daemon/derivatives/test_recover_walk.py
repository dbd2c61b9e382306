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
