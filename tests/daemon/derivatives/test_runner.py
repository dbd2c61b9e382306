"""One command run the frigate way: own session, stdin closed, a timeout, terminate then
kill, paused while a device is read (with stand-in programs, not ffmpeg)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from evidock.daemon.derivatives import runner

PY = sys.executable


def test_it_runs_in_its_own_session_with_stdin_closed():
    out, _ = runner.run([PY, "-c", "import os, sys; print(os.getsid(0), repr(sys.stdin.read()))"],
                        timeout=10)
    sid, stdin = out.decode().split()
    assert int(sid) != os.getsid(0)
    assert "''" == stdin


def test_a_failure_raises_with_stderr_kept():
    with pytest.raises(runner.FfmpegRefused) as caught:
        runner.run([PY, "-c", "import sys; sys.stderr.write('moov atom not found\\n'); "
                    "sys.exit(1)"], timeout=10)
    assert caught.value.permanent and "moov atom not found" == caught.value.stderr


def test_a_run_past_its_timeout_is_terminated_then_killed():
    # ignores SIGTERM, so only the kill after the grace period ends it
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('up', flush=True); time.sleep(60)")
    start = time.monotonic()
    with pytest.raises(runner.FfmpegTimedOut):
        runner.run([PY, "-c", code], timeout=0.5)
    assert time.monotonic() - start < runner.TERMINATE_GRACE_SECONDS + 5


def test_paused_time_does_not_count_against_the_timeout_and_cancel_ends_it():
    calls = {"n": 0}

    def paused() -> bool:
        calls["n"] += 1
        return calls["n"] < 8  # about 2 s held, longer than the timeout

    out, _ = runner.run([PY, "-c", "import time; time.sleep(0.6); print('done')"],
                        timeout=1.5, paused=paused)
    assert b"done\n" == out
    with pytest.raises(runner.Cancelled):
        runner.run([PY, "-c", "import time; time.sleep(30)"], timeout=60,
                   cancelled=lambda: True)


def test_a_missing_program_says_what_to_install():
    with pytest.raises(runner.FfmpegMissing, match="not installed"):
        runner.run(["/nonexistent/ffmpeg"], timeout=1)
