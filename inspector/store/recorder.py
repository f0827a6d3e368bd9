"""Recording off the forwarding path: the event loop appends, a writer process commits.

The hot path (`SessionRecorder.record`) appends one tuple to a deque: no parsing, no SQLite, no
locks. A feeder thread wakes every `flush_interval` (100 ms), pickles what is queued in short
lists (pickling holds the GIL) and writes them down a pipe to a writer process
(`inspector.store.writer`), which buffers them (bounded), parses, redacts, extracts ids and
commits them in one transaction per batch it gathers.

Why a process and not a thread: on a busy machine the writer's ~15 µs of CPU per frame competed
with the relay for the GIL and the cores, and a round trip that landed behind a batch waited
milliseconds (measured by benchmarks/tap_overhead.py: p99 7× a bare relay with a writer thread).
The writer process runs at a lower CPU priority, so under load forwarding wins and the backlog
waits in memory; it catches up when the burst ends.

Forwarding never waits for recording. When the writer cannot commit (disk full, the write lock
held elsewhere), the log says why once, frames wait in its buffer (`buffer_bytes`, 256 MB) and
are written when it can; past that the oldest are dropped and counted on their session's row
(`unrecorded_frames`). The same bound holds frames the writer cannot even read fast enough (then
the newest are counted). The writer ignores SIGINT (Ctrl-C reaches the whole process group) and
drains what it was sent before it exits; `close(timeout)` waits at most that long for it.

A writer that dies (OOM, a bug, kill -9) is replaced: the feeder starts a new one, which adopts
the sessions being recorded (row ids, last seqs, lease: they read `open` again), and sends it
what the dead one had not acknowledged (`inspector.store._unacked`, 16 MB at most; frames let go
past that are counted as unrecorded). One log line says so. `restarts` writers in a row that
die before committing anything stop recording (forwarding goes on). The feeding, the answers
and the replacing are `inspector.store._writer_link`.
"""

from __future__ import annotations

import collections
import logging
import subprocess
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.protocol import Direction
from inspector.store._unacked import Unacked
from inspector.store._wire import FRAME, LOST, OPEN, UPDATE, Entry
from inspector.store._writer_link import WriterLink
from inspector.store.factory import db_location
from inspector.store.values import StoreError, new_uid

__all__ = ["Recorder", "RecorderStats", "SessionRecorder"]

log = logging.getLogger("inspector.recorder")

BUFFER_BYTES = 256 * 1024 * 1024
# The tap's memory for recording, 64 MB in all: what the writer has not read yet, and what it has
# not acknowledged (kept for a writer that dies: ~0.6 s of 200 sessions; beyond, lost if the
# writer dies, and counted). A writer gathering 1 s for a commit at 200 sessions holds more than
# that unacknowledged: the oldest frames of its commit are let go, as a bigger hold would cost
# the tap's memory (RSS 129 MB at 350 sessions with this one; the target is 150 MB).
QUEUE_BYTES = 48 * 1024 * 1024
UNACKED_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 6.0  # how long the writer goes on trying after the tap closed its pipe
RESTARTS = 3  # writers in a row that may die before one commits something


@dataclass
class RecorderStats:
    frames: int = 0  # committed
    backlog_high_water: int = 0  # bytes queued but not yet committed, at worst
    writer_high_water: int = 0  # bytes in the writer's buffer, at worst
    dropped: int = 0  # frames forwarded but dropped by the writer's full buffer
    tap_dropped: int = 0  # ... or by the tap's queue, the writer not reading
    lost_at_exit: int = 0  # frames the writer still held when it had to stop
    restarts: int = 0  # writers that died and were replaced
    lost_to_restarts: int = 0  # frames a dead writer took with it


class SessionRecorder:
    """One session being recorded. Create with `Recorder.open_session`."""

    def __init__(self, recorder: Recorder, key: int) -> None:
        self._recorder = recorder
        self.key = key  # the writer's name for this session until its row id is known
        self.start_ns = time.monotonic_ns()
        self.id: Future[int] = Future()  # the row id, set once the writer has created the row

    def now_ns(self) -> int:
        return time.monotonic_ns() - self.start_ns

    def record(self, direction: Direction, data: str | bytes, t_ns: int | None = None) -> None:
        """Queue one frame. Cheap and non-blocking: safe on the forwarding path."""
        if t_ns is None:
            t_ns = time.monotonic_ns() - self.start_ns
        self._recorder.record_frame(self.key, direction is Direction.SERVER, t_ns, data)

    def update(self, **fields: Any) -> None:
        """Queue an update of the session row (status, close code, ...), applied in order."""
        self._recorder.record_update(self.key, fields)


class Recorder(WriterLink):
    """Owns the writer process. `start()`, `open_session()` per connection, `close()` drains.

    `record_open`, `record_frame` and `record_update` are what the sessions' handles call, on
    one thread (the event loop's); a recorder that keeps frames elsewhere (the pytest plugin's)
    overrides them, with `start` and `close`."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        flush_interval: float = 0.1,
        warn_bytes: int = 64 * 1024 * 1024,
        buffer_bytes: int = BUFFER_BYTES,
        drain_seconds: float = DRAIN_SECONDS,
        restarts: int = RESTARTS,
    ) -> None:
        self.db_path = db_location(db_path)  # a file, or a PostgreSQL URL (text)
        self.flush_interval = flush_interval
        self.warn_bytes = warn_bytes
        self.buffer_bytes = buffer_bytes
        # The tap's own queue: what the writer has not read yet (it is starved of CPU, or
        # stopped). A bound of its own, so that the tap's memory stays small (benchmarks/load.py:
        # bounded at the buffer's 256 MB, the tap's RSS reached 392 MB).
        self._queue_bytes = QUEUE_BYTES
        self.drain_seconds = drain_seconds
        self.restarts = restarts
        self.stats = RecorderStats()
        self._queue: collections.deque[Entry] = collections.deque()
        self._unacked = Unacked(UNACKED_BYTES)
        # Counters, each written by one thread only, so no lock is needed.
        self._enqueued_bytes = 0  # the event loop's
        self.enqueued_frames = 0
        self._sent_bytes = 0  # the feeder's
        self._written_bytes = 0  # the receiver's: committed, or dropped by the writer
        self._tap_lost: dict[int, int] = {}  # frames the queue had no room for, by session key
        self._warned = False
        self._dropping = False
        self._failed: str | None = None
        self._sessions: dict[int, SessionRecorder] = {}  # waiting for their row id
        self._recording: dict[int, int] = {}  # key → row id of the sessions not ended yet
        self._next_key = 0
        self._dying = 0  # writers that died in a row without committing
        self._stop = threading.Event()
        self._closing = False
        self._process: subprocess.Popen[bytes] | None = None
        self._feeder: threading.Thread | None = None
        self._receiver: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Recorder:
        """Start the writer; raises `StoreError` here if the database cannot be opened."""
        self._spawn()
        self._feeder = threading.Thread(target=self._feed, name="inspector-feeder", daemon=True)
        self._feeder.start()
        return self

    def close(self, timeout: float | None = None) -> None:
        """Write everything queued, then stop the writer. Blocks until done, or for at most
        `timeout` seconds: then the writer is killed (what it held is counted as unrecorded)."""
        if self._process is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        self._stop.set()
        if self._feeder is not None:
            self._feeder.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._closing = True  # no new writer from now on
        if self._receiver is not None:
            self._receiver.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        try:
            self._process.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.abort()
            if self._receiver is not None:
                self._receiver.join(1.0)  # its last answers, for the count below
        else:
            if self._process.returncode:
                log.error("the writer process exited with status %d", self._process.returncode)
        self._process = None
        self._fail_waiting("recorder closed")
        if self.unwritten():
            log.error("%d forwarded frames could not be recorded", self.unwritten())
        if self.stats.backlog_high_water > self.warn_bytes:
            log.warning("recorder backlog peaked at %.1f MB", self.stats.backlog_high_water / 1e6)

    def abort(self) -> None:
        """Kill the writer now (a second Ctrl-C): what it has not committed is not recorded."""
        self._closing = True
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def unwritten(self) -> int:
        """Frames forwarded and not committed (yet, or ever): queued, buffered, dropped."""
        return self.enqueued_frames - self.stats.frames

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producers (the event loop's thread) ------------------------------------------------------

    def open_session(self, **fields: Any) -> SessionRecorder:
        """Queue the creation of a session row (fields as in `Store.create_session`)."""
        self._next_key += 1
        handle = self._sessions[self._next_key] = SessionRecorder(self, self._next_key)
        fields.setdefault("started_at", time.time())
        fields.setdefault("source", "tap")
        # Made here, not by the writer: a creation sent twice (a writer that died after its
        # commit, a commit whose answer was lost) finds its row by uid instead of making another.
        fields.setdefault("uid", new_uid())
        self.record_open(handle.key, fields)
        return handle

    @property
    def backlog(self) -> int:
        """Bytes queued but not yet committed (or dropped)."""
        return self._enqueued_bytes - self._written_bytes

    def record_open(self, key: int, fields: dict[str, Any]) -> None:
        if self._failed is not None:
            # Logged once; forwarding goes on without recording. A session opened now will never
            # get a row: say so at once, or whoever waits for its id would wait forever.
            handle = self._sessions.pop(key, None)
            if handle is not None and not handle.id.done():
                handle.id.set_exception(StoreError(self._failed))
            return
        self._append((OPEN, key, 0, 0, fields))

    def record_update(self, key: int, fields: dict[str, Any]) -> None:
        if self._failed is None:
            self._append((UPDATE, key, 0, 0, fields))

    def record_frame(self, key: int, is_server: bool, t_ns: int, data: str | bytes) -> None:
        if self._failed is not None:
            return
        self.enqueued_frames += 1
        if self._enqueued_bytes - self._sent_bytes > self._queue_bytes:
            # The writer is not even reading (stopped, starved of CPU): keep a bound, count.
            self._tap_lost[key] = self._tap_lost.get(key, 0) + 1
            self.stats.tap_dropped += 1
            return
        self._append((FRAME, key, is_server, t_ns, data), len(data))

    def _append(self, entry: Entry, size: int = 0) -> None:
        if self._tap_lost:
            for key, count in self._tap_lost.items():
                self._queue.append((LOST, key, 0, count, None))
            self._tap_lost.clear()
        self._queue.append(entry)
        self._enqueued_bytes += size
        backlog = self._enqueued_bytes - self._written_bytes
        if backlog > self.stats.backlog_high_water:
            self.stats.backlog_high_water = backlog
            if backlog > self.warn_bytes and not self._warned:
                self._warned = True
                log.warning("recorder is falling behind: %.1f MB queued", backlog / 1e6)
