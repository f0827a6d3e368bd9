"""Secret redaction: what counts as a credential in headers, subprotocols, URLs and frames.

Pure code: no I/O. The store applies it to everything it writes (so that no writer can forget),
the tap to what it logs. Kept apart from `inspector.protocol`, which says what an event *is*.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "is_secret_header",
    "redact_bytes",
    "redact_headers",
    "redact_message",
    "redact_query",
    "redact_subprotocols",
    "redact_text",
    "redact_url",
]

REDACTED = "[REDACTED]"

# API keys (sk-..., sk-proj-...) and ephemeral client secrets (ek_...). Base64 audio never
# contains '-' or '_', so these cannot match inside audio payloads. A key may start right after
# a JSON escape in the raw text ("\nsk-..."), whose last character is a letter or digit.
_SECRET = r"(?:sk-[A-Za-z0-9_-]{16,}|ek_[A-Za-z0-9_-]{16,})"
_BEFORE_SECRET = r"(?:(?<![A-Za-z0-9_-])|(?<=\\[bfnrt])|(?<=\\u[0-9a-fA-F]{4}))"
_SECRET_RE = re.compile(_BEFORE_SECRET + _SECRET)
_SECRET_BYTES_RE = re.compile((_BEFORE_SECRET + _SECRET).encode())
# The same keys with any of their characters written as JSON escapes (`sk\u002dproj-…`): a JSON
# reader sees the key, so the raw text must lose it too. Only escapes of the key alphabet
# (- 0-9 A-Z _ a-z) count as key characters.
_KEY_CHAR_ESCAPE = r"\\u00(?:2[dD]|3[0-9]|4[1-9a-fA-F]|5[0-9aAfF]|6[1-9a-fA-F]|7[0-9aA])"
_ESCAPED_SECRET = (
    r"(?:(?:s|\\u0073)(?:k|\\u006[bB])(?:-|\\u002[dD])|(?:e|\\u0065)(?:k|\\u006[bB])(?:_|\\u005[fF]))"
    rf"(?:[A-Za-z0-9_-]|{_KEY_CHAR_ESCAPE}){{16,}}"
)
_ESCAPED_SECRET_RE = re.compile(_BEFORE_SECRET + _ESCAPED_SECRET)
_ESCAPED_SECRET_BYTES_RE = re.compile((_BEFORE_SECRET + _ESCAPED_SECRET).encode())
# Free text (errors, close reasons, log lines) may quote a URL: its credential parameters
# wherever they sit (a `#` before `?api-key=` puts them in the fragment) and its userinfo.
_QUERY_SECRET_RE = re.compile(
    r"(?i)((?:^|[?&#;\s'\"(])(?:api[-_]key|key|token|access_token|client_secret)=)([^&#\s'\")]+)"
)
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]*@")
# The credential headers: keys, and the organization and project ids that say whose
# account a key belongs to. OpenAI-Beta is kept: it says which protocol the session spoke.
_SECRET_HEADERS = {
    "authorization",
    "api-key",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "openai-organization",
    "openai-project",
}
_SECRET_QUERY_KEYS = {"api-key", "api_key", "key", "token", "access_token", "client_secret"}
# Browser clients put credentials into the subprotocol list as `<prefix>.<secret>`.
_SECRET_SUBPROTOCOL_PREFIXES = (
    "openai-insecure-api-key.",
    "openai-insecure-key.",
    "openai-organization.",
    "openai-project.",
)


def redact_text(text: str) -> str:
    """Replace anything shaped like an API key or ephemeral secret by the marker, also when some
    of its characters are JSON escapes. (The checks in front keep audio frames, which hold
    neither a key prefix nor a backslash, off the regular expressions.)"""
    if "\\u00" in text:
        return _ESCAPED_SECRET_RE.sub(REDACTED, text)
    if "sk-" not in text and "ek_" not in text:
        return text
    return _SECRET_RE.sub(REDACTED, text)


def redact_bytes(data: bytes) -> bytes:
    """`redact_text` for binary frames."""
    if b"\\u00" in data:
        return _ESCAPED_SECRET_BYTES_RE.sub(REDACTED.encode(), data)
    if b"sk-" not in data and b"ek_" not in data:
        return data
    return _SECRET_BYTES_RE.sub(REDACTED.encode(), data)


def redact_message(text: str) -> str:
    """Free text that may quote a URL or a frame (an exception's message, a close reason, a log
    line): key-shaped secrets, credential query parameters anywhere, and URL userinfo."""
    if "=" in text:
        text = _QUERY_SECRET_RE.sub(lambda m: m.group(1) + REDACTED, text)
    if "@" in text:
        text = _USERINFO_RE.sub(r"\1", text)
    return redact_text(text)


def is_secret_header(name: str) -> bool:
    return name.lower() in _SECRET_HEADERS


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers with credential values replaced; other values still scanned for key shapes.
    The subprotocol header carries browser keys of any shape (Azure keys are not `sk-`)."""
    out = []
    for name, value in headers:
        if is_secret_header(name):
            value = REDACTED
        elif name.lower() == "sec-websocket-protocol":
            value = ", ".join(redact_subprotocols([p.strip() for p in value.split(",")]))
        else:
            value = redact_text(value)
        out.append((name, value))
    return out


def redact_subprotocols(subprotocols: list[str]) -> list[str]:
    out = []
    for proto in subprotocols:
        prefix = next((p for p in _SECRET_SUBPROTOCOL_PREFIXES if proto.startswith(p)), None)
        out.append(prefix + REDACTED if prefix else redact_text(proto))
    return out


def redact_query(query: str) -> str:
    """A query string with credential parameters' values replaced."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    redacted = [(k, REDACTED if k.lower() in _SECRET_QUERY_KEYS else redact_text(v)) for k, v in pairs]
    return urlencode(redacted, safe="[]")


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # drop user:password@
    return urlunsplit((parts.scheme, netloc, parts.path, redact_query(parts.query), ""))
