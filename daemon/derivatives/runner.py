"""Run one ffmpeg or ffprobe command the way frigate does: an argument list (never a
shell), its own session (a signal to the daemon's terminal never reaches it, and the whole
process group can be stopped), stdin closed, a timeout, terminate then kill, stderr kept for
the log and the ledger.

Below ingest: the command runs under ``nice`` and, where available, ``ionice -c3`` (idle I/O
class), and while ``paused()`` says a device is being read the process group is stopped
(SIGSTOP) and continued (SIGCONT) once it is not; paused time does not count against the
timeout.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable

from evidock.daemon.errors import (
    DerivativeCancelled as Cancelled,
)
from evidock.daemon.errors import (
    FfmpegError,
    FfmpegMissing,
    FfmpegRefused,
    FfmpegTimedOut,
)

__all__ = ["Cancelled", "FfmpegError", "FfmpegMissing", "FfmpegRefused", "FfmpegTimedOut",
           "explain", "niced", "run", "stop"]

TERMINATE_GRACE_SECONDS = 5.0


def niced(args: list[str], *, nice: int = 19, ionice_idle: bool = True,
          which=shutil.which) -> list[str]:
    """``args`` behind ``nice -n N`` and ``ionice -c3`` (each only when installed)."""
    prefix: list[str] = []
    if nice and which("nice"):
        prefix += ["nice", "-n", str(nice)]
    if ionice_idle and which("ionice"):
        prefix += ["ionice", "-c3"]
    return prefix + list(args)


def _signal(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(proc: subprocess.Popen, grace: float = TERMINATE_GRACE_SECONDS) -> None:
    """Terminate the process group, wait ``grace``, then kill it; always reaps."""
    _signal(proc, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
    _signal(proc, signal.SIGTERM)
    try:
        proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal(proc, signal.SIGKILL)
        proc.communicate()


def _tail(stderr: bytes, lines: int | None = 20) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text if lines is None else "\n".join(text.splitlines()[-lines:])


def run(args: list[str], *, timeout: float, paused: Callable[[], bool] = lambda: False,
        cancelled: Callable[[], bool] = lambda: False, tick: float = 0.25,
        popen=subprocess.Popen, stderr_lines: int | None = 20) -> tuple[bytes, str]:
    """Run ``args``; returns (stdout, the last ``stderr_lines`` of stderr; None: all of it,
    for a command whose stderr is its output).  Raises :class:`FfmpegRefused` for a
    non-zero exit, :class:`FfmpegTimedOut`, :class:`FfmpegMissing` or :class:`Cancelled`;
    the process is never left running."""
    try:
        proc = popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
    except FileNotFoundError as exc:
        raise FfmpegMissing(f"{exc.filename or args[0]} is not installed",
                            hint="install the Debian package ffmpeg") from None
    ran, last, held = 0.0, time.monotonic(), False
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=tick)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if not held:
                ran += now - last
            last = now
            if cancelled():
                stop(proc)
                raise Cancelled(f"{args[0]} stopped: the daemon is stopping")
            if paused() != held:
                held = not held
                _signal(proc, signal.SIGSTOP if held else signal.SIGCONT)
            if ran > timeout:
                stop(proc)
                raise FfmpegTimedOut(f"ffmpeg took longer than {timeout:.0f} s and was stopped",
                                     hint="raise derivatives.timeout_seconds for long "
                                          "recordings on a slow station")
    except BaseException:
        if proc.poll() is None:
            stop(proc)
        raise
    if proc.returncode != 0:
        raise FfmpegRefused(f"ffmpeg exited {proc.returncode}", stderr=_tail(err))
    return out, _tail(err, stderr_lines)


def explain(stderr: str, *, size: int | None = None) -> str:
    """What ffmpeg's complaint means, in words a reviewer understands (and its own last line)."""
    text = stderr.lower()
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
    if size == 0:
        return "the recording is empty (0 bytes): there is nothing to make a review copy of"
    if "moov atom not found" in text:
        return ("the MP4 has no index (its 'moov' atom is missing): the camera stopped before "
                "it finished writing the file, most often because its battery died; the "
                "original is stored bit-exact but does not play as it is")
    # random or damaged bytes: ffmpeg either finds no format ("Invalid data found") or a
    # demuxer gives up on the input itself ("<input>: Invalid argument", EINVAL)
    if "invalid data found" in text or (last.lower().startswith("the stored copy")
                                        and last.lower().endswith("invalid argument")):
        return ("ffmpeg does not recognise the file as audio, video or an image: it is "
                f"damaged or not a recording (ffmpeg: {last})")
    if "decoder" in text and ("not found" in text or "unknown" in text) \
            or "could not find codec parameters" in text:
        return ("the file's codec is not supported by this station's ffmpeg, or its "
                f"parameters could not be read (ffmpeg: {last})")
    if "no video stream" in text or "matches no streams" in text:
        return f"the file has no stream this derivative needs (ffmpeg: {last})"
    return f"ffmpeg could not make it (ffmpeg: {last})"
