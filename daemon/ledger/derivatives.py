"""The derivative queue: one row per derivative of a handed-over recording (part of
SqliteLedger).

States, each change one chained event (FORMATS.md, "Derivatives"):

```
pending ──> running ──> done                 (done: a verified write-once object, final)
   ^           │ │
   └───────────┘ └──> failed                 (failed ──> pending only by `derivatives retry`)
 (done or failed ──> pending by `derivatives rebuild`: made again, the old object kept)
 (attempt failed with attempts left, or interrupted by a crash or a stop)
```

A derivative is queued only for a ``verified`` recording (its original is handed over), and
carries the original's hashes.  Every start counts an attempt, so a file that kills the
daemon mid-transcode is not tried for ever: ``recover_derivatives`` at start-up fails an
interrupted item whose attempts are used up instead of putting it back.
"""

from __future__ import annotations

from datetime import datetime

from evidock.daemon.errors import InvalidTransition, NotFound
from evidock.daemon.hashing import Digests
from evidock.daemon.timeutil import stamp

DERIVATIVE_STATES = ("pending", "running", "done", "failed")
_MOVES = {"pending": {"running"}, "running": {"done", "failed", "pending"},
          "failed": {"pending"}, "done": {"pending"}}  # done -> pending: only a rebuild


def _marks(values) -> str:
    return ",".join("?" * len(values))


class DerivativesMixin:
    def _derivative_row(self, conn, derivative_id: int, to: str):
        row = conn.execute("SELECT * FROM derivatives WHERE id = ?", (derivative_id,)).fetchone()
        if row is None:
            raise NotFound(f"no derivative {derivative_id} in the ledger",
                           hint="list them with `evidock derivatives list`")
        if to not in _MOVES[row["state"]]:
            raise InvalidTransition(
                f"derivative {derivative_id} ({row['kind']} of media {row['media_id']}) is "
                f"{row['state']}; it cannot become {to}")
        return row

    # -- queueing ----------------------------------------------------------------------------

    def underived(self, stores: list[str], kinds: dict[str, list[str]],
                  limit: int = 100) -> list[int]:
        """Verified recordings in these stores of a media kind in ``kinds`` (media kind ->
        derivative kinds) that lack one of their derivative rows: their ids."""
        stores = sorted(stores)
        wanted = [(mk, dk) for mk, dks in sorted(kinds.items()) for dk in dks]
        if not stores or not wanted:
            return []
        pairs = " OR ".join("(m.kind = ? AND NOT EXISTS (SELECT 1 FROM derivatives d WHERE "
                            "d.media_id = m.id AND d.kind = ?))" for _ in wanted)
        return [r["id"] for r in self._rows(
            f"SELECT m.id FROM media m WHERE m.state = 'verified' AND m.store IN "
            f"({_marks(stores)}) AND ({pairs}) ORDER BY m.id LIMIT ?",
            (*stores, *[v for pair in wanted for v in pair], limit))]

    def queue_derivatives(self, media_id: int, kinds: list[str]) -> list[int]:
        """One ``derivative_queued`` per kind the recording has no row for yet, in one
        transaction; returns the new ids (none: nothing appended).  Only a verified
        recording gets derivatives: anything else raises ``InvalidTransition``."""
        with self._transaction() as conn:
            media = conn.execute("SELECT state, blake3, sha256 FROM media WHERE id = ?",
                                 (media_id,)).fetchone()
            if media is None:
                raise NotFound(f"no recording {media_id} in the ledger")
            if media["state"] != "verified":
                raise InvalidTransition(
                    f"recording {media_id} is {media['state']}: derivatives are made only "
                    "of a handed-over (verified) original")
            have = {r["kind"] for r in conn.execute(
                "SELECT kind FROM derivatives WHERE media_id = ?", (media_id,)).fetchall()}
            made = []
            for kind in kinds:
                if kind in have:
                    continue
                derivative_id = self._next_id(conn, "derivatives")
                self._emit(conn, "derivative_queued", f"media:{media_id}", {
                    "derivative_id": derivative_id, "media_id": media_id, "kind": kind,
                    "source_blake3": media["blake3"], "source_sha256": media["sha256"],
                    "queued_at": self.now()})
                have.add(kind)
                made.append(derivative_id)
        return made

    # -- the state machine -------------------------------------------------------------------

    def start_derivative(self, derivative_id: int) -> int:
        """pending -> running (``derivative_started``); returns the attempt number."""
        with self._transaction() as conn:
            row = self._derivative_row(conn, derivative_id, "running")
            attempt = row["attempts"] + 1
            self._emit(conn, "derivative_started", f"media:{row['media_id']}", {
                "derivative_id": derivative_id, "media_id": row["media_id"],
                "attempt": attempt, "started_at": self.now()})
        return attempt

    def finish_derivative(self, derivative_id: int, digests: Digests, *, store: str,
                          object_key: str, retain_until: datetime,
                          detail: dict | None = None) -> None:
        """running -> done (``derivative_stored``): the object the store verified, and
        what its maker has to say (``detail``, e.g. the seconds a recovery recovered)."""
        with self._transaction() as conn:
            row = self._derivative_row(conn, derivative_id, "done")
            self._emit_stored(conn, row, digests, store=store, object_key=object_key,
                              retain_until=retain_until, detail=detail)

    def _emit_stored(self, conn, row, digests: Digests, *, store: str, object_key: str,
                     retain_until: datetime, detail: dict | None = None) -> None:
        data = {"derivative_id": row["id"], "media_id": row["media_id"], "store": store,
                "object_key": object_key, "blake3": digests.blake3, "sha256": digests.sha256,
                "size": digests.size, "retain_until": stamp(retain_until),
                "ended_at": self.now()}
        if detail is not None:
            data["detail"] = detail
        self._emit(conn, "derivative_stored", f"media:{row['media_id']}", data)

    def fail_derivative(self, derivative_id: int, error: str, *, give_up: bool) -> str:
        """running -> failed (``give_up``) or back to pending (``derivative_failed``, with
        ``retry``); returns the new state."""
        state = "failed" if give_up else "pending"
        with self._transaction() as conn:
            row = self._derivative_row(conn, derivative_id, state)
            self._emit(conn, "derivative_failed", f"media:{row['media_id']}", {
                "derivative_id": derivative_id, "media_id": row["media_id"],
                "error": error[:2000], "retry": not give_up, "ended_at": self.now()})
        return state

    def recover_derivatives(self, max_attempts: int) -> tuple[list[int], list[int]]:
        """After a crash or a stop, in one transaction: every ``running`` derivative goes
        back to pending (``derivative_interrupted``), or, when its attempts are used up,
        to failed (``derivative_failed``).  Returns (ids put back, ids failed)."""
        back, failed = [], []
        with self._transaction() as conn:
            for row in conn.execute("SELECT id, media_id, attempts FROM derivatives WHERE "
                                    "state = 'running' ORDER BY id").fetchall():
                if row["attempts"] >= max_attempts:
                    self._emit(conn, "derivative_failed", f"media:{row['media_id']}", {
                        "derivative_id": row["id"], "media_id": row["media_id"],
                        "error": f"interrupted during each of {row['attempts']} attempts (the "
                                 "daemon stopped or crashed while making it); not tried again",
                        "retry": False, "ended_at": self.now()})
                    failed.append(row["id"])
                else:
                    self._emit(conn, "derivative_interrupted", f"media:{row['media_id']}", {
                        "derivative_id": row["id"], "media_id": row["media_id"],
                        "ended_at": self.now()})
                    back.append(row["id"])
        return back, failed

    def retry_derivative(self, derivative_id: int, *, by: str) -> None:
        """failed -> pending with its attempts counted from zero (``derivative_retried``)."""
        with self._transaction() as conn:
            row = self._derivative_row(conn, derivative_id, "pending")
            self._emit(conn, "derivative_retried", f"media:{row['media_id']}", {
                "derivative_id": derivative_id, "media_id": row["media_id"], "by": by,
                "retried_at": self.now()})

    def rebuild_derivatives(self, since: str, *, by: str,
                            kinds: list[str] | None = None) -> list[int]:
        """Every done or failed derivative of a recording handed over at or after ``since``
        (optionally of these kinds) back to pending with attempts from zero, one
        ``derivative_rebuilt`` each, in one transaction; returns their ids.  The objects
        already made stay in the store (write-once); the new ones replace them in the row."""
        sql = ("SELECT d.id, d.media_id, d.state, d.object_key FROM derivatives d JOIN media m "
               "ON m.id = d.media_id WHERE d.state IN ('done', 'failed') AND m.ingested_at >= ?")
        params: list = [since]
        if kinds:
            sql += f" AND d.kind IN ({_marks(kinds)})"
            params += list(kinds)
        with self._transaction() as conn:
            rows = conn.execute(sql + " ORDER BY d.id", params).fetchall()
            for row in rows:
                self._emit(conn, "derivative_rebuilt", f"media:{row['media_id']}", {
                    "derivative_id": row["id"], "media_id": row["media_id"], "by": by,
                    "was": row["state"], "replaces": row["object_key"],
                    "rebuilt_at": self.now()})
        return [r["id"] for r in rows]

    # -- reads -------------------------------------------------------------------------------

    def derivative(self, derivative_id: int) -> dict:
        row = self._one("SELECT * FROM derivatives WHERE id = ?", (derivative_id,))
        if row is None:
            raise NotFound(f"no derivative {derivative_id} in the ledger")
        return dict(row)

    def derivatives(self, *, media_id: int | None = None, state: str | None = None,
                    limit: int | None = None) -> list[dict]:
        """Derivative rows (every column) in id order, optionally of one recording or state."""
        sql, params = "SELECT * FROM derivatives WHERE 1 = 1", []
        if media_id is not None:
            sql += " AND media_id = ?"
            params.append(media_id)
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [dict(r) for r in self._rows(sql, params)]

    def next_derivatives(self, limit: int) -> list[dict]:
        """Pending derivatives, oldest first, with their original's ``object_key``,
        ``store``, ``kind`` (as ``media_kind``), ``size`` (``media_size``) and
        ``retain_until`` (``media_retain_until``)."""
        return [dict(r) for r in self._rows(
            "SELECT d.*, m.object_key AS media_key, m.store AS media_store, m.kind AS "
            "media_kind, m.size AS media_size, m.retain_until AS media_retain_until "
            "FROM derivatives d JOIN media m ON m.id = d.media_id WHERE d.state = 'pending' "
            "ORDER BY d.id LIMIT ?", (limit,))]

    def derivative_counts(self) -> dict:
        """Rows per state (every state present, 0 if none) and the oldest pending item's
        ``queued_at`` (``oldest_pending``, None if none)."""
        counts = dict.fromkeys(DERIVATIVE_STATES, 0)
        for r in self._rows("SELECT state, COUNT(*) AS n FROM derivatives GROUP BY state"):
            counts[r["state"]] = r["n"]
        oldest = self._one("SELECT MIN(queued_at) AS t FROM derivatives WHERE state IN "
                           "('pending', 'running')")
        return {**counts, "oldest_pending": oldest["t"] if oldest else None}

    def derivative_keys(self) -> set[str]:
        """The object keys of every derivative made (for the store-to-ledger audit)."""
        return {r["object_key"] for r in self._rows(
            "SELECT object_key FROM derivatives WHERE object_key IS NOT NULL")}

