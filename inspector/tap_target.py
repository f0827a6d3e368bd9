"""Which upstream URL a client's request target becomes, and which targets the tap refuses.

Pure code, kept out of `inspector.tap`: the check that stops a client from redirecting the
credentials it sends to another host deserves to be read (and tested) on its own.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["BadTarget", "upstream_url"]


class BadTarget(ValueError):
    """A request target the tap will not forward (anything but `/path?query`)."""


def upstream_url(upstream: str, target: str) -> str:
    """The upstream URL for a client's request target: the upstream's scheme and host, its path
    followed by the target's path, and the target's query.

    Only origin-form targets (RFC 9112 3.2.1: `/path?query`) are accepted. Appended as text, a
    target such as `@evil:443/v1` or `:x@evil/v1` would turn the upstream's host into userinfo
    and send the client's `Authorization` to another host; `//evil/v1` or `http://evil/` name
    another authority outright, and a `#` makes the rest of the query a fragment."""
    if not target.startswith("/") or target.startswith("//"):
        raise BadTarget("the request target must be a path (/path?query), not a URL or authority")
    if any(not "!" <= c <= "~" or c in "#\\" for c in target):
        raise BadTarget("the request target has a character not allowed there (#, \\, space or control)")
    parts = urlsplit(target)
    base = urlsplit(upstream)
    url = urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))
    if urlsplit(url).netloc != base.netloc:  # cannot happen after the checks above; cheap to keep
        raise BadTarget("the request target would change the upstream host")
    return url
