"""The mock's WebSocket shell: accepts connections, feeds frames to a session state machine and
sends what it schedules, when it is due. All protocol decisions live in `state`/`handshake`.

In-process use (tests, the demo, replay)::

    async with run_mock(port=0, seed=7, latency="none") as mock:
        ...  # connect to mock.url + "/v1/realtime?model=gpt-realtime"
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import select
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from inspector.mock.calls import Calls
from inspector.mock.calls_http import BodyConnection, WebhookTarget
from inspector.mock.handshake import admit, api_key, choose_subprotocol, is_realtime_path
from inspector.mock.ids import IdFactory
from inspector.mock.outbox import Close, Outgoing
from inspector.mock.preview_session import PreviewSession
from inspector.mock.responses import NO_LATENCY, REALISTIC, Timing
from inspector.mock.script import Script
from inspector.mock.session import SESSION_LIFETIME_S
from inspector.mock.state import MockSession, error_event
from inspector.mock.state_core import Flavor
from inspector.protocol import subprotocols_in

__all__ = ["LATENCIES", "MAX_FRAME_BYTES", "Channel", "MockServer", "SessionLike", "run_mock"]

# One `input_audio_buffer.append` may carry 15 MiB of audio; leave room for the JSON around it.
MAX_FRAME_BYTES = 16 * 1024 * 1024 + 64 * 1024
LATENCIES: dict[str, Timing] = {"none": NO_LATENCY, "realistic": REALISTIC}
Latency = Literal["none", "realistic"]


class SessionLike(Protocol):
    """What the shell drives: `MockSession`, or `playback.PlaybackSession` for --from-session."""

    def connect(self, now: float) -> None: ...
    def receive(self, frame: str | bytes, now: float) -> None: ...
    def next_due(self) -> float | None: ...
    def pop_due(self, now: float, limit: int | None = None) -> list[Outgoing]: ...


class Channel(Protocol):
    """What `drive` talks to: a `ServerConnection`, or a call's `CallChannel` (every socket of a call)."""

    async def recv(self) -> str | bytes: ...
    async def send(self, message: str | bytes, *, text: bool | None = None) -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclass
class MockServer:
    """A running mock. `url` is `ws://host:port`; clients add `/v1/realtime?model=...`."""

    host: str
    port: int
    connections: int = 0
    server: Server | None = None
    calls: Calls | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def realtime_url(self) -> str:
        return f"{self.url}/v1/realtime?model=gpt-realtime"

    @property
    def http_url(self) -> str:
        """`http://host:port`: the openai SDK's `base_url` is this + `/v1` (for the calls)."""
        return f"http://{self.host}:{self.port}"


async def _send(ws: Channel, payload: Outgoing) -> bool:
    """Send one scheduled payload; False once the connection is to end."""
    if isinstance(payload, Close):
        await ws.close(payload.code, payload.reason)
        return False
    if isinstance(payload, str):
        await ws.send(payload)
    else:
        await ws.send(orjson.dumps(payload), text=True)
    return True


_LOOK_EVERY_S = 0.001


def _input_waiting(ws: Channel) -> Callable[[], bool]:
    """A ~1 µs check that the client's socket holds unread bytes (one `select`), for a plain
    connection; a call's channel (several sockets) answers no and is looked at by time alone."""
    transport = getattr(ws, "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return lambda: False
    fd = sock.fileno()
    return lambda: bool(select.select([fd], [], [], 0)[0])


async def drive(ws: Channel, session: SessionLike) -> None:
    """Run one connection: receive frames, send what falls due, until either side closes.

    Events leave one at a time, and a frame that arrived meanwhile is handled between them:
    even with no latency, a `response.cancel` sent on `response.created` lands mid-response and
    a second `response.create` meets the first one still active, as with the real service.
    Reading a frame takes the event loop's I/O (an iteration, ~20 µs, too dear after every
    event), so the loop is given a turn when the socket holds unread bytes (a cheap `select`),
    after the first event of a burst, and every `_LOOK_EVERY_S` (so that a client in this same
    process, as in tests, gets to run)."""
    loop = asyncio.get_running_loop()
    session.connect(loop.time())
    input_waiting = _input_waiting(ws)
    receiving: asyncio.Future[str | bytes] = asyncio.ensure_future(ws.recv())
    looked_at = loop.time()
    look_next = True
    try:
        while True:
            due_now = session.pop_due(loop.time(), limit=1)
            if due_now:
                if not await _send(ws, due_now[0]):
                    return
                waiting = input_waiting()
                if waiting or look_next or loop.time() - looked_at >= _LOOK_EVERY_S:
                    # One turn reads the bytes, the next completes the `recv` waiting for them.
                    for _ in range(3 if waiting else 1):
                        await asyncio.sleep(0)
                        if receiving.done():
                            break
                    looked_at, look_next = loop.time(), False
            else:
                due = session.next_due()
                timeout = None if due is None else max(0.0, due - loop.time())
                if timeout != 0.0:
                    await asyncio.wait({receiving}, timeout=timeout)
                    look_next = True
            if receiving.done():
                session.receive(receiving.result(), loop.time())
                receiving = asyncio.ensure_future(ws.recv())
                look_next = True
    except ConnectionClosed:
        pass
    finally:
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await receiving


def _request_checker(
    *, flavor: Flavor, require_key: bool, calls: Calls
) -> Callable[[ServerConnection, Request], Awaitable[Response | None]]:
    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        answer = await calls.http(connection, request)
        if answer is not None:
            return answer
        if not is_realtime_path(request.path):
            return connection.respond(404, "Not Found: the Realtime endpoint is any path ending in /realtime\n")
        # Azure refuses a missing key at the handshake; OpenAI accepts, then errors (`admit`).
        if flavor == "azure" and require_key and not api_key(request.path, request.headers, ()):
            return connection.respond(401, "Access denied due to missing subscription key.\n")
        return None

    return process_request


def _select_subprotocol(connection: ServerConnection, subprotocols: Sequence[Subprotocol]) -> Subprotocol | None:
    chosen = choose_subprotocol(subprotocols)
    return None if chosen is None else Subprotocol(chosen)


@contextlib.asynccontextmanager
async def run_mock(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int | str | None = None,
    latency: Latency = "none",
    script: Script | None = None,
    require_key: bool = False,
    flavor: Flavor = "openai",
    max_session_s: float | None = SESSION_LIFETIME_S,
    session_factory: Callable[[str], SessionLike] | None = None,
    webhook: WebhookTarget | None = None,
) -> AsyncIterator[MockServer]:
    """Serve the mock until the block exits. `port=0` picks a free port (see `mock.port`).

    `flavor="azure"` stands in for Azure OpenAI (no `rate_limits.updated`, a missing key refused
    with HTTP 401 under `require_key`, the preview protocol for clients that speak it); `max_session_s` ends each session with `session_expired`
    (None: never). Each connection gets its own session; with a `seed`, the n-th connection's ids are the same
    on every run. `session_factory(model)` replaces the generated sessions (used for playback).
    `POST /v1/realtime/calls` makes a call (see `calls`); with a `webhook`, the mock then sends
    it a signed `realtime.call.incoming`.
    """
    timing = LATENCIES[latency]
    script = script or Script.default()
    seeds = random.Random(seed)
    ids = IdFactory(random.Random(seed))
    state = MockServer(host, port)

    def new_session(model: str, preview: bool) -> SessionLike:
        if session_factory is not None:
            return session_factory(model)
        connection_seed = seeds.getrandbits(64) if seed is not None else None
        session = MockSession(
            seed=connection_seed,
            timing=timing,
            script=script,
            model=model,
            now_unix=time.time(),
            flavor=flavor,
            max_session_s=max_session_s,
        )
        # Only Azure speaks the preview protocol; OpenAI's sessions stay bare (no translation).
        return PreviewSession(session, declared=preview) if flavor == "azure" else session

    calls = state.calls = Calls(ids, lambda model: new_session(model, False), drive, webhook)

    async def handler(ws: ServerConnection) -> None:
        state.connections += 1
        request = ws.request
        assert request is not None
        admission = admit(
            request.path,
            request.headers,
            subprotocols_in(request.headers.raw_items()),
            require_key=require_key,
            flavor=flavor,
        )
        if admission.error is not None and admission.close is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(orjson.dumps(error_event(ids.event(), admission.error, None)), text=True)
                await ws.close(admission.close.code, admission.close.reason)
            return
        if admission.call_id is not None:
            await calls.join(ws, admission.call_id, admission.primary)
            return
        await drive(ws, new_session(admission.model or "gpt-realtime", admission.preview))

    async with serve(
        handler,
        host,
        port,
        process_request=_request_checker(flavor=flavor, require_key=require_key, calls=calls),
        create_connection=BodyConnection,  # POST bodies for the calls (see `calls_http`)
        select_subprotocol=_select_subprotocol,
        max_size=MAX_FRAME_BYTES,
        compression=None,
        # The real service pings about every 20 s; so do we, to keep idle tunnels alive.
        ping_interval=20,
    ) as server:
        state.server = server
        state.port = server.sockets[0].getsockname()[1]
        try:
            yield state
        finally:
            await calls.shutdown()
