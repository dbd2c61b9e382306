"""``evidock ledger verify``: recompute the chain, then replay it against the tables.

Two checks, each naming the first entry that fails:

1. The chain: sequence numbers run 1, 2, 3 ... without gaps, each ``prev_hash`` is the hash
   of the event before, and each ``hash`` recomputes from its row.
2. The replay: the media table must be exactly what its events say (state, digests, store,
   key, retention).  A row edited behind the ledger's back, or a row with no history,
   shows up here even though the events themselves are intact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from evidock.daemon.ledger.chain import GENESIS, event_hash

#: Columns of ``media`` that events determine, and so that the replay checks.
CHECKED = ("device_serial", "source_path_raw", "size", "state", "blake3", "sha256", "store",
           "object_key", "retain_until", "deadline_at")


@dataclass
class Report:
    events: int = 0
    media: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _seen(row: dict, d: dict) -> None:
    row.update(device_serial=d["device_serial"], source_path_raw=d["source_path_raw"],
               size=d["size"], state="seen", deadline_at=d["deadline_at"])


def _stored(row: dict, d: dict) -> None:
    row.update(state="stored", **{k: d[k] for k in ("blake3", "sha256", "store", "object_key",
                                                    "retain_until")})


#: How each event kind changes a media row; modules that add media events register here.
MEDIA_REPLAY: dict[str, Callable[[dict, dict], None]] = {
    "media_seen": _seen,
    "attempt_started": lambda row, d: row.update(state="copying"),
    "media_stored": _stored,
    "media_verified": lambda row, d: row.update(state="verified"),
    "attempt_failed": lambda row, d: row.update(state="failed"),
    "attempt_interrupted": lambda row, d: row.update(state="seen"),
    "media_relocated": lambda row, d: row.update(
        store=d["store"], object_key=d["object_key"], retain_until=d["retain_until"]),
    "retention_extended": lambda row, d: row.update(retain_until=d["retain_until"]),
    "deadline_moved": lambda row, d: row.update(deadline_at=d["deadline_at"]),
}


def verify(conn) -> Report:
    """Check the chain and the replay; ``conn`` is a sqlite3 connection with Row factory."""
    report = Report()
    expected: dict[int, dict] = {}
    prev, want_seq = GENESIS, 1
    rows = conn.execute(
        "SELECT seq, at, station, kind, subject, data, prev_hash, hash FROM events ORDER BY seq")
    for ev in rows:
        report.events += 1
        where = f"event {ev['seq']} ({ev['kind']} {ev['subject']}, {ev['at']})"
        if ev["seq"] != want_seq:
            report.problems.append(f"{where}: expected sequence number {want_seq}: "
                                   f"events {want_seq}..{ev['seq'] - 1} are missing")
            return report
        if ev["prev_hash"] != prev:
            report.problems.append(f"{where}: does not chain to the event before it")
            return report
        digest = event_hash(ev["seq"], ev["at"], ev["station"], ev["kind"], ev["subject"],
                            ev["data"], ev["prev_hash"])
        if digest != ev["hash"]:
            report.problems.append(f"{where}: its content does not match its hash "
                                   "(the entry was altered)")
            return report
        prev, want_seq = ev["hash"], want_seq + 1
        apply = MEDIA_REPLAY.get(ev["kind"])
        if apply is not None and ev["subject"].startswith("media:"):
            media_id = int(ev["subject"].split(":", 1)[1])
            apply(expected.setdefault(media_id, {}), json.loads(ev["data"]))

    cols = ", ".join(CHECKED)
    for row in conn.execute(f"SELECT id, {cols} FROM media ORDER BY id"):
        report.media += 1
        want = expected.pop(row["id"], None)
        if want is None:
            report.problems.append(f"media {row['id']}: the row has no history in the events "
                                   "(inserted behind the ledger's back)")
            return report
        have = {c: row[c] for c in CHECKED}
        have["source_path_raw"] = bytes(have["source_path_raw"]).hex()
        for column in CHECKED:
            if column in want and want[column] != have[column]:
                report.problems.append(
                    f"media {row['id']}: column {column} is {have[column]!r} but the events "
                    f"say {want[column]!r} (the row was altered)")
                return report
    if expected:
        first = min(expected)
        report.problems.append(f"media {first}: recorded in the events but its row is missing "
                               "(deleted behind the ledger's back)")
    return report


def chain_head(conn) -> tuple[int, str]:
    row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return (row["seq"], row["hash"]) if row else (0, GENESIS)

