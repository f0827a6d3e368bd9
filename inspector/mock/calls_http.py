"""The HTTP side of the mock's calls: the request bodies websockets will not read, the answers,
and the signed `realtime.call.incoming` webhook.

websockets parses every request on its port (any method reaches `process_request`), but refuses
one with a body. `BodyConnection` takes a POST's body off the bytes before websockets parses
them and keeps it on the connection (`http_body`), so `POST /v1/realtime/calls` (an SDP offer)
is answered on the same port as the WebSockets, by `process_request`. Any other request passes
through untouched after one look at its first bytes.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Response

from inspector.webhooks import sign_webhook

__all__ = [
    "MAX_BODY",
    "BodyConnection",
    "WebhookTarget",
    "http_response",
    "model_of_offer",
    "send_incoming_call",
]

log = logging.getLogger("inspector.mock")

MAX_BODY = 1024 * 1024  # an SDP offer is a few KB
_MAX_HEAD = 64 * 1024


class BodyConnection(ServerConnection):
    """A websockets connection that keeps a POST's body for `process_request` (see above)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http_body: bytes = b""
        self._pending: bytearray | None = bytearray()  # None once the bytes go to websockets

    def data_received(self, data: bytes) -> None:
        if self._pending is None:
            super().data_received(data)
            return
        pending = self._pending
        pending += data
        if len(pending) < 5 and b"POST ".startswith(pending):
            return
        end = pending.find(b"\r\n\r\n")
        if not pending.startswith(b"POST ") or (end < 0 and len(pending) > _MAX_HEAD):
            self._pass(bytes(pending))
            return
        if end < 0:
            return
        head = bytes(pending[: end + 4])
        length = _content_length(head)
        if length is None or length > MAX_BODY:
            self._pass(bytes(pending))  # websockets refuses it with 400, as it would have
            return
        if len(pending) < end + 4 + length:
            return
        self.http_body = bytes(pending[end + 4 : end + 4 + length])
        self._pass(_without_content_length(head) + bytes(pending[end + 4 + length :]))

    def _pass(self, data: bytes) -> None:
        self._pending = None
        super().data_received(data)


def _content_length(head: bytes) -> int | None:
    """The body's length (0 when not given); None when it cannot be read."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value) if value.strip().isdigit() else None
    return 0


def _without_content_length(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    return b"\r\n".join(line for line in lines if line.partition(b":")[0].strip().lower() != b"content-length")


def http_response(status: int, reason: str, body: bytes, content_type: str, **headers: str) -> Response:
    values = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
    for name, value in headers.items():
        values[name.replace("_", "-")] = value
    return Response(status, reason, values, body)


def model_of_offer(body: bytes, content_type: str) -> str | None:
    """The model a call's `session` asks for: the openai SDK posts multipart/form-data with an
    `sdp` part and a JSON `session` part; a bare `application/sdp` offer names none."""
    if not content_type.lower().startswith("multipart/"):
        return None
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "session":
            payload = part.get_payload(decode=True)
            try:
                session = orjson.loads(payload if isinstance(payload, bytes) else b"{}")
            except orjson.JSONDecodeError:
                return None
            model = session.get("model") if isinstance(session, dict) else None
            return model if isinstance(model, str) else None
    return None


@dataclass(frozen=True)
class WebhookTarget:
    """Where the mock says a call came in, and the `whsec_…` secret it signs with."""

    url: str
    secret: str


def _incoming_call(call_id: str, event_id: str, now: int) -> bytes:
    return orjson.dumps(
        {
            "object": "event",
            "id": event_id,
            "type": "realtime.call.incoming",
            "created_at": now,
            "data": {
                "call_id": call_id,
                "sip_headers": [
                    {"name": "From", "value": "sip:+15550100@mock.invalid"},
                    {"name": "To", "value": "sip:+15550199@mock.invalid"},
                ],
            },
        }
    )


async def send_incoming_call(target: WebhookTarget, call_id: str, event_id: str) -> int | None:
    """POST a signed `realtime.call.incoming`; the receiver's status (None: unreachable)."""
    now = int(time.time())
    body = _incoming_call(call_id, event_id, now)
    headers = sign_webhook(body, target.secret, webhook_id=event_id, timestamp=now)
    request = urllib.request.Request(
        target.url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )

    # A receiver on this machine is reached directly, whatever HTTP_PROXY says.
    local = (urllib.parse.urlsplit(target.url).hostname or "") in ("127.0.0.1", "localhost", "::1")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if local else urllib.request.build_opener()

    def post() -> int:
        try:
            with opener.open(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        status = await asyncio.to_thread(post)
    except OSError as exc:
        log.warning("webhook for call %s not delivered: %s", call_id, exc)
        return None
    log.info("webhook realtime.call.incoming for %s: HTTP %d", call_id, status)
    return status
