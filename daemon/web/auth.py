"""Logins of the review room: the session key, signed cookie sessions, CSRF and login limits.

The session is Starlette's signed cookie (itsdangerous): it holds only the person's badge,
a CSRF token and the recordings whose view was logged; who the person is and what their
role allows is read from the registry again at every request, so a role changed or a
person retired takes effect at their next click.  The key that signs the cookies is made
once and kept in the data directory (``web-session.key``, mode 0600): restarting the daemon
keeps people logged in, and removing the file logs everyone out.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import deque
from pathlib import Path

from starlette.middleware.sessions import SessionMiddleware

KEY_FILE = "web-session.key"
COOKIE = "evidock_review"
SESSION_SECONDS = 8 * 3600  # one working shift


def session_key(data_dir: Path) -> str:
    """The key that signs the session cookies, made on first use (mode 0600).  It is
    written whole to a temporary name and linked into place, so a crash never leaves an
    empty key that every cookie would then be signed with; one that is not a key stops the
    review room (the daemon says so and ingest goes on)."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 64 or not all(c in "0123456789abcdef" for c in key):
        raise ValueError(f"{path} is not a session key (64 hex digits): remove it, and a new "
                         "one is made at the next start (everyone logs in again)")
    return key


class Sessions:
    """ASGI middleware: the signed session cookie, ``Secure`` when the request came over
    https (uvicorn behind a TLS proxy sets the scheme), HttpOnly and SameSite=Strict always,
    and scoped to ``/review`` so the kiosk never sees it."""

    def __init__(self, app, *, secret: str) -> None:
        common = {"secret_key": secret, "session_cookie": COOKIE, "max_age": SESSION_SECONDS,
                  "same_site": "strict", "path": "/review"}
        self.plain = SessionMiddleware(app, https_only=False, **common)
        self.secure = SessionMiddleware(app, https_only=True, **common)

    async def __call__(self, scope, receive, send):
        https = scope["type"] == "http" and scope.get("scheme") == "https"
        await (self.secure if https else self.plain)(scope, receive, send)


def csrf_token(session: dict) -> str:
    """The session's CSRF token (made on first use): every form carries it back."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_ok(session: dict, given: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and given) and hmac.compare_digest(expected, given)


class Limiter:
    """At most ``attempts`` failed logins per ``window`` seconds per key (an address, a login
    name).  Only failures count: people of one station share its address (loopback, or the
    TLS proxy in front), and a guesser fails."""

    def __init__(self, attempts: int = 5, window: float = 60.0, clock=time.monotonic) -> None:
        self.attempts, self.window, self.clock = attempts, window, clock
        self.failed: dict[str, deque] = {}
        self.lock = threading.Lock()

    def wait(self, *keys: str) -> int | None:
        """Seconds until any of ``keys`` may try again, or None: it may now."""
        now = self.clock()
        wait = 0.0
        with self.lock:
            for key in keys:
                times = self.failed.get(key)
                while times and times[0] <= now - self.window:
                    times.popleft()
                if times is not None and not times:
                    del self.failed[key]  # forgotten once its window passed
                elif times is not None and len(times) >= self.attempts:
                    wait = max(wait, times[0] + self.window - now)
        return max(1, int(wait + 0.999)) if wait else None

    def fail(self, *keys: str) -> None:
        now = self.clock()
        with self.lock:
            for key in keys:
                self.failed.setdefault(key, deque()).append(now)
