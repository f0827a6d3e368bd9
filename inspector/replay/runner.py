"""The replay's asyncio shell: it moves frames between the planner and a WebSocket and keeps time.
Every decision (waits, pacing, remapping, divergences) is `ReplayPlan`'s.

    results = await replay_sessions(db_path, [3])                  # against the mock, in-process
    results = await replay_sessions(db_path, [3], target="wss://api.openai.com/v1/realtime?model=gpt-realtime",
                                    api_key=os.environ["OPENAI_API_KEY"])
    results[0].session_id, results[0].exit_code                   # the new recording; 0, 1 or 2

What is sent and received is recorded as a new session (`source="replay"`, `replay_of` the
original) through the same `Recorder` as the tap, so the store redacts it the same way. The key
is sent in a header and never given to the recorder: the recorded headers have it replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from inspector.protocol import Direction, model_from_query
from inspector.redaction import REDACTED, redact_headers, redact_text, redact_url
from inspector.replay.plan import Divergence, Done, Pace, ReplayCounts, ReplayPlan, Send, Skip
from inspector.replay.source import Original, load_session
from inspector.store import SessionStatus, StoreError
from inspector.store.recorder import Recorder
from inspector.tap import connect_client

__all__ = ["ReplayOptions", "ReplayResult", "auth_headers", "replay_sessions"]

Progress = Callable[[ReplayPlan], None]


@dataclass(frozen=True)
class ReplayOptions:
    pace: Pace = Pace.ORIGINAL
    wait: bool = True
    timeout: float = 10.0  # seconds a wait may last past the event's due time
    stop_on_divergence: bool = False
    label: str | None = None  # for the new session; the original's label when None
    open_timeout: float = 10.0


@dataclass
class ReplayResult:
    """How one replay went: what `--diff`, the batch table and a TUI screen read."""

    original_id: int | None
    session_id: int | None = None  # the new recording (None if recording failed)
    target: str = ""  # redacted
    counts: ReplayCounts = field(default_factory=ReplayCounts)
    divergences: list[Divergence] = field(default_factory=list)
    interrupted: bool = False
    error: str | None = None  # could not connect, or the store failed
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 complete, 1 diverged (or interrupted), 2 error: the diff's convention."""
        if self.error is not None:
            return 2
        return 1 if self.divergences or self.interrupted else 0

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


def auth_headers(url: str, api_key: str | None) -> list[tuple[str, str]]:
    """The header carrying the key, as the target expects it: `api-key` for Azure, a Bearer
    `Authorization` for everyone else (realtime-protocol.md §1)."""
    if not api_key:
        return []
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith(".azure.com") or urlsplit(url).path.startswith("/openai/"):
        return [("api-key", api_key)]
    return [("Authorization", f"Bearer {api_key}")]


async def replay_sessions(
    db_path: str | Path,
    original_ids: Sequence[int],
    *,
    target: str | None = None,
    api_key: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    options: ReplayOptions = ReplayOptions(),
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    on_result: Callable[[ReplayResult], None] | None = None,
) -> list[ReplayResult]:
    """Replay each session in turn against `target` (None: the mock, started here on a free
    port), recording each replay into the same database. `stop` ends the running replay
    cleanly (what was recorded is kept) and starts no other."""
    results: list[ReplayResult] = []
    recorder = await asyncio.to_thread(Recorder(db_path).start)
    try:
        async with _target_server(target) as base:
            for original_id in original_ids:
                if stop is not None and stop.is_set():
                    break
                original = await asyncio.to_thread(_load, db_path, original_id)
                url = base if target is not None else _mock_url(base, original)
                replayer = _Replayer(recorder, original, url, [*auth_headers(url, api_key), *headers], options)
                result = await replayer.run(progress, stop)
                results.append(result)
                if on_result is not None:
                    on_result(result)
    finally:
        await asyncio.to_thread(recorder.close)
    return results


def _load(db_path: str | Path, session_id: int) -> Original:
    from inspector.store import open_store

    with open_store(db_path, create=False) as store:
        return load_session(store, session_id)


@contextlib.asynccontextmanager
async def _target_server(target: str | None) -> AsyncIterator[str]:
    if target is not None:
        yield target
        return
    from inspector.mock.server import run_mock

    async with run_mock("127.0.0.1", 0) as mock:
        yield mock.url


def _mock_url(base: str, original: Original) -> str:
    path = original.path if original.path and original.path.endswith("/realtime") else "/v1/realtime"
    return f"{base}{path}?model={original.model or 'gpt-realtime'}"


class _Replayer:
    """One replay: connect, run the plan, record both directions, close."""

    def __init__(
        self, recorder: Recorder, original: Original, url: str, headers: list[tuple[str, str]], options: ReplayOptions
    ) -> None:
        self.original = original
        self.url = url
        self.headers = headers
        self.plan = ReplayPlan(
            original.events,
            pace=options.pace,
            wait=options.wait,
            timeout=options.timeout,
            stop_on_divergence=options.stop_on_divergence,
        )
        self.options = options
        self.result = ReplayResult(original.session_id, target=redact_url(url))
        parts = urlsplit(url)
        self.session = recorder.open_session(
            source="replay",
            replay_of=original.session_id,
            target_url=redact_url(url),
            path=parts.path,
            query=redact_url(url).partition("?")[2],
            model=model_from_query(parts.query),
            request_headers=[[n, v] for n, v in _recorded_headers(headers)],
            label=options.label if options.label is not None else original.label,
        )
        self.wake = asyncio.Event()

    def clock(self) -> float:
        return self.session.now_ns() / 1e9

    async def run(self, progress: Progress | None, stop: asyncio.Event | None) -> ReplayResult:
        started = time.monotonic()
        status, side = SessionStatus.CLOSED, "client"
        ws: ClientConnection | None = None
        try:
            ws = await self._connect()
            if ws is not None:
                side = await self._exchange(ws, progress, stop)
        except asyncio.CancelledError:
            self.plan.stop()
            raise
        finally:
            status = SessionStatus.FAILED if ws is None else status
            if self.plan.interrupted:
                status = SessionStatus.INTERRUPTED
            await self._finish(ws, status, side)
            self.result.seconds = time.monotonic() - started
        return self.result

    async def _connect(self) -> ClientConnection | None:
        try:
            return await connect_client(self.url, self.headers, open_timeout=self.options.open_timeout)
        except InvalidStatus as exc:
            self.result.error = f"{self.result.target} refused the connection: HTTP {exc.response.status_code}"
        except (TimeoutError, OSError, InvalidHandshake, InvalidURI, ValueError) as exc:
            self.result.error = f"cannot connect to {self.result.target}: {exc or type(exc).__name__}"
        # The exception's text may quote the URL or a header: never let the key through.
        self.result.error = redact_text(self.result.error or "")
        self.session.update(error=self.result.error)
        return None

    async def _exchange(self, ws: ClientConnection, progress: Progress | None, stop: asyncio.Event | None) -> str:
        """Run the plan to its end; who closed the connection ("client": we did)."""
        reader = asyncio.create_task(self._read(ws))
        stopper = asyncio.create_task(self._watch(stop)) if stop is not None else None
        plan = self.plan
        try:
            while not isinstance(action := plan.next(self.clock()), Done):
                if isinstance(action, Send):
                    t_ns = self.session.now_ns()
                    try:
                        await ws.send(action.frame)
                    except ConnectionClosed:
                        plan.closed(_closed_by_target(ws))
                        continue
                    self.session.record(Direction.CLIENT, action.frame, t_ns)
                elif isinstance(action, Skip):
                    pass
                else:
                    self.wake.clear()
                    delay = action.deadline - self.clock()
                    if delay > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.wake.wait(), delay)
                    continue
                if progress is not None:
                    progress(plan)
            if reader.done():
                return "server"
            await ws.close()
            await reader
            return "client"
        finally:
            for task in (reader, stopper):
                if task is not None:
                    task.cancel()
            if progress is not None:
                progress(plan)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                t_ns = self.session.now_ns()
                self.session.record(Direction.SERVER, frame, t_ns)
                self.plan.receive(frame, t_ns / 1e9)
                self.wake.set()
        except ConnectionClosed:
            pass
        self.plan.closed(_closed_by_target(ws))
        self.wake.set()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.plan.stop()
        self.wake.set()

    async def _finish(self, ws: ClientConnection | None, status: SessionStatus, side: str) -> None:
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        fields: dict[str, object] = {"status": status, "ended_at": time.time()}
        if ws is not None and ws.close_code is not None:
            fields |= {"close_code": ws.close_code, "close_reason": ws.close_reason, "close_side": side}
        self.session.update(**fields)
        self.result.counts = self.plan.counts
        self.result.divergences = list(self.plan.divergences)
        self.result.interrupted = self.plan.interrupted
        try:
            self.result.session_id = await asyncio.wrap_future(self.session.id)
        except StoreError as exc:
            self.result.error = self.result.error or f"recording failed: {exc}"


def _closed_by_target(ws: ClientConnection) -> str:
    code = ws.close_code
    return f"the target closed the connection ({code} {ws.close_reason or ''})".replace(" )", ")")


def _recorded_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers as recorded: credentials replaced here already (the store would too)."""
    return [(n, REDACTED if n.lower() in ("authorization", "api-key") else v) for n, v in redact_headers(headers)]
