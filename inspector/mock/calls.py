"""The mock's calls: one session shared by a "primary" socket and any number of sidebands.

A mock-only stand-in for WebRTC (realtime-protocol.md §8), with no media:

- `POST /v1/realtime/calls` (an SDP offer, raw or as the openai SDK's multipart form) answers
  201 with `Location: /v1/realtime/calls/<id>` and a placeholder SDP answer.
- A WebSocket on `?call_id=<id>&mock_role=primary` plays the WebRTC data channel: the call's
  session starts when it connects, and it gets `session.created`. One on `?call_id=<id>` alone
  is a sideband: it sees the session's server events from the moment it attaches (no
  `session.created`, as with the service). Every socket gets every later server event (errors
  included) and any of them may send client events; client events are not echoed.
- `POST /v1/realtime/calls/<id>/hangup` ends the call and closes every socket (1000, "call
  ended"); the primary's socket closing ends the call too. Hanging up an ended or unknown call
  is 404 `call_id_not_found`, as the service answers a second hangup.

The session itself is an ordinary `MockSession` driven by the server's `drive`, through a
`CallChannel` that fans its events out and funnels the sockets' frames in.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from inspector.mock.calls_http import WebhookTarget, http_response, model_of_offer, send_incoming_call
from inspector.mock.ids import IdFactory
from inspector.mock.state import error_event
from inspector.mock.validation import MockError

if TYPE_CHECKING:
    from inspector.mock.server import SessionLike

__all__ = ["Call", "CallChannel", "Calls", "calls_route"]

_ROUTE = re.compile(r"(?:.*)/realtime/calls(?:/(?P<id>[^/]+)(?:/(?P<action>[^/]+))?)?/?")
PLACEHOLDER_SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=inspector mock call (no media)\r\nt=0 0\r\na=group:BUNDLE\r\n"
ENDED = (1000, "call ended")


def calls_route(path: str) -> tuple[str | None, str | None] | None:
    """(call id, action) of a calls path: (None, None) for the collection; None for any other path."""
    match = _ROUTE.fullmatch(path.partition("?")[0])
    return None if match is None else (match.group("id"), match.group("action"))


@dataclass(eq=False)
class Call:
    id: str
    model: str
    members: dict[ServerConnection, bool] = field(default_factory=dict)  # socket → primary?
    inbound: asyncio.Queue[str | bytes | None] = field(default_factory=asyncio.Queue)
    ended: bool = False
    driver: asyncio.Task[None] | None = None


def _is_session_created(message: str | bytes) -> bool:
    # Only the primary gets `session.created`. A cheap look first: this runs for every event.
    found = b"session.created" in message[:64] if isinstance(message, bytes) else "session.created" in message[:64]
    if not found:
        return False
    return bool(orjson.loads(message).get("type") == "session.created")


class CallChannel:
    """What `drive` sees as its WebSocket: every socket of the call at once."""

    def __init__(self, calls: Calls, call: Call) -> None:
        self.calls = calls
        self.call = call

    async def recv(self) -> str | bytes:
        frame = await self.call.inbound.get()
        if frame is None:  # the call ended
            raise ConnectionClosed(None, None)
        return frame

    async def send(self, message: str | bytes, *, text: bool | None = None) -> None:
        created = _is_session_created(message)
        for ws, primary in list(self.call.members.items()):
            if created and not primary:
                continue
            with contextlib.suppress(ConnectionClosed):
                await ws.send(message, text=text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.calls.end(self.call, code, reason)


class Calls:
    """Every call of one mock server, and the HTTP endpoints that make and end them."""

    def __init__(
        self,
        ids: IdFactory,
        new_session: Callable[[str], SessionLike],
        drive: Callable[[CallChannel, SessionLike], Coroutine[object, object, None]],
        webhook: WebhookTarget | None = None,
    ) -> None:
        self.ids = ids
        self.new_session = new_session
        self.drive = drive
        self.webhook = webhook
        self.calls: dict[str, Call] = {}
        self._tasks: set[asyncio.Task[object]] = set()

    # -- HTTP -----------------------------------------------------------------------------------

    async def http(self, connection: ServerConnection, request: Request) -> Response | None:
        """The answer to a calls request; None when the path is not one (the caller goes on)."""
        route = calls_route(request.path)
        if route is None:
            return None
        call_id, action = route
        if request.method != "POST":
            return _error(405, "Method Not Allowed", "method_not_allowed", "Calls take POST.")
        if call_id is None:
            body = getattr(connection, "http_body", b"")
            return self._create(body, request.headers.get("Content-Type") or "application/sdp")
        if action == "hangup":
            return await self._hangup(call_id)
        return _error(404, "Not Found", "not_found", "The mock's calls answer POST /calls and /calls/ID/hangup.")

    def _create(self, offer: bytes, content_type: str) -> Response:
        call = Call(self.ids.rtc_call(), model_of_offer(offer, content_type) or "gpt-realtime")
        self.calls[call.id] = call
        if self.webhook is not None:
            self._spawn(send_incoming_call(self.webhook, call.id, "evt_" + call.id.removeprefix("rtc_")))
        location = f"/v1/realtime/calls/{call.id}"
        return http_response(201, "Created", PLACEHOLDER_SDP.encode(), "application/sdp", Location=location)

    async def _hangup(self, call_id: str) -> Response:
        call = self.calls.get(call_id)
        if call is None or call.ended:
            return _error(404, "Not Found", "call_id_not_found", f"Call {call_id} not found.")
        await self.end(call, *ENDED)
        return http_response(200, "OK", b"", "application/json")

    # -- sockets --------------------------------------------------------------------------------

    async def join(self, ws: ServerConnection, call_id: str, primary: bool) -> None:
        """Serve one socket of a call until it or the call closes."""
        call = self.calls.get(call_id)
        if call is None or call.ended:
            error = MockError("call_id_not_found", f"Call {call_id} not found.", "call_id")
            with contextlib.suppress(ConnectionClosed):
                await ws.send(orjson.dumps(error_event(self.ids.event(), error, None)), text=True)
                await ws.close(4000, "call_id_not_found")
            return
        call.members[ws] = primary
        if primary and call.driver is None:
            call.driver = asyncio.create_task(self.drive(CallChannel(self, call), self.new_session(call.model)))
        try:
            async for frame in ws:
                call.inbound.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            call.members.pop(ws, None)
        if primary:
            await self.end(call, *ENDED)

    async def end(self, call: Call, code: int, reason: str) -> None:
        if call.ended:
            return
        call.ended = True
        call.inbound.put_nowait(None)
        await asyncio.gather(*(ws.close(code, reason) for ws in list(call.members)), return_exceptions=True)

    async def shutdown(self) -> None:
        """Stop the drivers and webhook deliveries still running (the server is closing)."""
        tasks = [c.driver for c in self.calls.values() if c.driver is not None] + list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, work: Awaitable[object]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _error(status: int, reason: str, code: str, message: str) -> Response:
    body = orjson.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code, "param": None}})
    return http_response(status, reason, body, "application/json")
