"""The ready queue: earliest handover deadline first across devices, one reader per device.

The queue keeps in memory what choosing a file needs -- each queued file's deadline, its
device and whether its copy is stored already (a stored file is verified without its device)
-- in one heap per device.  Choosing looks only at the head of each device that is not being
read, so it costs one step per docked device, not one per queued file, and the files of a
busy device are never popped and pushed back.  The ledger is asked only about the file
taken (by the pipeline, which puts it back if the ledger cannot be read).

Not thread-safe: the pipeline calls it under its lock.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Queued:
    """A file waiting to be read, as the scheduler knows it."""

    media_id: int
    deadline: str  # the handover deadline, as stamped in the ledger (sorts as time)
    serial: str  # its device: one reader per device
    stored: bool = False  # its copy is stored: it can be verified without its device


class ReadyQueue:
    def __init__(self) -> None:
        self._heaps: dict[str, list[tuple[str, int]]] = {}  # serial -> heap of (deadline, id)
        self._entries: dict[int, Queued] = {}  # the live entry of each queued file

    def push(self, entry: Queued) -> None:
        """Queue a file; queuing it again replaces its entry (the older one goes stale)."""
        self._entries[entry.media_id] = entry
        heapq.heappush(self._heaps.setdefault(entry.serial, []),
                       (entry.deadline, entry.media_id))

    def take(self, busy: Collection[str], usable: Callable[[Queued], bool]) -> Queued | None:
        """Remove and return the file with the earliest deadline whose device is not in
        ``busy``; None when there is none.  A file ``usable`` refuses (its device left) is
        dropped from the queue on the way."""
        best: tuple[str, int] | None = None
        best_serial = None
        for serial, heap in list(self._heaps.items()):
            if serial in busy:
                continue
            while heap:
                deadline, media_id = heap[0]
                entry = self._entries.get(media_id)
                if entry is None or (entry.deadline, entry.serial) != (deadline, serial):
                    heapq.heappop(heap)  # taken or queued again since
                elif not usable(entry):
                    heapq.heappop(heap)
                    del self._entries[media_id]
                else:
                    break
            if not heap:
                del self._heaps[serial]
            elif best is None or heap[0] < best:
                best, best_serial = heap[0], serial
        if best is None:
            return None
        heapq.heappop(self._heaps[best_serial])
        return self._entries.pop(best[1])

    def take_from(self, serial: str, usable: Callable[[Queued], bool]) -> Queued | None:
        """Remove and return the device's file with the earliest deadline (a reader going on
        with the same device); None when it has none.  Refused files are dropped as above."""
        heap = self._heaps.get(serial)
        found = None
        while heap:
            deadline, media_id = heapq.heappop(heap)
            entry = self._entries.get(media_id)
            if entry is None or (entry.deadline, entry.serial) != (deadline, serial):
                continue  # taken or queued again since
            del self._entries[media_id]
            if usable(entry):
                found = entry
                break
        if heap is not None and not heap:
            del self._heaps[serial]
        return found

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, media_id: int) -> bool:
        return media_id in self._entries

    def snapshot(self) -> list[tuple[str, int]]:
        """``(deadline, media_id)`` of every queued file, in no particular order."""
        return [(e.deadline, e.media_id) for e in self._entries.values()]
