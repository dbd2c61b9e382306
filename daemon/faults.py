"""Named fault points for the fault-matrix tests (``tests/faults/``).

A test starts the real daemon with ``EVIDOCK_FAULT=<point>`` (or ``<point>@<n>`` to fire on
the n-th pass, counted from 1) and the process kills itself with SIGKILL when it reaches that
point, exactly as a power cut or the OOM killer would.  Without the variable every point is
one dictionary lookup and nothing else.  Points:

``read``               after the first chunk of a device file was read (mid-read)
``after_store_put``    the store holds the object; the ledger does not know it yet
``ledger_commit``      inside a ledger write transaction, before COMMIT
``before_verify``      the ledger says stored; the read-back has not happened

``EVIDOCK_SLOW=<point>:<seconds>`` makes a point sleep instead (``read:0.02``: every chunk
read from a device waits 20 ms), so a test can watch a device being read and pull its
cable mid-copy in the real daemon.
"""

from __future__ import annotations

import os
import signal
import threading
import time

_lock = threading.Lock()
_passes: dict[str, int] = {}


def _wanted() -> tuple[str, int] | None:
    spec = os.environ.get("EVIDOCK_FAULT")
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    return name, int(nth or 1)


def point(name: str) -> None:
    """Die here with SIGKILL if the test asked for this point (and this pass)."""
    slow = os.environ.get("EVIDOCK_SLOW")
    if slow and slow.partition(":")[0] == name:
        time.sleep(float(slow.partition(":")[2] or 0))
    wanted = _wanted()
    if wanted is None or wanted[0] != name:
        return
    with _lock:
        _passes[name] = _passes.get(name, 0) + 1
        if _passes[name] == wanted[1]:
            os.kill(os.getpid(), signal.SIGKILL)
