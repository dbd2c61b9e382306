"""Read once, many proofs: a reader that hashes every byte that passes through it.

The pipeline wraps a device file in a :class:`HashingReader`; the store reads it to the end
once, and the same pass feeds BLAKE3 (the content address) and SHA-256 (for courts and S3).
The reader never seeks, and it refuses to report digests for a stream whose length differs
from the size seen when the file was found.
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import blake3

from evidock.daemon.errors import SizeMismatch

DEFAULT_CHUNK = 1 << 20


@dataclass(frozen=True)
class Digests:
    """The digests of one complete stream, hex encoded."""

    size: int
    blake3: str
    sha256: str

    def matches(self, other: Digests) -> bool:
        """Constant-time comparison of both digests and the size."""
        return (
            self.size == other.size
            and hmac.compare_digest(self.blake3, other.blake3)
            and hmac.compare_digest(self.sha256, other.sha256)
        )


class MultiHasher:
    """BLAKE3 and SHA-256 updated together; hashlib releases the GIL on large buffers."""

    def __init__(self) -> None:
        self._blake3 = blake3.blake3(max_threads=1)
        self._sha256 = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self._blake3.update(data)
        self._sha256.update(data)
        self.size += len(data)

    def digests(self) -> Digests:
        return Digests(self.size, self._blake3.hexdigest(), self._sha256.hexdigest())


class HashingReader:
    """A forward-only byte stream that hashes what it hands out.

    ``expected_size`` is the size the driver saw when it found the file.  Reading more than
    that, or reaching the end early, raises :class:`SizeMismatch` so that the attempt fails
    and is retried later instead of storing a partial recording.

    With ``readahead`` > 0 a thread reads and hashes up to that many chunks ahead of the
    consumer, so the device is read continuously while the store writes (hashlib and blake3
    release the GIL, so this is real parallelism).  Use it as a context manager, or call
    :meth:`close`, so the thread ends when the consumer gives up early.
    """

    def __init__(
        self,
        raw: BinaryIO,
        expected_size: int,
        *,
        name: str = "",
        chunk_size: int = DEFAULT_CHUNK,
        on_progress=None,
        readahead: int = 0,
    ) -> None:
        self._raw = raw
        self.expected_size = expected_size
        self.name = name
        self.chunk_size = chunk_size
        self._hasher = MultiHasher()
        self._eof = False
        self._on_progress = on_progress
        self._readahead = readahead
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._handed_out = 0

    def __enter__(self) -> HashingReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            while self._thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass
                self._thread.join(0.05)

    @property
    def bytes_read(self) -> int:
        return self._handed_out

    def read(self, n: int = -1) -> bytes:
        """Read the next chunk (at most ``chunk_size`` bytes).  ``b""`` only at a verified end."""
        if self._eof:
            return b""
        if self._readahead > 0:
            data = self._next_from_thread()
        else:
            data = self._read_and_hash()
        if not data:
            self._eof = True
            return b""
        self._handed_out += len(data)
        if self._on_progress is not None:
            self._on_progress(len(data))
        return data

    def _read_and_hash(self) -> bytes:
        data = self._raw.read(self.chunk_size)
        if not data:
            if self._hasher.size != self.expected_size:
                raise SizeMismatch(
                    f"{self.name or 'stream'}: read {self._hasher.size} bytes, expected "
                    f"{self.expected_size}",
                    hint="the file was truncated or changed while it was read; it will be retried",
                )
            return b""
        self._hasher.update(data)
        if self._hasher.size > self.expected_size:
            raise SizeMismatch(
                f"{self.name or 'stream'}: more bytes than the {self.expected_size} seen when "
                f"the file was found",
                hint="the file is still being written or was replaced; it will be retried",
            )
        return data

    def _next_from_thread(self) -> bytes:
        if self._thread is None:
            self._queue = queue.Queue(maxsize=self._readahead)
            self._thread = threading.Thread(target=self._produce, name="readahead", daemon=True)
            self._thread.start()
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def _produce(self) -> None:
        while not self._closed.is_set():
            try:
                item = self._read_and_hash()
            except BaseException as exc:  # handed to the consumer, raised there
                item = exc
            while not self._closed.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not item or isinstance(item, BaseException):
                return

    def chunks(self) -> Iterator[bytes]:
        while chunk := self.read():
            yield chunk

    @property
    def at_eof(self) -> bool:
        return self._eof

    def digests(self) -> Digests:
        """The digests of the whole stream; only valid once the stream reached its end."""
        if not self._eof:
            raise RuntimeError("digests asked for before the stream was read to its end")
        return self._hasher.digests()


def digest_file(raw: BinaryIO, chunk_size: int = DEFAULT_CHUNK) -> Digests:
    """Hash a whole stream (fixity audits, tests)."""
    hasher = MultiHasher()
    while data := raw.read(chunk_size):
        hasher.update(data)
    return hasher.digests()
