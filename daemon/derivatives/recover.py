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

Audio is not recovered: raw AAC frames carry no length, and finding their boundaries needs
a decoder in the loop (what untrunc does); the recovered copy says so in the ledger.
Neither is H.265 (its NAL header differs): such a file's derivative fails with the reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import ffmpeg

from evidock.daemon.errors import RecoveryImpossible

# H.264 NAL unit types found in a camera's mdat: coded slices (1, 5), SEI (6), parameter
# sets (7, 8), access unit delimiter (9), filler (12)
_NAL_TYPES = {1, 5, 6, 7, 8, 9, 12}
_START = b"\x00\x00\x00\x01"


@dataclass(frozen=True)
class Walk:
    nals: int
    slices: int
    key_slices: int
    skipped_bytes: int


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


def _valid(data, pos: int, end: int) -> int | None:
    """The length of a plausible NAL unit at ``pos`` (4-byte length prefix), or None."""
    if pos + 5 > end:
        return None
    length = int.from_bytes(data[pos:pos + 4], "big")
    if length < 2 or pos + 4 + length > end:
        return None
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


def annexb(data, start: int, end: int, parameter_sets: bytes, out) -> Walk:
    """Write the H.264 elementary stream found in ``data[start:end]`` (the mdat) to ``out``
    (Annex B), behind ``parameter_sets``.

    In step, unit follows unit.  Out of step (the start, or bytes that are not video, such
    as an interleaved audio chunk) a unit is taken only if the unit after it is valid too,
    or if it is a slice starting the picture that comes next: ``frame_num`` (from the
    reference's SPS) equal to or one past the last picture's, 0 for a key frame."""
    sps = next((u for u in parameter_sets.split(_START) if u and u[0] & 0x1F == 7), b"")
    bits = frame_num_bits(sps) if sps else None
    out.write(parameter_sets)
    pos, synced, last = start, False, None
    nals = slices = keys = skipped = 0
    while pos < end:
        length = _valid(data, pos, end)
        if length is not None and not synced:
            after = pos + 4 + length
            synced = after == end or _valid(data, after, end) is not None
            kind = data[pos + 4] & 0x1F
            if not synced and bits and kind in (1, 5):
                num = _slice_frame_num(data[pos + 4:pos + 4 + min(length, 16)], bits)
                wrap = 1 << bits
                synced = num is not None and (
                    (kind == 5 and num == 0) or
                    (last is not None and num in (last, (last + 1) % wrap)))
        if length is None or not synced:
            synced = False
            # a unit shorter than 16 MiB has a zero first length byte: jump to the next one
            nxt = data.find(b"\x00", pos + 1, end)
            nxt = end if nxt < 0 else nxt
            skipped += nxt - pos
            pos = nxt
            continue
        unit = data[pos + 4:pos + 4 + length]
        out.write(_START)
        out.write(unit)
        nals += 1
        kind = unit[0] & 0x1F
        slices += kind in (1, 5)
        keys += kind == 5
        if bits and kind in (1, 5):
            num = _slice_frame_num(unit[:16], bits)
            last = num if num is not None else last
        pos += 4 + length
    return Walk(nals, slices, keys, skipped)


def parameter_sets_args(reference_url: str, *, ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """The reference's first frame as an H.264 elementary stream: its SPS and PPS first."""
    return (ffmpeg.input(reference_url).output("pipe:", vframes=1, f="h264",
                                               **{"c:v": "copy",
                                                  "bsf:v": "h264_mp4toannexb"})
            .global_args("-hide_banner", "-nostdin", "-loglevel", "error")
            .compile(cmd=ffmpeg_cmd))


def split_parameter_sets(stream: bytes) -> bytes:
    """The SPS and PPS units (types 7 and 8) of an Annex B stream, with start codes."""
    found = bytearray()
    for unit in stream.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01"):
        unit = unit.rstrip(b"\x00")
        if unit and unit[0] & 0x1F in (7, 8):
            found += _START + unit
    if not found:
        raise RecoveryImpossible("the reference recording has no H.264 parameter sets: "
                                 "only H.264 recordings can be recovered so far")
    return bytes(found)


def mux_args(stream_path: str, out: str, *, fps: str,
             ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """The recovered elementary stream into an MP4, frames timed at the reference's rate."""
    return (ffmpeg.input(stream_path, f="h264", framerate=fps)
            .output(out, **{"c:v": "copy"}, movflags="+faststart", f="mp4")
            .global_args("-hide_banner", "-nostdin", "-loglevel", "error")
            .overwrite_output().compile(cmd=ffmpeg_cmd))
