"""Standard Webhooks signatures, as OpenAI signs its webhooks (realtime-protocol.md §8): pure code.

The mock signs `realtime.call.incoming` with `sign_webhook`; `inspector attach --webhook` checks
what it receives with `verify_webhook`. Both follow the scheme the openai SDK's
`client.webhooks.unwrap` checks (the tests hold them to it): headers `webhook-id`,
`webhook-timestamp` and `webhook-signature` = `v1,<base64 HMAC-SHA256>` (several may be listed,
space-separated) over `id.timestamp.body`, keyed with the base64 part of `whsec_…`, and
timestamps more than 5 minutes away from now refused (a replayed old delivery).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["TOLERANCE_S", "WebhookError", "incoming_call_id", "sign_webhook", "verify_webhook"]

TOLERANCE_S = 300


class WebhookError(ValueError):
    """Why a delivery was refused (it goes to a log line and the 400 body, never the secret)."""


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except binascii.Error:
            raise WebhookError("the webhook secret is not whsec_ followed by base64") from None
    return secret.encode()


def _signature(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign_webhook(body: bytes, secret: str, *, webhook_id: str, timestamp: int) -> dict[str, str]:
    """The three headers that make `body` a signed delivery."""
    stamp = str(timestamp)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + _signature(_key(secret), webhook_id, stamp, body),
    }


def verify_webhook(
    body: bytes, headers: Mapping[str, str], secret: str, *, now: float, tolerance: int = TOLERANCE_S
) -> None:
    """Raise `WebhookError` unless `body` carries a valid, fresh signature. `headers` keys are
    lower-case."""
    webhook_id, stamp, signatures = (headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not webhook_id or not stamp or not signatures:
        raise WebhookError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookError("webhook-timestamp is not a number") from None
    if now - timestamp > tolerance:
        raise WebhookError("webhook-timestamp is too old (a replayed delivery?)")
    if timestamp - now > tolerance:
        raise WebhookError("webhook-timestamp is in the future")
    expected = _signature(_key(secret), webhook_id, stamp, body)
    offered = [part.removeprefix("v1,") for part in signatures.split()]
    if not any(hmac.compare_digest(expected, sig) for sig in offered):
        raise WebhookError("webhook-signature does not match")


def incoming_call_id(body: bytes) -> str | None:
    """The call id of a `realtime.call.incoming` event; None for any other event."""
    try:
        event: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise WebhookError("the body is not JSON") from None
    if not isinstance(event, dict) or event.get("type") != "realtime.call.incoming":
        return None
    data = event.get("data")
    call_id = data.get("call_id") if isinstance(data, dict) else None
    if not isinstance(call_id, str) or not call_id:
        raise WebhookError("realtime.call.incoming without data.call_id")
    return call_id
