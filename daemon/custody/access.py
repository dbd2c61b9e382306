"""Who may see what (R9) and access requests (R8): the check every reader of footage calls.

Use from a command or a web handler::

    custody = Custody(ledger, config.custody)
    person = custody.people.resolve("A1234")               # or resolve(None): the login
    visible, hidden = custody.visible(person, records)     # a listing: only a count is hidden
    media = custody.find(person, "deadbeef")               # a lookup: refused = not found
    rid = custody.request(person, "C-1", scope="view", purpose="review", media=None)
    custody.decide(approver, rid, approve=True, reason="ok")
    req = custody.authorize(person, rid, action="view", media_ids=[7])   # raises AccessDenied
    custody.record_use(person, req, action="view", media_ids=[7])

Every refusal is an ``access_refused`` event before the error is raised, so the access log
holds what was tried as well as what was done.  A recording's labels are its own sensitivity
and those of every case it is linked to; a person may see it when their clearance (their
role's labels plus their own) holds every one of them.
"""

from __future__ import annotations

from datetime import timedelta

from evidock.daemon.config import CustodyConfig
from evidock.daemon.custody.people import People, Person
from evidock.daemon.errors import AccessDenied, NotFound
from evidock.daemon.timeutil import parse, stamp

#: Roles that may ask for access to footage, decide on requests, read the access log.
REQUESTERS = ("officer", "archivist", "approver")
APPROVERS = ("approver",)
AUDITORS = ("auditor", "approver", "admin")
#: Roles that may link, unlink and mark recordings.
CURATORS = ("archivist", "approver")


class Custody:
    def __init__(self, ledger, config: CustodyConfig, people: People | None = None) -> None:
        self.ledger = ledger
        self.config = config
        self.people = people or People(ledger)

    # -- clearance ---------------------------------------------------------------------------

    def clearance(self, person: Person) -> frozenset[str]:
        return frozenset(self.config.clearance.get(person.role, [])) | set(person.clearance)

    def labels(self, media_id: int, *, all_labels: dict | None = None) -> set[str]:
        """The recording's labels (the unrestricted first label if it has none)."""
        found = (all_labels if all_labels is not None else self.ledger.media_labels()).get(
            media_id)
        return {self.config.aliases.get(x, x) for x in found} if found else {
            self.config.labels[0]}

    def may_see(self, person: Person, media_id: int, *, all_labels: dict | None = None) -> bool:
        return self.labels(media_id, all_labels=all_labels) <= self.clearance(person)

    def visible(self, person: Person | None, records: list) -> tuple[list, int]:
        """The records (anything with an ``id``) ``person`` may list, and how many others
        there are.  ``person`` None: custody is not in force yet (nobody registered)."""
        if person is None:
            return list(records), 0
        all_labels = self.ledger.media_labels()
        shown = [r for r in records if self.may_see(person, r.id, all_labels=all_labels)]
        hidden = len(records) - len(shown)
        if hidden:
            self.refused(person, "list", reason=f"{hidden} restricted recording(s) not shown",
                         log_only=True)
        return shown, hidden

    def find(self, person: Person | None, ref: str):
        """The recording ``ref`` names, if ``person`` may see it.  One they may not see is
        refused with the same words as a recording that does not exist, so a hash prefix
        tells nothing; the refusal is logged with the recording it hit."""
        if person is None:
            return self.ledger.find_media(ref)
        hidden = NotFound(f"no recording matches {ref!r} (or it is outside your clearance)",
                          hint="check the id or hash; ask an approver if you need "
                               "restricted footage")
        try:
            media = self.ledger.find_media(ref)
        except NotFound:
            raise hidden from None
        if not self.may_see(person, media.id):
            self.refused(person, "show", media_id=media.id, reason="no clearance for "
                         + ", ".join(sorted(self.labels(media.id) - self.clearance(person))))
            raise hidden
        return media

    def case_cleared(self, person: Person | None, case: dict | None) -> bool:
        """Whether ``person`` may see the case itself (its id, its record): its label is the
        unrestricted one or in their clearance.  None for either: nothing to hide."""
        if person is None or case is None:
            return True
        label = self.config.aliases.get(case["sensitivity"], case["sensitivity"])
        return label == self.config.labels[0] or label in self.clearance(person)

    def require_role(self, person: Person, roles: tuple[str, ...], action: str, *,
                     case_id: str | None = None) -> None:
        if person.role not in roles:
            reason = f"role {person.role} may not {action}; it takes one of {', '.join(roles)}"
            self.refused(person, action, case_id=case_id, reason=reason)
            raise AccessDenied(f"{person}: {reason}")

    def require_media(self, person: Person | None, media_ids: list[int], action: str, *,
                      case_id: str | None = None) -> None:
        """Refuse (logged) if any recording is outside the person's clearance."""
        if person is None:
            return
        all_labels = self.ledger.media_labels()
        for media_id in media_ids:
            if not self.may_see(person, media_id, all_labels=all_labels):
                missing = self.labels(media_id, all_labels=all_labels) - self.clearance(person)
                reason = f"no clearance for {', '.join(sorted(missing))}"
                self.refused(person, action, case_id=case_id, media_id=media_id, reason=reason)
                raise AccessDenied(f"{person} may not {action} recording {media_id}: {reason}",
                                   hint="an approver can give the clearance (`evidock people "
                                        "add ... --clearance LABEL`)")

    def refused(self, person: Person, action: str, *, reason: str, case_id: str | None = None,
                media_id: int | None = None, request_id: int | None = None,
                log_only: bool = False) -> None:
        """Write the refusal into the chain (``access_refused``)."""
        self.ledger.record("access_refused", f"person:{person.person_id}", {
            "person": person.person_id, "action": action, "case_id": case_id,
            "media_id": media_id, "request_id": request_id, "reason": reason,
            "listing": log_only})

    # -- requests ----------------------------------------------------------------------------

    def _case(self, case_id: str) -> dict:
        case = self.ledger.case(case_id)
        if case is None:
            raise NotFound(f"no case {case_id} in the ledger",
                           hint="import it first with `evidock cases import FILE`")
        return case

    def request(self, person: Person, case_id: str, *, scope: str, purpose: str,
                media: list[int] | None) -> int:
        """A pending request for ``scope`` (view or export) of the case's recordings
        (``media`` None: every recording linked to it); its id."""
        self._case(case_id)
        self.require_role(person, REQUESTERS, "request access", case_id=case_id)
        if scope not in ("view", "export"):
            raise ValueError(f"scope {scope!r}: view or export")
        if not purpose.strip():
            raise AccessDenied("an access request needs its purpose (--purpose TEXT)")
        linked = set(self.ledger.case_media(case_id))
        outside = sorted(set(media or []) - linked)
        if outside:
            raise AccessDenied(f"recording(s) {', '.join(map(str, outside))} are not linked "
                               f"to case {case_id}",
                               hint=f"link them first: evidock cases link {case_id} ...")
        return self.ledger.add_access_request({
            "case_id": case_id, "requested_by": person.person_id, "purpose": purpose,
            "scope": scope, "media": sorted(set(media)) if media else None})

    def decide(self, approver: Person, request_id: int, *, approve: bool, reason: str,
               days: float | None = None) -> dict:
        """Approve (valid ``days``, default ``approval_days``) or deny a pending request.
        Only an approver may, and never their own request."""
        req = self.ledger.access_request(request_id)
        verb = "approve" if approve else "deny"
        self.require_role(approver, APPROVERS, f"{verb} access requests",
                          case_id=req["case_id"])
        if req["requested_by"] == approver.person_id:
            reason_ = "an approver may not decide their own request"
            self.refused(approver, verb, case_id=req["case_id"], request_id=request_id,
                         reason=reason_)
            raise AccessDenied(f"request {request_id}: {reason_}",
                               hint="another approver (the agency head or a delegate) decides")
        expires = None
        if approve:
            expires = stamp(parse(self.ledger.now()) + timedelta(
                days=days if days is not None else self.config.approval_days))
        return self.ledger.decide_access_request(request_id, approve=approve,
                                                 by=approver.person_id, reason=reason,
                                                 expires_at=expires)

    def authorize(self, person: Person, request_id: int, *, action: str,
                  media_ids: list[int] | None = None) -> tuple[dict, list[int]]:
        """The request and the recordings it lets ``person`` ``action`` (view or export;
        an export request also allows viewing) now; each refusal logged and raised as
        ``AccessDenied``: not theirs, not approved, expired, wrong scope, a recording outside
        it, or outside their clearance."""
        req = self.ledger.access_request(request_id)
        case_id = req["case_id"]

        def refuse(reason: str, media_id: int | None = None):
            self.refused(person, action, case_id=case_id, request_id=request_id,
                         media_id=media_id, reason=reason)
            return AccessDenied(f"request {request_id} (case {case_id}): {reason}",
                                hint="file a new request: evidock access request "
                                     f"{case_id} --by YOU --purpose TEXT")

        if req["requested_by"] != person.person_id:
            raise refuse(f"it was made by {req['requested_by']}, not {person.person_id}")
        if req["state"] != "approved":
            raise refuse(f"it is {req['state']}" + (f" ({req['decision_reason']})"
                                                   if req["decision_reason"] else ""))
        if req["expires_at"] <= self.ledger.now():
            raise refuse(f"its approval expired at {req['expires_at']}")
        if action == "export" and req["scope"] != "export":
            raise refuse("it allows viewing only, not export")
        linked = self.ledger.case_media(case_id)
        allowed = [m for m in linked if req["media"] is None or m in req["media"]]
        wanted = allowed if media_ids is None else list(media_ids)
        for media_id in wanted:
            if media_id not in allowed:
                raise refuse(f"recording {media_id} is outside its scope", media_id)
        all_labels = self.ledger.media_labels()
        for media_id in wanted:
            if not self.may_see(person, media_id, all_labels=all_labels):
                missing = self.labels(media_id, all_labels=all_labels) - self.clearance(person)
                raise refuse(f"recording {media_id} needs clearance for "
                             f"{', '.join(sorted(missing))}", media_id)
        return req, wanted

    def standing_request(self, person: Person, media_id: int, *,
                         action: str = "view") -> int | None:
        """The id of one of ``person``'s approved, unexpired requests whose scope holds
        recording ``media_id`` for ``action`` (the newest), or None.  It only finds the
        request: the view or export itself still goes through :meth:`authorize`."""
        now = self.ledger.now()
        for req in reversed(self.ledger.access_requests()):
            if (req["requested_by"] != person.person_id or req["state"] != "approved"
                    or req["expires_at"] <= now
                    or (action == "export" and req["scope"] != "export")):
                continue
            if media_id in (req["media"] if req["media"] is not None
                            else self.ledger.case_media(req["case_id"])):
                return req["id"]
        return None

    def record_use(self, person: Person, req: dict, *, action: str, media_ids: list[int],
                   detail: dict | None = None) -> None:
        """A view (``access_viewed``) or an export (``case_exported``) under ``req``."""
        kind = "case_exported" if action == "export" else "access_viewed"
        self.ledger.record(kind, f"case:{req['case_id']}", {
            "person": person.person_id, "request_id": req["id"], "case_id": req["case_id"],
            "media_ids": media_ids, "approved_by": req["decided_by"], **(detail or {})})
