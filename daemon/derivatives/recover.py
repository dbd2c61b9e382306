"""A playable copy of a battery-cut MP4: the camera died before writing the index (``moov``)
at the end, but the media data (``mdat``) it wrote is intact.

``untrunc``'s idea, written for our case: a healthy recording from the same device (same
profile, so the same encoder settings) gives what the cut file lacks — the H.264 parameter
sets (SPS/PPS, which live only in the index) and the frame rate.  The ``mdat`` is then
walked as the length-prefixed NAL units H.264 in MP4 stores: a unit is taken when its
length fits and its header is a valid picture, SEI or parameter-set unit, and (when
resynchronising after bytes that are not video, such as interleaved audio chunks) when the
unit after it is valid too.  The units are written as an H.264 elementary stream behind the
reference's parameter sets, and ffmpeg puts that into an MP4 (stream copy, no re-encode).

Audio: the bytes between runs of video units are the audio chunks.  Raw AAC frames carry
no length, so their boundaries take a decoder in the loop (what untrunc does); ffmpeg's AAC
decoder is that loop when it is handed a whole chunk as one packet: it decodes a frame,
says how many bytes it took, and goes on with the rest.  The chunks are put, one block
each, in a small Matroska file behind the reference's AAC configuration
(:func:`audio_chunks_mkv`), and the mux re-encodes what decodes, its samples laid end to
end from the start (a camera records sound without a pause).  A chunk that does not
decode is lost whole, and the sound after it comes early by that much: the ledger says
how many seconds of sound were recovered beside those of the picture.
H.265 is walked the same way, with its two-byte NAL header and the reference's VPS, SPS
and PPS; out of step, a unit is taken when it starts a picture.

Frames are timed in the order they are stored, at the reference's frame rate: right for a
camera's low-delay encoder, which stores frames in the order they are shown.  An encoder
that reorders frames (B-frames) stores no display times in the ``mdat``, and a raw stream
cannot carry them: such a copy plays, with frame times out of step inside each group of
pictures; the ledger's detail says so (``frame_order``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import ffmpeg

from evidock.daemon.errors import RecoveryImpossible

# H.264 NAL unit types found in a camera's mdat: coded slices (1, 5), SEI (6), parameter
# sets (7, 8), access unit delimiter (9), filler (12)
_NAL_TYPES = {1, 5, 6, 7, 8, 9, 12}
# H.265 (two-byte header): coded slices (0-9 and the key-frame types 16-21), parameter sets
# (VPS 32, SPS 33, PPS 34), access unit delimiter (35), filler (38), SEI (39, 40)
_HEVC_SLICES = frozenset(range(0, 10)) | frozenset(range(16, 22))
_HEVC_KEYS = frozenset(range(16, 22))
_HEVC_TYPES = _HEVC_SLICES | {32, 33, 34, 35, 38, 39, 40}
#: ffmpeg's names for the codecs recovered, by ffprobe's ``codec_name``
CODECS = {"h264": ("h264", "h264_mp4toannexb"), "hevc": ("hevc", "hevc_mp4toannexb")}
_START = b"\x00\x00\x00\x01"


@dataclass(frozen=True)
class Walk:
    nals: int
    slices: int
    key_slices: int
    skipped_bytes: int
    gaps: list[tuple[int, int]] = field(default_factory=list)  # bytes between video units


def media_data(data) -> tuple[int, int]:
    """Where the payload of the first top-level ``mdat`` box is in ``data`` (bytes or an
    mmap): (start, end), the end cut short by the file's end."""
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1 and pos + 16 <= len(data):
            size, header = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        if kind == b"mdat":
            end = len(data) if size == 0 else min(len(data), pos + size)
            return pos + header, end
        if kind == b"moov":
            raise RecoveryImpossible("the file has its index (moov): it is not a "
                                     "battery-cut recording and needs no recovery")
        if size < 8:
            break
        pos += size
    raise RecoveryImpossible("the file has no media data (mdat box): the camera wrote no "
                             "picture before it stopped, there is nothing to recover")


def _hevc_type(data, at: int) -> int | None:
    """The type of the H.265 NAL unit whose header is at ``at``; None if the header is not
    one of a base layer (forbidden bit clear, layer 0, a temporal id)."""
    first, second = data[at], data[at + 1]
    if first & 0x80 or (first & 1) or (second >> 3) or not second & 7:
        return None
    return first >> 1 & 0x3F


def _valid(data, pos: int, end: int, codec: str = "h264") -> int | None:
    """The length of a plausible NAL unit at ``pos`` (4-byte length prefix), or None."""
    if pos + 6 > end:
        return None
    length = int.from_bytes(data[pos:pos + 4], "big")
    if length < 2 or pos + 4 + length > end:
        return None
    if codec == "hevc":
        return length if _hevc_type(data, pos + 4) in _HEVC_TYPES else None
    header = data[pos + 4]
    kind = header & 0x1F
    if header & 0x80 or kind not in _NAL_TYPES:
        return None
    if kind in (5, 7, 8) and not header & 0x60:  # these are always reference units
        return None
    return length


class _Bits:
    """Exp-Golomb reader over a NAL unit's first bytes (emulation prevention removed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data.replace(b"\x00\x00\x03", b"\x00\x00")
        self.pos = 0

    def bit(self) -> int:
        if self.pos >= len(self.data) * 8:
            raise IndexError("past the end")
        value = self.data[self.pos // 8] >> (7 - self.pos % 8) & 1
        self.pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = value << 1 | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("not Exp-Golomb")
        return (1 << zeros) - 1 + self.bits(zeros)


def frame_num_bits(sps: bytes) -> int | None:
    """``log2_max_frame_num`` from an SPS unit (header byte first), None if it uses what
    this reader does not follow (scaling matrices)."""
    r = _Bits(sps[1:64])
    profile = r.bits(8)
    r.bits(16)  # constraint flags, level
    r.ue()  # seq_parameter_set_id
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        if r.ue() == 3:  # chroma_format_idc 4:4:4
            r.bit()
        r.ue()
        r.ue()  # bit depths
        r.bit()
        if r.bit():  # seq_scaling_matrix_present_flag
            return None
    return r.ue() + 4


def _slice_frame_num(unit: bytes, bits: int) -> int | None:
    """frame_num of a slice that starts a picture (first_mb_in_slice 0, PPS 0), else None."""
    try:
        r = _Bits(unit[1:16])
        if r.ue() != 0 or r.ue() > 9 or r.ue() != 0:
            return None
        return r.bits(bits)
    except (IndexError, ValueError):
        return None


def _hevc_picture_start(data, pos: int, length: int, largest: int) -> bool:
    """Whether the H.265 unit at ``pos`` starts a picture: a slice whose
    first_slice_segment_in_pic_flag is set and whose PPS is 0 (ue '1'; after
    no_output_of_prior_pics_flag in a key frame), no longer than a few times the largest
    unit taken so far (so a chance match in sound data cannot swallow the pictures after
    it)."""
    kind = _hevc_type(data, pos + 4)
    if kind not in _HEVC_SLICES or length < 3 or length > max(4 * largest, 1 << 20):
        return False
    bits = data[pos + 6]
    return bool(bits & 0x80) and bool(bits & (0x20 if kind in _HEVC_KEYS else 0x40))


def _slice(unit, codec: str) -> tuple[bool, bool]:
    """(a coded slice, a key frame's) for the NAL unit whose header starts ``unit``."""
    if codec == "hevc":
        kind = _hevc_type(unit, 0)
        return kind in _HEVC_SLICES, kind in _HEVC_KEYS
    kind = unit[0] & 0x1F
    return kind in (1, 5), kind == 5


def annexb(data, start: int, end: int, parameter_sets: bytes, out,
           codec: str = "h264") -> Walk:
    """Write the H.264 (or H.265: ``codec="hevc"``) elementary stream found in
    ``data[start:end]`` (the mdat) to ``out`` (Annex B), behind ``parameter_sets``.

    In step, unit follows unit.  Out of step (the start, or bytes that are not video, such
    as an interleaved audio chunk) a unit is taken only if the unit after it is valid too,
    or if it is a slice starting the picture that comes next: (H.264) ``frame_num`` (from
    the reference's SPS) equal to or one past the last picture's, 0 for a key frame; (H.265)
    the first slice of a picture (:func:`_hevc_picture_start`)."""
    sps = b"" if codec == "hevc" else next(
        (u for u in parameter_sets.split(_START) if u and u[0] & 0x1F == 7), b"")
    bits = frame_num_bits(sps) if sps else None
    out.write(parameter_sets)
    pos, synced, last = start, False, None
    nals = slices = keys = skipped = largest = 0
    gaps: list[tuple[int, int]] = []
    gap = start  # where the bytes that are not video began, or None while in step
    while pos < end:
        length = _valid(data, pos, end, codec)
        if length is not None and not synced:
            after = pos + 4 + length
            synced = after == end or _valid(data, after, end, codec) is not None
            kind = data[pos + 4] & 0x1F
            if not synced and codec == "hevc":
                synced = _hevc_picture_start(data, pos, length, largest)
            elif not synced and bits and kind in (1, 5):
                num = _slice_frame_num(data[pos + 4:pos + 4 + min(length, 16)], bits)
                wrap = 1 << bits
                synced = num is not None and (
                    (kind == 5 and num == 0) or
                    (last is not None and num in (last, (last + 1) % wrap)))
        if length is None or not synced:
            synced = False
            gap = pos if gap is None else gap
            # a unit shorter than 16 MiB has a zero first length byte: jump to the next one
            nxt = data.find(b"\x00", pos + 1, end)
            nxt = end if nxt < 0 else nxt
            skipped += nxt - pos
            pos = nxt
            continue
        if gap is not None and pos > gap:
            gaps.append((gap, pos))
        gap = None
        unit = data[pos + 4:pos + 4 + length]
        out.write(_START)
        out.write(unit)
        nals += 1
        largest = max(largest, length)
        kind = unit[0] & 0x1F
        is_slice, is_key = _slice(unit, codec)
        slices += is_slice
        keys += is_key
        if bits and kind in (1, 5):
            num = _slice_frame_num(unit[:16], bits)
            last = num if num is not None else last
        pos += 4 + length
    if gap is not None and end > gap:
        gaps.append((gap, end))
    return Walk(nals, slices, keys, skipped, gaps)


def parameter_sets_args(reference_url: str, *, codec: str = "h264",
                        ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """The reference's first frame as an elementary stream: its parameter sets first."""
    fmt, bsf = CODECS[codec]
    return (ffmpeg.input(reference_url).output("pipe:", vframes=1, f=fmt,
                                               **{"c:v": "copy", "bsf:v": bsf})
            .global_args("-hide_banner", "-nostdin", "-loglevel", "error")
            .compile(cmd=ffmpeg_cmd))


def split_parameter_sets(stream: bytes, codec: str = "h264") -> bytes:
    """The parameter sets (H.264 SPS and PPS, types 7 and 8; H.265 VPS, SPS and PPS, 32 to
    34) of an Annex B stream, with start codes."""
    found = bytearray()
    for unit in stream.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01"):
        unit = unit.rstrip(b"\x00")
        if len(unit) < 2:
            continue
        if (codec == "hevc" and _hevc_type(unit, 0) in (32, 33, 34)) or (
                codec == "h264" and unit[0] & 0x1F in (7, 8)):
            found += _START + unit
    if not found:
        raise RecoveryImpossible(f"the reference recording has no {codec.upper()} parameter "
                                 "sets: only H.264 and H.265 recordings can be recovered")
    return bytes(found)


# -- audio ---------------------------------------------------------------------------------

# ISO 14496-3 sampling frequency index
_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000,
          7350)
_AAC_OBJECT = {"Main": 1, "LC": 2, "SSR": 3, "LTP": 4, "HE-AAC": 2, "HE-AACv2": 2}


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int
    channels: int
    object_type: int = 2  # AAC LC; HE-AAC's SBR is found by the decoder in the frames
    priming: int = 0  # samples the encoder puts before the sound (its MP4 edit list skips them)

    def specific_config(self) -> bytes:
        """The two-byte AudioSpecificConfig (object type, rate index, channel layout)."""
        rate = _RATES.index(self.sample_rate)
        layout = 7 if self.channels == 8 else self.channels
        return (self.object_type << 11 | rate << 7 | layout << 3).to_bytes(2, "big")


def audio_config(probe: dict) -> AudioConfig | None | str:
    """The reference's audio as ffprobe describes it (``-show_streams`` JSON); None when
    it has none; a reason (str) when it is audio this recovery does not read."""
    audio = next((s for s in probe.get("streams", []) if s.get("codec_type") == "audio"),
                 None)
    if audio is None:
        return None
    if audio.get("codec_name") != "aac":
        return f"the reference's sound is {audio.get('codec_name')}, not AAC"
    rate, channels = int(audio.get("sample_rate") or 0), int(audio.get("channels") or 0)
    if rate not in _RATES or not 1 <= channels <= 8 or channels == 7:
        return f"the reference's AAC layout ({rate} Hz, {channels} channels) is not read"
    return AudioConfig(rate, channels, _AAC_OBJECT.get(audio.get("profile") or "LC", 2))


def audio_config_of(probe: dict, first_packet: bytes) -> AudioConfig | None | str:
    """:func:`audio_config` with the priming from :func:`priming_args`' output."""
    found = audio_config(probe)
    if not isinstance(found, AudioConfig):
        return found
    return AudioConfig(found.sample_rate, found.channels, found.object_type,
                       priming(first_packet, found.sample_rate))


def priming_args(reference_url: str, *, ffprobe: str = "ffprobe") -> list[str]:
    """The time of the reference's first sound packet: before zero by the encoder's
    priming, which its edit list skips and a rebuilt copy must skip too."""
    return [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries",
            "packet=pts_time", "-read_intervals", "%+#1", "-of", "csv=p=0", reference_url]


def priming(stdout: bytes, sample_rate: int) -> int:
    try:
        first = float(stdout.decode().replace(",", " ").split()[0])  # csv: "-0.021333,"
    except (IndexError, ValueError):
        return 0
    return max(0, round(-first * sample_rate))


def _element(ident: int, payload: bytes) -> bytes:
    """An EBML element with an eight-byte size (valid for every length)."""
    width = (ident.bit_length() + 7) // 8
    return ident.to_bytes(width, "big") + (0x01 << 56 | len(payload)).to_bytes(8, "big") \
        + payload


def _uint(ident: int, value: int) -> bytes:
    return _element(ident, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def audio_chunks_mkv(data, gaps: list[tuple[int, int]], config: AudioConfig, out,
                     *, min_bytes: int = 64) -> int:
    """Write the bytes of each gap longer than ``min_bytes`` (an audio chunk) as one
    Matroska block, behind ``config``; returns how many blocks."""
    out.write(_element(0x1A45DFA3, _uint(0x4286, 1) + _uint(0x42F7, 1) + _uint(0x42F2, 4)
                       + _uint(0x42F3, 8) + _element(0x4282, b"matroska")
                       + _uint(0x4287, 4) + _uint(0x4285, 2)))
    out.write(bytes.fromhex("18538067") + bytes.fromhex("01ffffffffffffff"))  # Segment, open
    out.write(_element(0x1549A966, _uint(0x2AD7B1, 1_000_000)))  # Info: milliseconds
    audio = _element(0xB5, struct.pack(">d", float(config.sample_rate))) \
        + _uint(0x9F, config.channels)
    out.write(_element(0x1654AE6B, _element(0xAE, _uint(0xD7, 1) + _uint(0x73C5, 1)
                                            + _uint(0x83, 2) + _element(0x86, b"A_AAC")
                                            + _element(0x63A2, config.specific_config())
                                            + _element(0xE1, audio))))
    blocks = 0
    for start, end in gaps:
        if end - start < min_bytes:
            continue
        # each block a second after the last: the mux lays the samples end to end anyway
        block = b"\x81" + struct.pack(">hB", 0, 0x80) + bytes(data[start:end])
        out.write(_element(0x1F43B675, _uint(0xE7, blocks * 1000) + _element(0xA3, block)))
        blocks += 1
    return blocks


def mux_args(stream_path: str, out: str, *, fps: str, audio_path: str | None = None,
             skip_samples: int = 0, audio_kbps: int = 96, codec: str = "h264",
             ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """The recovered elementary stream into an MP4, frames timed at the reference's rate;
    with ``audio_path`` (:func:`audio_chunks_mkv`) the sound too, decoded and re-encoded
    to AAC, its samples timed end to end from the start, less the encoder's priming
    (``skip_samples``)."""
    video = ffmpeg.input(stream_path, f=CODECS[codec][0], framerate=fps).video
    # hvc1: the tag Apple's and the browsers' players look for in an MP4
    streams, opts = [video], {"c:v": "copy", **({"tag:v": "hvc1"} if codec == "hevc" else {})}
    if audio_path is not None:
        streams.append(ffmpeg.input(audio_path, f="matroska").audio
                       .filter("asetpts", "N/SR/TB")
                       .filter("atrim", start_sample=skip_samples)
                       .filter("asetpts", "PTS-STARTPTS"))
        opts.update({"c:a": "aac", "b:a": f"{audio_kbps}k"})
    return (ffmpeg.output(*streams, out, **opts, movflags="+faststart", f="mp4")
            .global_args("-hide_banner", "-nostdin", "-loglevel", "error")
            .overwrite_output().compile(cmd=ffmpeg_cmd))
