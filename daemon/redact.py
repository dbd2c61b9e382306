"""Secrets out of everything people and the append-only ledger see.

A webhook URL can carry a password (``https://user:pw@host/``) or a token in its query
(DingTalk ``?access_token=``, WeCom ``?key=``, many others ``?token=``).  Whatever text may
reach the ledger (where nothing can ever be removed), the log or the screen goes through
:func:`redact_text` first, and :func:`redact_url` is how a configured URL is shown.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "****"

#: query parameters that carry a credential (lower case); a parameter whose name contains
#: "token", "secret", "password" or "signature" is masked too
SECRET_PARAMS = {"access_token", "token", "key", "secret", "sign", "signature", "password",
                 "passwd", "pwd", "apikey", "api_key", "auth", "sig", "code"}
_SECRET_PARTS = ("token", "secret", "passw", "signature", "apikey", "api_key")

_URL = re.compile(r"""[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'"<>]+""")


def _secret_param(name: str) -> bool:
    name = name.lower()
    return name in SECRET_PARAMS or any(part in name for part in _SECRET_PARTS)


def redact_url(url: str) -> str:
    """``url`` with its password (or lone user token) and secret query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL after all (a bracket in the host): mask all after scheme
        scheme, sep, _ = url.partition("://")
        return f"{scheme}{sep}{MASK}" if sep else url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_param(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _secret_param(k) else v) for k, v in pairs],
                              safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Every URL inside ``text`` (an error message, a log value) redacted."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def redact_values(node):
    """Strings inside dicts and lists, redacted (log events, ledger event data)."""
    if isinstance(node, str):
        return redact_text(node)
    if isinstance(node, dict):
        return {k: redact_values(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return type(node)(redact_values(v) for v in node)
    return node


def url_secrets(url: str) -> list[str]:
    """The secret strings inside ``url`` (password, lone user token, secret query values),
    so that an error quoting one outside the URL (``nonnumeric port: 'pw@host'``) can be
    scrubbed too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url.partition("://")[2]] if "://" in url else []
    found = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        user, colon, password = userinfo.partition(":")
        found.append(password if colon else user)
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True)
              if _secret_param(k) and v]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with URLs redacted and each of ``secrets`` masked wherever it appears."""
    text = redact_text(text)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
