"""`RealtimeServer`: what the `realtime_server` fixture hands a test.

    client ──ws──▶ tap (recording into a Store in pytest's tmp dir) ──ws──▶ upstream

The upstream is the scripted mock, a cassette played back (`inspector.mock.cassette`), or, when
recording, the live API (or any URL). Both servers run on an event loop in a background thread,
so that sync tests and pytest-asyncio tests (whose loop is the test's own) use them alike. The
test reads what went over the wire through the Store API (`events()`, `session()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from websockets.protocol import State

from inspector.mock.cassette import CassetteSession, Divergence, clip_frame
from inspector.mock.outbox import Close
from inspector.mock.playback import Recorded
from inspector.mock.script import Script
from inspector.mock.server import SessionLike, run_mock
from inspector.protocol import Direction
from inspector.pytest_plugin.recorder import MemoryRecorder
from inspector.store import Event, SessionInfo, Store, open_store
from inspector.tap import Tap, TapOptions

__all__ = ["Cassette", "MockSettings", "RealtimeServer"]

T = TypeVar("T")
Mode = Literal["mock", "replay", "record"]
# How long `events()` and the end of a test wait for the connections to finish what the client
# already sent (a client that closed: its last frames may still be in the tap's buffers).
SETTLE_S = 3.0
START_S = 10.0


@dataclass
class MockSettings:
    """The scripted mock's options (the `realtime_mock` marker)."""

    seed: int | str | None = None
    script: Script | None = None
    flavor: Literal["openai", "azure"] = "openai"
    latency: Literal["none", "realistic"] = "none"


@dataclass
class Cassette:
    """A cassette file and what to do with it: play it back, or record it (from `upstream`)."""

    path: Path
    match: Literal["content", "types", "off"] = "content"
    upstream: str = "wss://api.openai.com"
    recording: list[Recorded] = field(default_factory=list)
    close: Close | None = None


class _LoopThread:
    """An event loop of its own in a daemon thread; `run(coro)` runs a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="realtime-server", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = START_S) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


class RealtimeServer:
    """A running Realtime endpoint for one test, and what went over it.

    `base_url` is for the openai SDK's `websocket_base_url`; `url(model=...)` is a full Realtime
    URL for clients that take one (the Agents SDK, raw websockets, another language's client).
    `mode` says what answers: "mock", "replay" (a cassette) or "record" (the upstream, live).
    """

    def __init__(
        self,
        db_path: Path | str,
        *,
        mode: Mode = "mock",
        mock: MockSettings | None = None,
        cassette: Cassette | None = None,
    ) -> None:
        if (cassette is None) != (mode == "mock"):
            raise ValueError("a cassette is played back or recorded, the mock needs none")
        self.db_path = db_path
        self.mode = mode
        self.mock = mock or MockSettings()
        self.cassette = cassette
        self.playbacks: list[CassetteSession] = []
        self._extra_connections = 0
        self._loop: _LoopThread | None = None
        self._stack = contextlib.AsyncExitStack()
        self._writer: Store | None = None  # the loop thread's connection (the recorder's)
        self._reader: Store | None = None  # the test thread's
        self._recorder: MemoryRecorder | None = None
        self._tap: Tap | None = None

    # -- life cycle (the plugin's) --------------------------------------------------------------

    def start(self) -> RealtimeServer:
        self._loop = _LoopThread()
        try:
            self._loop.run(self._start())
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self) -> None:
        upstream = self.cassette.upstream if self.mode == "record" and self.cassette else None
        if upstream is None:
            mock = await self._stack.enter_async_context(
                run_mock(
                    port=0,
                    seed=self.mock.seed,
                    script=self.mock.script,
                    flavor=self.mock.flavor,
                    latency=self.mock.latency,
                    session_factory=self._playback if self.mode == "replay" else None,
                )
            )
            upstream = mock.url
        self._writer = open_store(self.db_path)
        self._recorder = MemoryRecorder(self._writer)
        self._tap = Tap(self._recorder, TapOptions(upstream=upstream, label=self.cassette_label))
        await self._tap.start("127.0.0.1", 0)

    def _playback(self, model: str) -> SessionLike:
        assert self.cassette is not None
        if self.playbacks:
            # A cassette holds one session: a second connection gets nothing and is reported.
            self._extra_connections += 1
            session = CassetteSession([], match="off")
        else:
            session = CassetteSession(self.cassette.recording, close=self.cassette.close, match=self.cassette.match)
        self.playbacks.append(session)
        return session

    @property
    def cassette_label(self) -> str | None:
        return None if self.cassette is None else f"cassette {self.cassette.path.name}"

    def stop(self) -> None:
        """Close every connection, write what was recorded, stop the loop. Idempotent."""
        if self._loop is None:
            return
        with contextlib.suppress(Exception):
            self._loop.run(self._stop(), timeout=30)
        self._loop.stop()
        self._loop = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def _stop(self) -> None:
        try:
            if self._tap is not None:
                await self._tap.stop()
            await self._stack.aclose()
        finally:
            if self._recorder is not None:
                self._recorder.flush()
            if self._writer is not None:
                self._writer.close()

    # -- what a test uses ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._tap is not None, "the server is not running"
        return self._tap.port

    @property
    def base_url(self) -> str:
        """`ws://127.0.0.1:PORT/v1`: the openai SDK's `websocket_base_url`."""
        return f"ws://127.0.0.1:{self.port}/v1"

    def url(self, model: str = "gpt-realtime") -> str:
        """A full Realtime URL (Azure's path under `flavor="azure"`)."""
        if self.mock.flavor == "azure" and self.mode == "mock":
            return f"ws://127.0.0.1:{self.port}/openai/v1/realtime?model={model}"
        return f"{self.base_url}/realtime?model={model}"

    def sessions(self) -> list[SessionInfo]:
        """Every connection of this test, in the order they opened (after `settle`)."""
        store = self._read()
        return [store.session(session_id) for session_id in self._session_ids()]

    def session(self) -> SessionInfo:
        """The test's (last) connection: model, headers (redacted), close code and side, counts."""
        sessions = self.sessions()
        if not sessions:
            raise LookupError("no client has connected to the realtime_server yet")
        return sessions[-1]

    def events(self, direction: Direction | str | None = None) -> list[Event]:
        """What went over the wire, with frames (`event.data()` parses one), every connection of
        the test in turn; only one direction's with `direction` ("client" or "server")."""
        store = self._read()
        wanted = None if direction is None else Direction(direction)
        return [
            event
            for session_id in self._session_ids()
            for event in store.events(session_id, with_frames=True, direction=wanted)
        ]

    def types(self, direction: Direction | str | None = None) -> list[str | None]:
        """The event types, in order: `assert "session.update" in realtime_server.types("client")`."""
        return [event.type for event in self.events(direction)]

    # -- settling and the verdict ----------------------------------------------------------------

    def _session_ids(self) -> list[int]:
        self.settle()
        assert self._recorder is not None
        return list(self._recorder.session_ids)

    def _read(self) -> Store:
        if self._reader is None:
            self._reader = open_store(self.db_path)
        return self._reader

    def settle(self, timeout: float = SETTLE_S) -> None:
        """Wait (a little) until the frames clients already sent have gone through, then write
        what was recorded. Connections still open are not waited for."""
        if self._loop is not None:
            self._loop.run(self._settle(timeout), timeout=timeout + 10)

    async def _settle(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        # Polls websockets' connection states and two counters: nothing to wait on as an event.
        while not self._settled() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        assert self._recorder is not None
        self._recorder.flush()

    def _settled(self) -> bool:
        assert self._tap is not None and self._tap.server is not None and self._recorder is not None
        for connection in self._tap.server.all_connections:
            # The client closed (or the TCP connection went): its handler finishes on its own;
            # a close only we started may wait for the client, whose loop may be this test's.
            if connection.protocol.close_rcvd is not None or connection.protocol.state is State.CLOSED:
                return False
        played = sum(p.received for p in self.playbacks)
        return self.mode != "replay" or played >= self._recorder.client_frames

    def problems(self) -> tuple[Divergence | None, str | None]:
        """(the first divergence, the unconsumed-events message) of a replay; (None, None) else."""
        if self.mode != "replay" or self.cassette is None:
            return None, None
        self.settle()
        divergences = [d for p in self.playbacks for d in p.divergences]
        first = divergences[0] if divergences else None
        unconsumed = None
        if self.cassette.match != "off":
            if not self.playbacks:
                unconsumed = "no client connected: the cassette's session was never played"
            elif self.playbacks[0].unconsumed:
                playback = self.playbacks[0]
                sent, total = playback.received, len(playback.expected)
                nxt = playback.expected[sent]
                unconsumed = (
                    f"the client sent {sent} of the cassette's {total} client events; the next one was\n"
                    f"  expected: {clip_frame(nxt)}"
                )
            elif self._extra_connections:
                unconsumed = f"the cassette holds one session, but the client opened {len(self.playbacks)} connections"
        return first, unconsumed

    def write_cassette(self) -> str:
        """Export the recorded session to the cassette file (record mode); what was written."""
        from inspector.files import atomic_write
        from inspector.formats.jsonl import export_jsonl

        assert self.cassette is not None
        ids = self._session_ids()
        if len(ids) != 1:
            raise CassetteNotWritten(
                "the test made no Realtime connection"
                if not ids
                else f"a cassette holds one session, but the test opened {len(ids)} connections"
            )
        self.cassette.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.cassette.path) as out:
            frames = export_jsonl(self._read(), ids[0], out)
        return f"recorded {frames} events into {self.cassette.path}"


class CassetteNotWritten(Exception):
    pass
