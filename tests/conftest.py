"""Shared fixtures: a scriptable upstream WebSocket server and a recording tap, both real, on
127.0.0.1 with free ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pg_server as pg
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from inspector.protocol import MAX_FRAME
from inspector.store import Recorder, Store
from inspector.tap import Tap, TapOptions

# The five real sessions, copied into the repository (see tests/fixtures/openai-realtime/README.md).
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "openai-realtime"


@dataclass
class Upstream:
    """A test upstream: remembers what each connection sent and how it was opened."""

    url: str = ""
    received: list[str | bytes] = field(default_factory=list)
    request_headers: list = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    closes: list[tuple[int | None, str | None]] = field(default_factory=list)
    connections: int = 0


Handler = Callable[[ServerConnection, Upstream], Awaitable[None]]


async def echo_handler(ws: ServerConnection, up: Upstream) -> None:
    """Sends every message back unchanged."""
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            up.received.append(message)
            await ws.send(message)


@contextlib.asynccontextmanager
async def run_upstream(
    handler: Handler = echo_handler,
    *,
    subprotocols: list[str] | None = None,
    process_request=None,
) -> AsyncIterator[Upstream]:
    up = Upstream()

    async def serve_one(ws: ServerConnection) -> None:
        up.connections += 1
        up.request_headers.append(ws.request.headers)
        up.paths.append(ws.request.path)
        try:
            await handler(ws, up)
        finally:
            await ws.wait_closed()
            up.closes.append((ws.close_code, ws.close_reason))

    async with serve(
        serve_one,
        "127.0.0.1",
        0,
        max_size=MAX_FRAME,
        compression=None,
        subprotocols=subprotocols,
        process_request=process_request,
    ) as server:
        up.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        yield up


@contextlib.asynccontextmanager
async def run_tap(
    upstream_url: str, db_path: Path | str, *, recorder_options: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[Tap]:
    """A tap on a free port of 127.0.0.1 in front of `upstream_url`, recording into `db_path`
    (`options` are `TapOptions`, `recorder_options` the `Recorder`'s)."""
    recorder = Recorder(db_path, flush_interval=0.005, **(recorder_options or {})).start()
    tap = Tap(recorder, TapOptions(upstream=upstream_url, **options))
    await tap.start("127.0.0.1", 0)
    try:
        yield tap
    finally:
        await tap.stop()
        await asyncio.to_thread(recorder.close)


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until predicate() holds; fail the test after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "inspector.db"


@pytest.fixture
def open_store(db_path: Path):
    stores: list[Store] = []

    def opener() -> Store:
        stores.append(Store(db_path, create=False))
        return stores[-1]

    yield opener
    for store in stores:
        store.close()


@contextlib.contextmanager
def mock_in_a_thread(**options: Any) -> Iterator[str]:
    """The mock on its own event loop in a thread, as a separate server would be (for command-line
    tests, which run their own loop, and for clients that must not share the mock's loop);
    yields its `ws://host:port` URL."""
    from inspector.mock.server import run_mock

    urls: list[str] = []
    started = threading.Event()
    stop: asyncio.Event | None = None

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with run_mock(**options) as mock:
            urls.append(mock.url)
            started.set()
            await stop.wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10), "the mock did not start"
    try:
        yield urls[0]
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


async def until(ws: Any, kind: str) -> list[dict[str, Any]]:
    """The parsed events a raw WebSocket client receives, up to and including the first `kind`."""
    seen = []
    while True:
        event = json.loads(await ws.recv())
        seen.append(event)
        if event["type"] == kind:
            return seen


# --- PostgreSQL: the store's tests run on both backends (server code in tests/pg_server.py) ------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.Server]:
    """A real PostgreSQL server for the whole run (`pg.Server.url` is None when there is none)."""
    with pg.running_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: pg.Server) -> Iterator[str]:
    with pg.database_for_test(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives, once per backend: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "inspector.db")
    return str(request.getfixturevalue("pg_url"))
