"""Passwords of the review room's logins: scrypt (the standard library's ``hashlib.scrypt``).

A hash is ``scrypt$N$r$p$<salt>$<digest>`` (salt and digest base64): the cost travels with
it, so raising :data:`COST` later leaves old hashes checkable.  Checking compares in
constant time, and an unknown person or a person without a password costs one hash too, so
the time of a refused login does not say which part was wrong.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

#: N (CPU and memory cost: 16 MiB with r=8), r, p; about 50 ms on a station's CPU
COST = (2**14, 8, 1)
MIN_LENGTH = 10
_DUMMY = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=256 * n * r)


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    n, r, p = COST
    salt = os.urandom(16)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(_scrypt(password, salt, n, r, p))}"


def check_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (None: no password; still hashed once)."""
    global _DUMMY
    if stored is None:
        _DUMMY = _DUMMY or hash_password("x" * MIN_LENGTH)
        stored, known = _DUMMY, False
    else:
        known = True
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        found = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(found, base64.b64decode(digest)) and known
