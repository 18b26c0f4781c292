"""Credentials never reach a log line or an error message."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]*@")


def redact(text: str, *secrets: str | None) -> str:
    """Removes ``user:pass@`` from every URL in ``text`` and any given secret (also URL-quoted)."""
    out = _USERINFO.sub(r"\1***@", text)
    for s in secrets:
        if s:
            out = out.replace(s, "***").replace(quote(s, safe=""), "***")
    return out


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL with ``username``/``password`` put in (quoted); credentials already in the URL are kept when none
    are given separately."""
    if not username and not password:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = quote(username or "", safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


def url_secrets(url: str) -> tuple[str, ...]:
    """The password (and user) found in a URL, to redact them in texts that quote them without the URL."""
    parts = urlsplit(url)
    return tuple(x for x in (parts.password,) if x)
