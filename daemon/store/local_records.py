"""The local store's named records (the ledger's anchors) and its listing of content objects.

A mixin of :class:`~evidock.daemon.store.local.LocalWormStore` (and so of the spool): records
live under ``<root>/ledger/`` and are written like recordings: a metadata file (size, SHA-256,
retain-until, format ``evidock.local-record/1``), then the data, fsync'd and read-only, linked
to its key, since ``link`` never replaces a file.  No code path removes a record except the
spool's ``release_record`` once S3 holds the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime

from evidock.daemon.errors import IntegrityError, ObjectConflict, ObjectMissing, StoreError
from evidock.daemon.store.base import RECORD_PREFIX, ObjectInfo, check_record_key


def _fsync_dir(path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalRecords:
    """Needs from its store: ``root``, ``_temp``, ``_discard``, ``_data_path``, ``_meta_path``,
    ``_commit_lock``, ``_dump_meta``, ``_os_error`` and ``stat``."""

    def put_record(self, key: str, data: bytes, *, retain_until: datetime) -> ObjectInfo:
        """Written like a recording: a metadata file (size, SHA-256, retain-until), then the
        data, fsync'd and read-only, linked to its key (``link`` never replaces a file).  The
        local store never removes a record, so it is kept at least until ``retain_until``."""
        path = self._data_path(check_record_key(key))
        info = ObjectInfo(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                          retain_until=retain_until.astimezone(UTC), legal_hold=False,
                          lock_mode="LOCAL")
        tmp = self._temp(".record")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o440)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            with self._commit_lock():
                if path.exists():
                    if path.read_bytes() != data:
                        raise ObjectConflict(
                            f"local store: record {key} already holds other bytes",
                            hint="a record is never overwritten; find out who wrote it")
                    return self._record_info(key)
                created = [p for p in path.parents if p != self.root and not p.exists()]
                path.parent.mkdir(parents=True, exist_ok=True)
                meta = self._meta_path(path)
                meta_tmp = tmp.with_suffix(".json")
                self._dump_meta(meta_tmp, info, {}, kind="evidock.local-record/1")
                if meta.exists():  # orphan from a crash before the data was linked
                    self._discard(meta)
                os.link(meta_tmp, meta)
                self._discard(meta_tmp)
                os.link(tmp, path)
                for directory in {path.parent, *created, *(c.parent for c in created)}:
                    _fsync_dir(directory)
            return info
        except OSError as exc:
            raise self._os_error(f"writing the record {key}", exc) from exc
        finally:
            self._discard(tmp)

    def _record_info(self, key: str) -> ObjectInfo:
        path = self._data_path(check_record_key(key))
        try:
            doc = json.loads(self._meta_path(path).read_text())
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise ObjectMissing(f"local store: no record {key}") from exc
        return ObjectInfo(key=key, size=size, sha256=doc["sha256"], legal_hold=False,
                          retain_until=datetime.fromisoformat(doc["retain_until"]),
                          lock_mode="LOCAL")

    def list_records(self, prefix: str) -> list[str]:
        top = self.root / RECORD_PREFIX
        if not top.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in top.rglob("*")
                if p.is_file() and p.suffix != ".json")
        return sorted(k for k in keys if k.startswith(prefix))

    def read_record(self, key: str) -> bytes:
        try:
            data = self._data_path(check_record_key(key)).read_bytes()
            info = self._record_info(key)
        except FileNotFoundError as exc:
            raise ObjectMissing(f"local store: no record {key}") from exc
        except (OSError, ValueError, KeyError) as exc:
            raise StoreError(f"local store: cannot read the record {key}: {exc}") from exc
        if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), info.sha256):
            raise IntegrityError(f"local store: the record {key} does not match the SHA-256 it "
                                 f"was written with ({info.sha256})",
                                 hint="the stored record changed: find out how")
        return data

    def list_objects(self) -> Iterator[ObjectInfo]:
        media = self.root / "media"
        for meta in sorted(media.rglob("*.json")) if media.exists() else ():
            key = meta.relative_to(self.root).as_posix()[:-len(".json")]
            try:
                yield self.stat(key)
            except ObjectMissing:
                continue  # metadata whose data never arrived: recover() removes it
