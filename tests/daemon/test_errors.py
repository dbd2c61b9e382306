"""The error table: every class has its action, exit code and whether it counts towards a
file's attempts; no error class lives outside errors.py; ingest follows the table."""

from __future__ import annotations

import ast
import inspect
import os
from pathlib import Path

import pytest

from evidock.daemon import errors
from evidock.daemon.errors import (
    TABLE,
    Action,
    EvidockError,
    ExitCode,
    IntegrityError,
    SourceChanged,
    StoreMisconfigured,
    StoreUnavailable,
)

from .test_ingest import found, parts  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]


def test_every_error_class_in_errors_py_has_a_row_in_the_table():
    classes = {c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, EvidockError)}
    assert classes == set(TABLE)
    for cls, rule in TABLE.items():
        assert (rule.action, rule.exit_code, rule.counts) == (cls.action, cls.exit_code,
                                                              cls.counts)


def test_no_error_class_is_declared_outside_errors_py():
    found_outside = []
    for folder in ("daemon", "drivers"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "errors.py" and path.parent.name == "daemon":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef) and any(
                        getattr(b, "id", getattr(b, "attr", "")).endswith(("Error", "Exception"))
                        for b in node.bases):
                    found_outside.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert [] == found_outside


def test_exit_codes_are_the_documented_ones():
    assert (1, 2, 3, 4, 5, 6, 130) == (ExitCode.FAILED, errors.ConfigError.exit_code,
                                       errors.LedgerError.exit_code, errors.NotFound.exit_code,
                                       ExitCode.VERIFY_FAILED,
                                       errors.CaseImportError.exit_code, ExitCode.INTERRUPTED)


def test_a_yanked_device_and_the_stores_trouble_never_count_a_files_own_faults_do():
    assert not errors.SourceVanished.counts
    assert not any(c.counts for c in (errors.StoreError, StoreUnavailable, StoreMisconfigured,
                                      errors.LedgerError))
    assert all(c.counts for c in (errors.SizeMismatch, SourceChanged, IntegrityError,
                                  errors.UnsafeSource))
    assert Action.STOP is StoreMisconfigured.action is errors.LedgerError.action


class Raising:
    """A store whose put fails with ``exc``; the rest of the store is not reached."""

    name = "raising"

    def __init__(self, exc):
        self.exc = exc

    def put(self, stream, **kw):
        stream.read()
        raise self.exc


@pytest.mark.parametrize("exc, after, quarantined", [
    (StoreUnavailable("local store: No space left on device"), 6, False),
    (StoreMisconfigured("S3: InvalidAccessKeyId"), 6, False),
    (IntegrityError("the store reports other digests"), 3, True),
])
def test_only_a_files_own_faults_use_up_its_attempts(parts, exc, after, quarantined):  # noqa: F811
    ledger, store, ingestor, device = parts  # max_attempts 3
    ingestor.store = Raising(exc)
    media, item = found(ledger, device, "a.mp4", os.urandom(10_000))
    outcomes = [ingestor.ingest(ledger.media(media.id), item) for _ in range(after)]
    assert quarantined == (outcomes[-1].state == "quarantined")
    assert all(o.state == "failed" for o in outcomes[:-1])
    assert exc.action.value == outcomes[0].action
