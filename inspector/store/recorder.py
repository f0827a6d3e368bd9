"""Recording off the forwarding path: the event loop appends, a writer thread commits in batches.

The hot path (`SessionRecorder.record`) does one deque append and two integer updates: no
parsing, no SQLite, no locks. The writer thread wakes every `flush_interval`, takes everything
queued, and writes it in one transaction (parsing, redaction, locators: see `event_rows`).
Nothing is dropped: when the writer falls behind, the backlog grows, a warning is logged at
`warn_bytes`, and `backlog_exceeded()` tells producers to pause reading until it drains.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.protocol import Direction
from inspector.store.store import FrameIn, Store, event_rows

__all__ = ["Recorder", "SessionRecorder"]

log = logging.getLogger("inspector.recorder")

_OPEN, _FRAME, _UPDATE = 0, 1, 2
MAX_BATCH_BYTES = 32 * 1024 * 1024


@dataclass
class RecorderStats:
    frames: int = 0
    batches: int = 0
    backlog_high_water: int = 0  # bytes queued but not yet committed, at worst


class SessionRecorder:
    """One session being recorded. Create with `Recorder.open_session`."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self.start_ns = time.monotonic_ns()
        self.id: Future[int] = Future()  # set by the writer once the row exists
        self._seq = 0  # touched only by the writer thread

    def now_ns(self) -> int:
        return time.monotonic_ns() - self.start_ns

    def record(self, direction: Direction, data: str | bytes, t_ns: int | None = None) -> None:
        """Queue one frame. Cheap and non-blocking: safe on the forwarding path."""
        if t_ns is None:
            t_ns = time.monotonic_ns() - self.start_ns
        self._recorder._enqueue((_FRAME, self, direction, t_ns, data), len(data))

    def update(self, **fields: Any) -> None:
        """Queue an update of the session row (status, close code, ...), applied in order."""
        self._recorder._enqueue((_UPDATE, self, fields), 0)


class Recorder:
    """Owns the writer thread. `start()`, `open_session()` per connection, `close()` drains."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        flush_interval: float = 0.02,
        warn_bytes: int = 64 * 1024 * 1024,
        pause_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self.db_path = Path(db_path)
        self.flush_interval = flush_interval
        self.warn_bytes = warn_bytes
        self.pause_bytes = pause_bytes
        self.stats = RecorderStats()
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        # Two counters, each written by one thread only, so no lock is needed.
        self._enqueued_bytes = 0
        self._written_bytes = 0
        self._warned = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._ready: Future[None] = Future()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Recorder:
        """Start the writer; raises `StoreError` here if the database cannot be opened."""
        self._thread = threading.Thread(target=self._run, name="inspector-writer", daemon=True)
        self._thread.start()
        self._ready.result()
        return self

    def close(self) -> None:
        """Write everything queued, then stop the writer. Blocks until done."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        if self.stats.backlog_high_water > self.warn_bytes:
            log.warning("recorder backlog peaked at %.1f MB", self.stats.backlog_high_water / 1e6)

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producers --------------------------------------------------------------------------

    def open_session(self, **fields: Any) -> SessionRecorder:
        """Queue the creation of a session row (fields as in `Store.create_session`)."""
        handle = SessionRecorder(self)
        fields.setdefault("started_at", time.time())
        fields.setdefault("source", "tap")
        self._enqueue((_OPEN, handle, fields), 0)
        return handle

    @property
    def backlog(self) -> int:
        """Bytes queued but not yet committed."""
        return self._enqueued_bytes - self._written_bytes

    def backlog_exceeded(self) -> bool:
        return self.backlog > self.pause_bytes

    async def wait_for_backlog(self) -> None:
        """Back-pressure: pause a producer until the writer has caught up to half the limit."""
        while self.backlog > self.pause_bytes // 2 and self._thread is not None:
            await asyncio.sleep(self.flush_interval)

    def _enqueue(self, item: tuple[Any, ...], size: int) -> None:
        if self._error is not None:
            raise RuntimeError("the recorder's writer thread failed") from self._error
        self._queue.append(item)
        self._enqueued_bytes += size
        backlog = self._enqueued_bytes - self._written_bytes
        if backlog > self.stats.backlog_high_water:
            self.stats.backlog_high_water = backlog
            if backlog > self.warn_bytes and not self._warned:
                self._warned = True
                log.warning("recorder is falling behind: %.1f MB queued", backlog / 1e6)

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            store = Store(self.db_path)
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        try:
            while True:
                stopping = self._stop.wait(self.flush_interval)
                while self._queue:
                    self._write_batch(store)
                if stopping:
                    break
        except BaseException as exc:  # keep the failure visible to producers
            self._error = exc
            log.exception("recorder writer failed")
        finally:
            store.close()

    def _write_batch(self, store: Store) -> None:
        events: list[tuple[Any, ...]] = []
        bodies: list[tuple[Any, ...]] = []
        per_session: dict[int, list[tuple[Any, ...]]] = {}
        updates: list[tuple[int, dict[str, Any]]] = []
        size = 0
        with store.transaction():
            while self._queue and size < MAX_BATCH_BYTES:
                item = self._queue.popleft()
                kind, handle = item[0], item[1]
                if kind == _FRAME:
                    _, _, direction, t_ns, data = item
                    handle._seq += 1
                    session_id = handle.id.result()
                    event, body = event_rows(session_id, handle._seq, FrameIn(direction, t_ns, data))
                    events.append(event)
                    bodies.append(body)
                    per_session.setdefault(session_id, []).append(event)
                    size += len(data)
                elif kind == _OPEN:
                    handle.id.set_result(store.create_session(**item[2]))
                else:
                    updates.append((handle.id.result(), item[2]))
            store.insert_rows(events, bodies)
            for session_id, rows in per_session.items():
                store.add_counts(session_id, rows)
            for session_id, fields in updates:
                store.update_session(session_id, **fields)
        self._written_bytes += size
        self.stats.frames += len(events)
        self.stats.batches += 1

