"""`inspector attach --webhook`: a small HTTP receiver for the service's webhooks.

On a `realtime.call.incoming` whose signature holds (`inspector.webhooks`), it answers 200 and
attaches to the call; a wrong or missing signature, or a stale timestamp, is 400, logged, and
nothing is attached. Other event types are acknowledged (200) and ignored. Accepting or
rejecting the call stays the user's application's job: the service sends the webhook to that
application, which forwards it here (or `inspector mock --webhook-url` sends it here directly).

One request per connection, HTTP/1.1 with a `Content-Length` body of at most 1 MiB: the service's
deliveries are small JSON documents, and this is no general web server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from inspector.webhooks import WebhookError, incoming_call_id, verify_webhook

__all__ = ["MAX_BODY", "WebhookAnswer", "handle_delivery", "serve_webhooks"]

log = logging.getLogger("inspector.attach")

MAX_BODY = 1024 * 1024
_MAX_HEAD = 16 * 1024

WebhookAnswer = tuple[int, str, str | None]  # status, body text, the call to attach (or None)


def handle_delivery(method: str, headers: dict[str, str], body: bytes, secret: str, now: float) -> WebhookAnswer:
    """What to answer one request, and which call it asks to attach: pure, so tested alone."""
    if method != "POST":
        return 405, "webhooks are POSTed\n", None
    try:
        verify_webhook(body, headers, secret, now=now)
        call_id = incoming_call_id(body)
    except WebhookError as exc:
        return 400, f"{exc}\n", None
    return 200, "ok\n", call_id


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > _MAX_HEAD:
        raise ValueError("request head too large")
    lines = head.decode("latin-1").split("\r\n")
    method = lines[0].split(" ", 1)[0]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    if not 0 <= length <= MAX_BODY:
        raise ValueError("body too large")
    return method, headers, await reader.readexactly(length)


async def serve_webhooks(host: str, port: int, secret: str, on_call: Callable[[str], None]) -> asyncio.Server:
    """Start the receiver; `on_call(call_id)` runs for each verified incoming call."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            method, headers, body = await asyncio.wait_for(_read_request(reader), 10)
            status, text, call_id = handle_delivery(method, headers, body, secret, time.time())
        except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            status, text, call_id = 400, f"bad request: {exc or type(exc).__name__}\n", None
        if status != 200:
            log.warning("webhook from %s refused (HTTP %d): %s", peer[0] if peer else "?", status, text.strip())
        reason = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed"}[status]
        payload = text.encode()
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(payload)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + payload
        )
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()
        if call_id is not None:
            log.info("webhook: call %s came in; attaching", call_id)
            on_call(call_id)

    return await asyncio.start_server(handle, host, port)
