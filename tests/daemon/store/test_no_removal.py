"""Nothing in the stores removes bytes except the two places the contract names (base.py):
``LocalWormStore._discard`` (temporary data, for ``recover()`` and a failed put) and
``Spool.release`` / ``Spool.release_record`` (a spooled recording or ledger anchor, after
the final copy is proven).  The S3 doctor's probe is the one other
call: it *tries* to delete its own probe object to prove the credentials cannot."""

from __future__ import annotations

import ast
import os
from datetime import datetime
from pathlib import Path

import pytest

from evidock.daemon.errors import StoreError
from evidock.daemon.store.local import LocalWormStore

from .contract import StoreContract, reader

STORE = Path(__file__).resolve().parents[3] / "daemon" / "store"
REMOVERS = {"unlink", "remove", "rmtree", "rmdir", "remove_object", "remove_objects",
            "removedirs", "truncate", "delete", "delete_object"}
ALLOWED = {("local.py", "_discard"), ("spooldir.py", "release"), ("spooldir.py", "release_record"),
           ("s3_doctor.py", "probe_credentials")}


def removal_calls():
    for path in sorted(STORE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                    if name in REMOVERS:
                        yield path.name, func.name, node.lineno


def test_only_the_two_named_places_remove_anything():
    found = {(f, fn) for f, fn, _ in removal_calls()}
    assert found, "the scan found nothing: it no longer sees the stores' code"
    assert set() == found - ALLOWED


def test_no_store_offers_a_delete():
    from evidock.daemon.store.s3 import S3WormStore
    from evidock.daemon.store.spool import Spool, SpoolingStore

    for cls in (LocalWormStore, S3WormStore, SpoolingStore, Spool):
        assert [] == [n for n in ("delete", "remove", "remove_object") if hasattr(cls, n)]


def test_the_local_store_refuses_to_discard_a_stored_recording(tmp_path):
    store = LocalWormStore(tmp_path / "store")
    got = store.put(reader(os.urandom(1000)), retain_until=StoreContract().retain())
    for victim in (store.root / got.key, store.root / (got.key + ".json")):
        with pytest.raises(StoreError, match="not temporary data"):
            store._discard(victim)
    assert 1000 == store.stat(got.key).size
    assert isinstance(store.stat(got.key).retain_until, datetime)
