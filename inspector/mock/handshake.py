"""What the service checks once the WebSocket is open, before `session.created`: pure code.

The real service accepts the upgrade first and refuses afterwards, with an `error` event and a
close code (realtime-protocol.md §1): a missing key closes with 3000, the beta header and a
missing model with 4000 (a `?call_id=` sideband needs none). Only the `/realtime` path itself is refused at the handshake (HTTP 404).
Azure stands apart (§8): some of its endpoints still speak the preview protocol, so there the
beta header admits a preview session (`Admission.preview`) instead of refusing it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from inspector.mock.outbox import Close
from inspector.mock.state_core import Flavor
from inspector.mock.validation import MockError

__all__ = ["Admission", "admit", "api_key", "choose_subprotocol", "is_realtime_path"]

KEY_SUBPROTOCOL = "openai-insecure-api-key."
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"  # browsers' way of sending `OpenAI-Beta`


def is_realtime_path(path: str) -> bool:
    """`/v1/realtime`, `/openai/realtime`, `/realtime`... any path ending in `/realtime`."""
    return urlsplit(path).path.rstrip("/").endswith("/realtime")


def choose_subprotocol(offered: Sequence[str]) -> str | None:
    """Select `realtime` when offered; never require one (the Python SDKs send none)."""
    return "realtime" if "realtime" in offered else None


@dataclass(frozen=True, slots=True)
class Admission:
    model: str | None = None
    error: MockError | None = None
    close: Close | None = None
    preview: bool = False  # the client declared the preview (beta) protocol
    call_id: str | None = None  # a socket of a call's session (see `calls`), not a session of its own
    primary: bool = False  # `mock_role=primary`: the call's stand-in for the WebRTC data channel


def api_key(path: str, headers: Mapping[str, str], subprotocols: Sequence[str]) -> str:
    """The key a client offers: Bearer auth, Azure's `api-key` header or query parameter, or the
    browsers' subprotocol; "" when there is none."""
    scheme, _, credentials = (headers.get("authorization") or "").strip().partition(" ")
    # Only Bearer carries an API key (`Basic ...` is no key). HTTP strips trailing spaces, so
    # an empty key arrives as a bare "Bearer", which partition turns into "".
    auth = credentials if scheme.lower() == "bearer" else ""
    query = parse_qs(urlsplit(path).query)
    keys = [auth.strip(), (headers.get("api-key") or "").strip(), *(query.get("api-key") or [])]
    keys += [p[len(KEY_SUBPROTOCOL) :] for p in subprotocols if p.startswith(KEY_SUBPROTOCOL)]
    return next((k for k in keys if k), "")


def admit(
    path: str,
    headers: Mapping[str, str],
    subprotocols: Sequence[str],
    *,
    require_key: bool,
    flavor: Flavor = "openai",
) -> Admission:
    """Decide whether a freshly opened connection may start a session, and in which protocol."""
    if require_key and not api_key(path, headers, subprotocols):
        return Admission(
            error=MockError(
                "invalid_api_key",
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            ),
            close=Close(3000, "invalid_api_key"),
        )
    preview = bool(headers.get("openai-beta")) or BETA_SUBPROTOCOL in subprotocols
    if preview and flavor == "openai":
        return Admission(
            error=MockError(
                "beta_api_shape_disabled",
                "The beta Realtime API shape is no longer supported. Remove the 'OpenAI-Beta: "
                "realtime=v1' header to use the GA Realtime API.",
            ),
            close=Close(4000, "beta_api_shape_disabled"),
        )
    query = parse_qs(urlsplit(path).query)
    call_id = (query.get("call_id") or [""])[0]
    if call_id:
        # A sideband joins the session its call already has: it names no model (§8).
        primary = (query.get("mock_role") or [""])[0] == "primary"
        return Admission(call_id=call_id, primary=primary, preview=preview)
    model = (query.get("model") or query.get("deployment") or [""])[0]
    if not model:
        return Admission(
            error=MockError("missing_model", "You must provide a model parameter.", "model"),
            close=Close(4000, "missing_model"),
        )
    return Admission(model=model, preview=preview)
