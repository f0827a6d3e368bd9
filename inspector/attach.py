"""`inspector attach`'s core: record a WebRTC or SIP call through its sideband WebSocket.

A call's session also answers `wss://…/v1/realtime?call_id=ID` (realtime-protocol.md §8): a
second connection that receives the session's server events. Attaching opens it with the API key
and records every frame it receives as a session (`source="attach"`, the call id in its `query`
and `target_url`, so it is found and linked like a tapped sideband of the same call), sends
nothing, and ends when the service closes the socket (it does on hang-up).

    results = await attach_calls(db_path, ["rtc_123", "rtc_456"], upstream="wss://api.openai.com",
                                 api_key=os.environ["OPENAI_API_KEY"])

What a sideband sees is not the whole session: the caller's own client events travel over the
WebRTC data channel (or the phone line) and are never echoed, nor are client events other
sideband users send. The key goes in a header and never reaches the recorder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from inspector.protocol import Direction
from inspector.redaction import REDACTED, redact_text, redact_url
from inspector.store import SessionStatus, StoreError
from inspector.store.recorder import Recorder
from inspector.tap import connect_client, websocket_url

__all__ = ["AttachResult", "Attacher", "WebhookListen", "attach_calls", "sideband_url"]

log = logging.getLogger("inspector.attach")


def sideband_url(upstream: str, call_id: str) -> str:
    """The sideband of `call_id` on `upstream` (`wss://api.openai.com`, `ws://127.0.0.1:9000`,
    or a base already ending in `/realtime`)."""
    base = websocket_url(upstream)
    path = "" if urlsplit(base).path.endswith("/realtime") else "/v1/realtime"
    return f"{base}{path}?call_id={quote(call_id, safe='')}"


@dataclass
class AttachResult:
    call_id: str
    session_id: int | None = None
    close_code: int | None = None
    close_reason: str = ""
    events: int = 0
    error: str | None = None  # refused or unreachable, or the store failed


class Attacher:
    """One call: open the sideband, record what arrives, close the session row when it ends."""

    def __init__(self, recorder: Recorder, call_id: str, url: str, api_key: str | None, label: str | None) -> None:
        self.call_id = call_id
        self.url = url
        self.headers = [("Authorization", f"Bearer {api_key}")] if api_key else []
        self.result = AttachResult(call_id)
        parts = urlsplit(url)
        self.session = recorder.open_session(
            source="attach",
            target_url=redact_url(url),
            path=parts.path,
            query=parts.query,
            request_headers=[["Authorization", REDACTED]] if api_key else [],
            label=label,
        )

    async def run(self, stop: asyncio.Event | None = None) -> AttachResult:
        ws = await self._connect()
        fields: dict[str, object] = {"status": SessionStatus.FAILED}
        if ws is not None:
            fields = await self._record(ws, stop)
        self.session.update(**fields, ended_at=time.time())
        try:
            self.result.session_id = await asyncio.wrap_future(self.session.id)
        except StoreError as exc:
            self.result.error = self.result.error or f"recording failed: {exc}"
        return self.result

    async def _connect(self) -> ClientConnection | None:
        target = redact_url(self.url)
        try:
            return await connect_client(self.url, self.headers)
        except InvalidStatus as exc:
            error = f"{target} refused the sideband: HTTP {exc.response.status_code}"
        except (TimeoutError, OSError, InvalidHandshake, InvalidURI, ValueError) as exc:
            error = f"cannot connect to {target}: {exc or type(exc).__name__}"
        # The exception's text may quote the URL or a header: never let the key through.
        self.result.error = redact_text(error)
        self.session.update(error=self.result.error)
        return None

    async def _record(self, ws: ClientConnection, stop: asyncio.Event | None) -> dict[str, object]:
        """Record until the service closes (the call ended) or `stop` is set; the row's fields."""
        reading = asyncio.create_task(self._read(ws))
        stopping = asyncio.create_task(stop.wait()) if stop is not None else None
        await asyncio.wait({t for t in (reading, stopping) if t is not None}, return_when=asyncio.FIRST_COMPLETED)
        interrupted = not reading.done()
        if interrupted:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(1001, "inspector attach stopped"), 2)
            reading.cancel()
        if stopping is not None:
            stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        self.result.close_code, self.result.close_reason = ws.close_code, ws.close_reason or ""
        return {
            "status": SessionStatus.INTERRUPTED if interrupted else SessionStatus.CLOSED,
            "close_code": ws.close_code,
            "close_reason": ws.close_reason,
            "close_side": "client" if interrupted else "server",
        }

    async def _read(self, ws: ClientConnection) -> None:
        record, now_ns = self.session.record, self.session.now_ns
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                record(Direction.SERVER, frame, now_ns())
                self.result.events += 1


@dataclass(frozen=True)
class WebhookListen:
    """Where `--webhook` listens, and the `whsec_…` secret deliveries are signed with."""

    host: str
    port: int
    secret: str


class _Attachments:
    """The calls one process records: each in its own task and session, on one recorder."""

    def __init__(self, recorder: Recorder, upstream: str, api_key: str | None, label: str | None, stop: asyncio.Event):
        self.recorder, self.upstream, self.api_key, self.label, self.stop = recorder, upstream, api_key, label, stop
        self.tasks: list[asyncio.Task[AttachResult]] = []
        self.seen: set[str] = set()

    def attach(self, call_id: str) -> None:
        if call_id in self.seen:  # the service retries a delivery it thinks was lost
            return
        self.seen.add(call_id)
        attacher = Attacher(self.recorder, call_id, sideband_url(self.upstream, call_id), self.api_key, self.label)
        self.tasks.append(asyncio.create_task(attacher.run(self.stop)))

    async def results(self) -> list[AttachResult]:
        return list(await asyncio.gather(*self.tasks))


async def attach_calls(
    db_path: str | Path,
    call_ids: Sequence[str],
    *,
    upstream: str = "wss://api.openai.com",
    api_key: str | None = None,
    label: str | None = None,
    webhook: WebhookListen | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[int], None] | None = None,
) -> list[AttachResult]:
    """Attach to every call at once, each into its own session. Without `webhook`, return when
    all have ended; with it, also attach each call a verified webhook announces, until `stop`
    (`ready(port)` is called once it listens). `stop` interrupts the attached calls too."""
    from inspector.attach_webhook import serve_webhooks

    stop = stop or asyncio.Event()
    recorder = await asyncio.to_thread(Recorder(db_path).start)
    try:
        calls = _Attachments(recorder, upstream, api_key, label, stop)
        for call_id in call_ids:
            calls.attach(call_id)
        if webhook is not None:
            server = await serve_webhooks(webhook.host, webhook.port, webhook.secret, calls.attach)
            if ready is not None:
                ready(server.sockets[0].getsockname()[1])
            async with server:
                await stop.wait()
        return await calls.results()
    finally:
        await asyncio.to_thread(recorder.close)
