"""The review room (``/review``): archivists and approved viewers search, watch and link footage.

Everything a page shows or does goes through the custody check of the CLI
(:class:`~evidock.daemon.custody.access.Custody`), called exactly as the commands call it:
``visible`` for a search (restricted recordings are not listed, only logged as a count),
``find`` for a recording (one outside the person's clearance is "not found", and logged),
``request`` / ``decide`` for access requests, ``authorize`` + ``record_use`` for a view,
the case book's ``link`` for a link and the exporter for a bag.  The web adds no rule of
its own and loosens none.

A view of footage: the recording's page finds the person's approved request that covers it
(``standing_request``), authorizes the view and logs it (``access_viewed``) before the page
is sent, and marks the recording as viewed in the session.  The proxy, sprite sheet and
thumbnail index are served only to a session whose view was logged *and* whose request
still authorizes it at that request (an approval that expired stops the bytes at once).

Roles are checked on the server for every route (:meth:`Review.person`); a request without a
session is sent to the login page (a page) or answered 401 (anything else), the wrong role
is 403, and a state-changing request without the session's CSRF token is 403.
"""

from __future__ import annotations

import functools
import threading
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import structlog
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from evidock.daemon.custody.access import APPROVERS, AUDITORS, CURATORS, REQUESTERS, Custody
from evidock.daemon.custody.people import Person
from evidock.daemon.errors import (
    AccessDenied,
    EvidockError,
    LoginRequired,
    NotFound,
    StoreUnavailable,
)
from evidock.daemon.timeutil import parse
from evidock.daemon.web.auth import Limiter, csrf_ok, csrf_token

log = structlog.get_logger("evidock.web.review")

#: who may log in to the room at all; what each may do is checked per action below
ROOM = ("officer", "archivist", "approver", "auditor", "admin")
#: who may search and read recordings' facts (an admin manages people, not footage)
READERS = ("officer", "archivist", "approver", "auditor")
PAGE_SIZE = 25
STATES = ("seen", "copying", "stored", "verified", "failed", "superseded")


@dataclass
class ExportJob:
    id: int
    case_id: str
    request_id: int
    person_id: str
    bag: Path
    state: str = "running"  # running, done, failed
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    files: int = 0
    error: str = ""


def posted(handler):
    """A state-changing route: its form is read and its CSRF token checked on the event
    loop, then ``handler(self, request, form)`` runs in a worker thread like every other
    route of the room, so the ledger's queries and a login's scrypt never hold up the
    event loop (the kiosk's streams share it)."""
    @functools.wraps(handler)
    async def route(self, request: Request):
        data = await self.form(request)
        return await run_in_threadpool(handler, self, request, data)
    return route


class Review:
    """The room's handlers over the station's parts (from the composition root).  Routes
    are plain functions: Starlette runs them in its worker threads (the ledger gives each
    thread its own connection)."""

    def __init__(self, *, ledger, store, custody: Custody, cases, exporter, export_dir: Path,
                 templates, language: str, zone=None, limiter: Limiter | None = None) -> None:
        from evidock.daemon.cli.output import local_time

        self.ledger, self.store, self.custody = ledger, store, custody
        self.cases, self.exporter, self.export_dir = cases, exporter, Path(export_dir)
        self.templates, self.zone, self.language = templates, zone, language
        templates.env.filters["local"] = lambda text: local_time(text, zone)
        self.limiter = limiter or Limiter()
        self.jobs: dict[int, ExportJob] = {}
        self.jobs_lock = threading.Lock()

    # -- who asks ----------------------------------------------------------------------------

    def person(self, request: Request, roles: tuple[str, ...] = READERS,
               action: str = "use the review room") -> Person:
        """The logged-in person, read from the registry now, if their role is in ``roles``
        (a refusal is logged, as the CLI logs it)."""
        person_id = request.session.get("person")
        if not person_id:
            raise LoginRequired
        row = self.ledger.person(person_id)
        if row is None:
            request.session.clear()
            raise LoginRequired
        person = Person.from_row(row)
        if not person.active:
            request.session.clear()
            raise LoginRequired
        self.custody.require_role(person, roles, action)
        return person

    async def form(self, request: Request) -> dict:
        """The posted form, after its CSRF token is checked (403 without it)."""
        data = await request.form()
        given = data.get("csrf") or request.headers.get("x-csrf-token")
        if not csrf_ok(request.session, given):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page")
        return {k: v for k, v in data.items() if isinstance(v, str)}

    def render(self, request: Request, name: str, status: int = 200, **context):
        person_id = request.session.get("person")
        row = self.ledger.person(person_id) if person_id else None
        response = self.templates.TemplateResponse(request, name, {
            "request": request, "csrf": csrf_token(request.session), "lang": self.language,
            "me": Person.from_row(row) if row else None, **context}, status_code=status)
        # nothing of a recording stays in the browser's cache after the person logs out
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- login -------------------------------------------------------------------------------

    def login_page(self, request: Request):
        return self.render(request, "review/login.html", next=_safe_next(
            request.query_params.get("next")))

    @posted
    def login(self, request: Request, data: dict):
        who, password = data.get("who", "").strip(), data.get("password", "")
        address = request.client.host if request.client else "?"
        keys = (f"addr:{address}", f"user:{who.casefold()}")
        wait = self.limiter.wait(*keys)
        if wait is not None:  # refused before the password is even looked at
            log.warning("review_login_limited", address=address, who=who)
            response = self.render(request, "review/login.html", status=429, limited=True,
                                   next=_safe_next(data.get("next")))
            response.headers["Retry-After"] = str(wait)
            return response
        person = self.custody.people.authenticate(who, password)
        if person is None or person.role not in ROOM:
            self.limiter.fail(*keys)
            log.info("review_login_refused", address=address, who=who)
            return self.render(request, "review/login.html", status=401, failed=True,
                               next=_safe_next(data.get("next")))
        request.session.clear()  # a new session (and CSRF token) for the person
        request.session.update({"person": person.person_id, "viewed": []})
        log.info("review_login_succeeded", address=address, person=person.person_id)
        return RedirectResponse(_safe_next(data.get("next")), status_code=303)

    @posted
    def logout(self, request: Request, data: dict):
        request.session.clear()
        return RedirectResponse("/review/login", status_code=303)

    # -- search ------------------------------------------------------------------------------

    def search(self, request: Request):
        person = self.person(request, READERS + ("admin",))
        if person.role == "admin":  # an admin's room: nothing of the footage
            return self.render(request, "review/admin.html")
        q = {k: request.query_params.get(k, "").strip() for k in
             ("officer", "device", "case", "since", "until", "state", "hash")}
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        error, rows, hidden = "", [], 0
        try:
            rows, hidden = self._search(person, q)
        except (NotFound, ValueError) as exc:
            error = getattr(exc, "message", None) or str(exc)
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page = min(page, pages)
        shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        link = {k: v for k, v in q.items() if v}
        return self.render(request, "review/search.html", q=q, rows=shown, total=len(rows),
                           names=self._officer_names(),
                           hidden=hidden, page=page, pages=pages, states=STATES, error=error,
                           prev_url=f"/review?{urlencode({**link, 'page': page - 1})}",
                           next_url=f"/review?{urlencode({**link, 'page': page + 1})}")

    def _officer_names(self) -> dict[str, str]:
        """Officers' names by badge, from the device register (as the kiosk shows them)."""
        return {d.officer_id: d.officer_name for d in self.ledger.devices()
                if d.officer_id and d.officer_name}

    def _search(self, person: Person, q: dict) -> tuple[list, int]:
        if q["hash"]:
            return [self.custody.find(person, q["hash"])], 0
        if q["state"] and q["state"] not in STATES:
            raise ValueError(f"unknown state {q['state']!r}")
        rows = self.ledger.list_media(
            device=q["device"] or None, officer=q["officer"] or None,
            since=parse(q["since"]) if q["since"] else None,
            until=parse(q["until"]) if q["until"] else None, state=q["state"] or None)
        if q["case"]:
            linked = set(self.ledger.case_media(q["case"]))
            rows = [m for m in rows if m.id in linked]
        return self.custody.visible(person, rows)

    # -- one recording -----------------------------------------------------------------------

    def _media(self, request: Request, person: Person):
        try:
            media_id = int(request.path_params["media_id"])
        except ValueError:
            raise HTTPException(404) from None
        return self.custody.find(person, f"id:{media_id}")

    def recording(self, request: Request):
        person = self.person(request)
        media = self._media(request, person)
        derivatives = {d["kind"]: d for d in self.ledger.derivatives(media_id=media.id)
                       if d["state"] == "done"}
        events = list(self.ledger.events(subject=f"media:{media.id}"))
        if "proxy" not in derivatives and "recovered_proxy" in derivatives:
            derivatives["proxy"] = derivatives["recovered_proxy"]  # a cut file's review copy
        rid = self.custody.standing_request(person, media.id)
        viewing = False
        if rid is not None and "proxy" in derivatives:
            req, ids = self.custody.authorize(person, rid, action="view", media_ids=[media.id])
            self.custody.record_use(person, req, action="view", media_ids=ids,
                                    detail={"via": "review room"})
            viewed = [v for v in request.session.get("viewed", []) if v != media.id]
            request.session["viewed"] = [*viewed[-49:], media.id]
            viewing = True
        mine = [r for r in self.ledger.access_requests()
                if r["requested_by"] == person.person_id and r["state"] == "pending"
                and media.id in (r["media"] or self.ledger.case_media(r["case_id"]))]
        # every case it is linked to holds a label the person's clearance holds (find
        # let them see the recording), so none of these cases is hidden from them
        links = self.ledger.media_links(media.id)
        return self.render(request, "review/recording.html", m=media, events=events,
                           links=links, derivatives=derivatives, viewing=viewing,
                           names=self._officer_names(),
                           request_id=rid, pending=mine,
                           labels=sorted(self.custody.labels(media.id)),
                           cases=[c for c in self.ledger.cases()
                                  if self.custody.case_cleared(person, c)],
                           may_link=person.role in CURATORS,
                           may_request=person.role in REQUESTERS)

    @posted
    def request_access(self, request: Request, data: dict):
        person = self.person(request, REQUESTERS, "request access")
        media = self._media(request, person)
        rid = self.custody.request(person, data.get("case", ""), scope=data.get("scope",
                                   "view"), purpose=data.get("purpose", ""), media=[media.id])
        log.info("review_access_requested", person=person.person_id, request_id=rid)
        return RedirectResponse(f"/review/media/{media.id}", status_code=303)

    @posted
    def link(self, request: Request, data: dict):
        person = self.person(request, CURATORS, "link recordings")
        media = self._media(request, person)
        case_id, note = data.get("case", "").strip(), data.get("note", "").strip()
        case = self.ledger.case(case_id)
        if case is None:
            raise NotFound(f"no case {case_id} in the ledger")
        if not note:
            raise HTTPException(400, "a link needs its note (what the recording shows)")
        self.custody.require_media(person, [media.id], "link", case_id=case_id)
        if not self.custody.case_cleared(person, case):  # as `evidock cases link`
            self.custody.refused(person, "link", case_id=case_id,
                                 reason="no clearance for the case")
            raise AccessDenied(f"{person} may not link to case {case_id}: no clearance for "
                               "its sensitivity")
        kind = "candidate" if data.get("kind") == "candidate" else "evidence"
        self.cases.link(case_id, [media.id], kind=kind, note=note, by=person.person_id)
        return RedirectResponse(f"/review/media/{media.id}", status_code=303)

    # -- footage bytes -----------------------------------------------------------------------

    def _footage(self, request: Request, kind: str):
        """The derivative ``kind`` of the recording, for a session whose view was logged and
        whose request authorizes it now."""
        person = self.person(request)
        media = self._media(request, person)
        rid = self.custody.standing_request(person, media.id)
        if rid is None or media.id not in request.session.get("viewed", []):
            self.custody.refused(person, "view", media_id=media.id,
                                 reason="no logged view under an approved request")
            raise AccessDenied(f"{person} has no approved view of recording {media.id}")
        self.custody.authorize(person, rid, action="view", media_ids=[media.id])
        done = [d for d in self.ledger.derivatives(media_id=media.id) if d["state"] == "done"]
        rows = [d for d in done if d["kind"] == kind]
        if not rows and kind == "proxy":  # a battery-cut file: its recovered copy's proxy
            rows = [d for d in done if d["kind"] == "recovered_proxy"]
        if not rows:
            raise HTTPException(404)
        return rows[-1]

    def _send(self, request: Request, row: dict, media_type: str):
        key, headers = row["object_key"], {"Cache-Control": "private, no-store"}
        local = getattr(self.store, "local_path", None)
        path = local(key) if local is not None else None
        if path is not None:  # a file (local store, or still in the spool): Starlette's ranges
            return FileResponse(path, media_type=media_type, headers=headers)
        # an object in S3: one span per request, fetched alone, so a player seeks at once
        size = row["size"] if row.get("size") is not None else self.store.stat(key).size
        headers["Accept-Ranges"] = "bytes"
        try:
            span = byte_range(request.headers.get("range"), request.headers.get("if-range"),
                              size)
        except ValueError:
            return Response(status_code=416, headers={**headers,
                                                      "Content-Range": f"bytes */{size}"})
        start, end = span or (0, size)
        if span:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        headers["Content-Length"] = str(end - start)
        # opened here, so a store that is away answers 503 before any header is sent
        body = self.store.open(key, offset=start, length=end - start) if end > start else None

        def chunks():
            if body is None:
                return
            with body:
                while block := body.read(1 << 20):
                    yield block
        # the background close also covers a player that went away before the first chunk
        return StreamingResponse(chunks(), status_code=206 if span else 200,
                                 media_type=media_type, headers=headers,
                                 background=BackgroundTask(body.close) if body else None)

    def proxy(self, request: Request):
        return self._send(request, self._footage(request, "proxy"), "video/mp4")

    def poster(self, request: Request):
        return self._send(request, self._footage(request, "poster"), "image/jpeg")

    def sprite(self, request: Request):
        return self._send(request, self._footage(request, "sprite"), "image/jpeg")

    def thumbnails(self, request: Request):
        row = self._footage(request, "sprite_vtt")
        with self.store.open(row["object_key"]) as f:
            text = f.read().decode("utf-8")
        # the index names the sheet beside it: sprite.jpg, here under the same recording
        return Response(text, media_type="text/vtt",
                        headers={"Cache-Control": "private, no-store"})

    # -- access requests ---------------------------------------------------------------------

    def requests_page(self, request: Request):
        person = self.person(request)
        everyone = self.ledger.access_requests()
        mine = [r for r in everyone if r["requested_by"] == person.person_id]
        pending = ([r for r in everyone if r["state"] == "pending"
                    and r["requested_by"] != person.person_id]
                   if person.role in APPROVERS else [])
        return self.render(request, "review/requests.html", mine=mine, pending=pending,
                           now=self.ledger.now())

    @posted
    def decide(self, request: Request, data: dict):
        person = self.person(request, APPROVERS, "decide access requests")
        approve = data.get("decision") == "approve"
        reason = data.get("reason", "").strip()
        if not approve and not reason:
            raise HTTPException(400, "a denial needs its reason")
        self.custody.decide(person, int(request.path_params["request_id"]), approve=approve,
                            reason=reason)
        return RedirectResponse("/review/requests", status_code=303)

    # -- exports -----------------------------------------------------------------------------

    def exports_page(self, request: Request):
        person = self.person(request, REQUESTERS, "export footage")
        now = self.ledger.now()
        usable = [r for r in self.ledger.access_requests()
                  if r["requested_by"] == person.person_id and r["state"] == "approved"
                  and r["scope"] == "export" and r["expires_at"] > now]
        with self.jobs_lock:  # running and failed here; a finished one is the ledger's
            jobs = [j for j in self.jobs.values()
                    if j.person_id == person.person_id and j.state != "done"]
        # every bag this person exported, from the ledger: a restart forgets nothing done
        for e in self.ledger.access_events():
            if e["kind"] == "case_exported" and e["person"] == person.person_id:
                bag = self.export_dir / e.get("bag", "")
                jobs.append(ExportJob(0, e["case_id"], e["request_id"], person.person_id,
                                      bag if e.get("bag") and bag.is_dir()
                                      else Path(e.get("bag", "")), state="done",
                                      started_at=e["at"], files=len(e.get("files", []))))
        return self.render(request, "review/exports.html", usable=usable,
                           jobs=sorted(jobs, key=lambda j: j.started_at, reverse=True))

    @posted
    def start_export(self, request: Request, data: dict):
        person = self.person(request, REQUESTERS, "export footage")
        try:
            rid = int(data.get("request", ""))
        except ValueError:
            raise HTTPException(400, "choose an approved export request") from None
        # refused here, before the job starts: not theirs, not approved, expired, view only
        req, _ = self.custody.authorize(person, rid, action="export")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        with self.jobs_lock:
            job = ExportJob(len(self.jobs) + 1, req["case_id"], rid, person.person_id,
                            self.export_dir / f"{req['case_id']}-r{rid}-{stamp}")
            self.jobs[job.id] = job
        threading.Thread(target=self._export, args=(person, job), name=f"export-{job.id}",
                         daemon=True).start()
        return RedirectResponse("/review/exports", status_code=303)

    def _export(self, person: Person, job: ExportJob) -> None:
        """The export thread: its top catches, so a failure is shown and logged, never lost."""
        try:
            result = self.exporter.export(person, job.request_id, job.bag)
            job.files, job.state = result.files, "done"
        except Exception as exc:  # noqa: BLE001 - the job's top: the page shows the failure
            job.error = getattr(exc, "message", None) or str(exc)
            job.state = "failed"
            log.error("review_export_failed", case_id=job.case_id, request_id=job.request_id,
                      error=job.error, trace=traceback.format_exc(limit=3))

    # -- the access log ----------------------------------------------------------------------

    def access_log(self, request: Request):
        self.person(request, AUDITORS, "read the access log")
        events = list(reversed(self.ledger.access_events()))[:500]
        return self.render(request, "review/log.html", events=events)

    # -- wiring ------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route("/review", self.search, name="review"),
            Route("/review/login", self.login_page, methods=["GET"]),
            Route("/review/login", self.login, methods=["POST"]),
            Route("/review/logout", self.logout, methods=["POST"]),
            Route("/review/media/{media_id}", self.recording, methods=["GET"]),
            Route("/review/media/{media_id}/request", self.request_access, methods=["POST"]),
            Route("/review/media/{media_id}/link", self.link, methods=["POST"]),
            Route("/review/media/{media_id}/proxy.mp4", self.proxy, methods=["GET"]),
            Route("/review/media/{media_id}/poster.jpg", self.poster, methods=["GET"]),
            Route("/review/media/{media_id}/sprite.jpg", self.sprite, methods=["GET"]),
            Route("/review/media/{media_id}/thumbnails.vtt", self.thumbnails, methods=["GET"]),
            Route("/review/requests", self.requests_page, methods=["GET"]),
            Route("/review/requests/{request_id:int}/decide", self.decide, methods=["POST"]),
            Route("/review/exports", self.exports_page, methods=["GET"]),
            Route("/review/exports", self.start_export, methods=["POST"]),
            Route("/review/access-log", self.access_log, methods=["GET"]),
        ]

    def handlers(self) -> dict:
        async def login_required(request: Request, exc):
            if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                target = urlencode({"next": request.url.path})
                return RedirectResponse(f"/review/login?{target}", status_code=303)
            return Response("log in first: /review/login", status_code=401,
                            media_type="text/plain")

        async def refused(request: Request, exc: EvidockError):
            status = 404 if isinstance(exc, NotFound) else 403 if isinstance(
                exc, AccessDenied) else 503 if isinstance(exc, StoreUnavailable) else 400
            response = self.render(request, "review/error.html", status=status,
                                   status_code=status, message=exc.message)
            if status == 503:  # the footage is safe in the store; the player may try again
                response.headers["Retry-After"] = "30"
            return response

        async def http_error(request: Request, exc: HTTPException):
            if not request.url.path.startswith("/review"):  # the kiosk's own answers
                return Response(exc.detail, status_code=exc.status_code,
                                media_type="text/plain")
            return self.render(request, "review/error.html", status=exc.status_code,
                               status_code=exc.status_code, message=exc.detail)

        return {LoginRequired: login_required, EvidockError: refused,
                HTTPException: http_error}


def byte_range(header: str | None, if_range: str | None, size: int) -> tuple[int, int] | None:
    """The one span ``[start, end)`` a ``Range`` header asks of ``size`` bytes, or None for the
    whole object: no header, a form this room does not serve (several spans, other units), a
    malformed one, or an ``If-Range`` (S3 objects are sent without a validator to compare);
    RFC 9110 lets a server answer all of those with the whole object.  ValueError when no
    byte of the span is in the object (416)."""
    if not header or if_range is not None:
        return None
    unit, _, spec = header.partition("=")
    first, dash, last = (part.strip() for part in spec.partition("-"))
    if (unit.strip().lower() != "bytes" or "," in spec or not dash or not (first or last)
            or not all(part.isdigit() for part in (first, last) if part)):
        return None
    if not first:  # bytes=-N: the last N bytes
        start, end = max(0, size - int(last)), size if int(last) else 0
    else:
        start = int(first)
        if last and int(last) < start:
            return None
        end = min(int(last) + 1, size) if last else size
    if start >= end:
        raise ValueError(f"no byte of {header!r} is in an object of {size} bytes")
    return start, end


def _safe_next(target: str | None) -> str:
    """Only a path of the room itself: never an address elsewhere (an open redirect)."""
    if target and target.startswith("/review") and not target.startswith("//"):
        return target
    return "/review"
