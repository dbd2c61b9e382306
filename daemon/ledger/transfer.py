"""``evidock ledger migrate --to postgres``: move a station's SQLite ledger into PostgreSQL.

The events are copied verbatim, in one transaction, into a PostgreSQL ledger that holds none
yet, and projected there by the same projectors, so the chain is the same chain (same
``seq``, same hashes, the same head the store's anchors name) and ``verify`` on the result
proves the tables.  The source is verified first and never changed; a source that does not
verify, or a target that already holds events, is refused and nothing is written.

Only events move: the alert outbox (webhook deliveries still owed) is bookkeeping outside the
chain, and is sent again by the checks that raised those alerts.  Moving a second station's
ledger into a shared ledger that already holds another's history would need every id in its
events renumbered, which would make it a different chain: that is refused (FORMATS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evidock.daemon.errors import LedgerError
from evidock.daemon.ledger.chain import GENESIS


@dataclass
class Moved:
    source: str
    target: str
    events: int = 0
    media: int = 0
    head: tuple[int, str] = (0, GENESIS)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "source": self.source, "target": self.target,
                "events": self.events, "media": self.media,
                "head": {"seq": self.head[0], "hash": self.head[1]}, "problems": self.problems}


def to_postgres(source, target) -> Moved:
    """Copy ``source`` (a verified SqliteLedger) into ``target`` (an empty PostgresLedger)."""
    from evidock.daemon.ledger.postgres import copy_events

    moved = Moved(str(source.path), target.where)
    before = source.verify()
    if not before.ok:
        raise LedgerError(f"ledger {source.path} does not verify, so it is not moved: "
                          f"{before.problems[0]}", hint="run 'evidock ledger verify' and "
                          "restore or rebuild the ledger first; nothing was written")
    if target.head() != (0, GENESIS):
        raise LedgerError(
            f"ledger {target.where} already holds {target.head()[0]} event(s): a station's "
            "ledger moves only into an empty one, as its first history",
            hint="point ledger.schema at a new schema for this station's history, or keep its "
                 "SQLite ledger as the archive of its past; nothing was written")
    with target._transaction() as conn:
        if conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]:
            raise LedgerError(f"ledger {target.where}: another station wrote first",
                              hint="nothing was written")
        moved.events = copy_events(conn, source.events())
    after = target.verify()
    moved.head, moved.media = after.head, after.media
    moved.problems = list(after.problems)
    if after.ok and after.head != before.head:
        moved.problems.append(f"the moved chain ends at {after.head}, the source at "
                              f"{before.head}")
    return moved
