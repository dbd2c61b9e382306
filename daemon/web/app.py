"""The kiosk page (``/station``) as a Starlette app: server-rendered tiles, live by SSE.

The page is rendered once with the tiles in it; ``/station/events`` then sends the tiles
again, rendered on the server, every second as a server-sent event, and a few lines of
JavaScript put them in place.  So every word comes from the templates and the catalogue
(:mod:`.i18n`), none from the script.  When the events stop (the daemon is down, the
network or the browser lost the connection) or the station's main loop stopped writing its
status, the page hides the tiles and says "station not running: do not undock": a green
tile is never left on the screen from before.

No login, on purpose: the screen is for whoever stands at the docks, so the page shows what
an officer may see of their own device -- name, badge, device, counts, sizes, state -- and
never a file name, a case or an error text (errors name files; the reason is a key worded
by the catalogue).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from evidock.daemon.tiles import tiles
from evidock.daemon.web.auth import Sessions
from evidock.daemon.web.i18n import Words

HERE = Path(__file__).parent
#: a status older than this means the daemon's main loop stopped: no tile can be trusted
STALE_SECONDS = 10.0
EVENT_SECONDS = 1.0


def _environment(words: Words) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True),  # names come from devices
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(words.translations, newstyle=True)
    return env


class Kiosk:
    """What the pages need: the daemon's latest status and the station's settings."""

    def __init__(self, status: Callable[[], Mapping | None], *, station_name: str,
                 language: str, slots: Mapping[str, str] | None = None,
                 stopping: threading.Event | None = None) -> None:
        self.status = status
        self.station_name = station_name
        self.words = Words(language)
        self.slots = dict(slots or {})
        self.stopping = stopping or threading.Event()
        self.templates = Jinja2Templates(env=_environment(self.words))

    def view(self) -> dict:
        status = self.status() or {}
        running = bool(status) and time.time() - status.get("updated", 0) < STALE_SECONDS
        doc = {**status, "running": running}
        return {"running": running, "paused": running and bool(status.get("paused")),
                "tiles": tiles(doc, self.slots) if running else []}

    def context(self, request: Request) -> dict:
        return {"request": request, "words": self.words, "lang": self.words.language,
                "station_name": self.station_name, **self.view()}

    async def page(self, request: Request):
        return self.templates.TemplateResponse(request, "station.html", self.context(request))

    async def fragment(self, request: Request):
        return self.templates.TemplateResponse(request, "_tiles.html", self.context(request))

    async def events(self, request: Request):
        template = self.templates.get_template("_tiles.html")

        async def stream():
            yield f"retry: {int(EVENT_SECONDS * 1000)}\n\n"
            while not self.stopping.is_set():
                context = self.context(request)
                html = template.render(context)
                yield ("event: tiles\ndata: " + json.dumps(
                    {"running": context["running"], "html": html}, ensure_ascii=False)
                    + "\n\n")
                await asyncio.sleep(EVENT_SECONDS)

        # one line per event: the SSE format is just that, Starlette streams it and
        # cancels the stream when the browser goes away
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})


async def to_station(request: Request):
    return RedirectResponse("/station")


#: the pages load only their own CSS, scripts and media, are never framed, post forms only
#: to themselves, and name no referrer
HEADERS = [(b"content-security-policy",
            b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
           (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


class SecurityHeaders:
    """ASGI middleware adding :data:`HEADERS` to every response (streams included, which
    Starlette's ``BaseHTTPMiddleware`` would buffer through a queue)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def make_app(kiosk: Kiosk, review=None, *, session_secret: str | None = None) -> Starlette:
    """The kiosk, and the review room (:mod:`.review`) when its parts are given; without
    them ``/review`` answers 503 and nothing of the footage is served."""
    routes = [
        Route("/", to_station),
        Route("/station", kiosk.page, name="station"),
        Route("/station/tiles", kiosk.fragment, name="tiles"),
        Route("/station/events", kiosk.events, name="events"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if review is None:
        routes += [Route("/review", review_off), Route("/review/{path:path}", review_off)]
        return Starlette(middleware=middleware, routes=routes)
    middleware.append(Middleware(Sessions, secret=session_secret))
    return Starlette(middleware=middleware, routes=routes + review.routes(),
                     exception_handlers=review.handlers())


async def review_off(request: Request):
    return PlainTextResponse("the review room is off on this station", status_code=503)
