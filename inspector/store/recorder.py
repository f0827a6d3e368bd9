"""Recording off the forwarding path: the event loop appends, a writer process commits.

The hot path (`SessionRecorder.record`) is one deque append and two integer updates: no parsing,
no SQLite, no locks. A feeder thread wakes every `flush_interval` (100 ms), takes everything queued and
pickles it down a pipe to a writer process (`inspector.store.writer`), which buffers it (bounded),
parses, redacts, extracts ids and commits each batch in one transaction.

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
"""

from __future__ import annotations

import collections
import logging
import pickle
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from inspector.protocol import Direction
from inspector.store._buffer import FRAME, LOST, OPEN, UPDATE
from inspector.store.factory import db_location
from inspector.store.values import StoreError

__all__ = ["Recorder", "RecorderStats", "SessionRecorder"]

log = logging.getLogger("inspector.recorder")

BATCH_ITEMS = 4096  # ~6 MB of audio frames per pickle at most
BUFFER_BYTES = 256 * 1024 * 1024
QUEUE_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 6.0  # how long the writer goes on trying after the tap closed its pipe


@dataclass
class RecorderStats:
    frames: int = 0  # committed
    batches: int = 0
    backlog_high_water: int = 0  # bytes queued but not yet committed, at worst
    writer_high_water: int = 0  # bytes in the writer's buffer, at worst
    dropped: int = 0  # frames forwarded but dropped by the writer's full buffer
    tap_dropped: int = 0  # ... or by the tap's queue, the writer not reading
    lost_at_exit: int = 0  # frames the writer still held when it had to stop

    @property
    def unrecorded(self) -> int:
        return self.dropped + self.tap_dropped + self.lost_at_exit


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
        self._recorder._enqueue((FRAME, self.key, direction is Direction.SERVER, t_ns, data), len(data))

    def update(self, **fields: Any) -> None:
        """Queue an update of the session row (status, close code, ...), applied in order."""
        self._recorder._enqueue((UPDATE, self.key, fields), 0)


class Recorder:
    """Owns the writer process. `start()`, `open_session()` per connection, `close()` drains."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        flush_interval: float = 0.1,
        warn_bytes: int = 64 * 1024 * 1024,
        buffer_bytes: int = BUFFER_BYTES,
        drain_seconds: float = DRAIN_SECONDS,
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
        self.stats = RecorderStats()
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        # Counters, each written by one thread only, so no lock is needed.
        self._enqueued_bytes = 0  # the event loop's
        self.enqueued_frames = 0
        self._sent_bytes = 0  # the feeder's
        self._written_bytes = 0  # the receiver's: committed, or dropped by the writer
        self._tap_lost: dict[int, int] = {}  # frames the queue had no room for, by session key
        self._warned = False
        self._dropping = False
        self._failed: str | None = None
        self._sessions: dict[int, SessionRecorder] = {}
        self._next_key = 0
        self._stop = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._feeder: threading.Thread | None = None
        self._receiver: threading.Thread | None = None
        self._stopped = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Recorder:
        """Start the writer; raises `StoreError` here if the database cannot be opened."""
        process = self._process = subprocess.Popen(
            # `-c`, not `-m`: this package has already imported the writer module.
            [
                sys.executable,
                "-c",
                "import sys; from inspector.store.writer import main; sys.exit(main())",
                str(self.db_path),
                str(self.buffer_bytes),
                str(self.drain_seconds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Its own process group: a signal to the tap's group (Ctrl-C, `timeout`) must not
            # kill the writer before the tap has handed it everything. Not its own session: with
            # Linux's autogroup scheduling a new session is a new CPU group whose share equals
            # the tap's, whatever the writer's nice value (it halved the tap's throughput).
            process_group=0,
        )
        # Both pipes exist: Popen was asked for them (its type leaves them optional).
        assert process.stdin is not None and process.stdout is not None
        try:
            ready = pickle.load(process.stdout)
        except EOFError:
            ready = ("error", "the writer process exited at start")
        if ready[0] != "ready":
            process.wait()
            raise StoreError(ready[1])
        self._feeder = threading.Thread(target=self._feed, args=(process.stdin,), name="inspector-feeder", daemon=True)
        self._receiver = threading.Thread(
            target=self._receive, args=(process, process.stdout), name="inspector-receiver", daemon=True
        )
        self._feeder.start()
        self._receiver.start()
        return self

    def close(self, timeout: float | None = None) -> None:
        """Write everything queued, then stop the writer. Blocks until done, or for at most
        `timeout` seconds: then the writer is killed (what it held is counted as unrecorded)."""
        if self._process is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        self._stop.set()
        for thread in (self._feeder, self._receiver):
            if thread is not None:
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        try:
            self._process.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.abort()
            if self._receiver is not None:
                self._receiver.join(1.0)  # its last answers, for the count below
        self._process = None
        if self.unwritten():
            log.error("%d forwarded frames could not be recorded", self.unwritten())
        if self.stats.backlog_high_water > self.warn_bytes:
            log.warning("recorder backlog peaked at %.1f MB", self.stats.backlog_high_water / 1e6)

    def abort(self) -> None:
        """Kill the writer now (a second Ctrl-C): what it has not committed is not recorded."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def unwritten(self) -> int:
        """Frames forwarded and not committed (yet, or ever): queued, buffered, dropped."""
        return self.enqueued_frames - self.stats.frames

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producers --------------------------------------------------------------------------

    def open_session(self, **fields: Any) -> SessionRecorder:
        """Queue the creation of a session row (fields as in `Store.create_session`)."""
        self._next_key += 1
        handle = self._sessions[self._next_key] = SessionRecorder(self, self._next_key)
        fields.setdefault("started_at", time.time())
        fields.setdefault("source", "tap")
        self._enqueue((OPEN, handle.key, fields), 0)
        return handle

    @property
    def backlog(self) -> int:
        """Bytes queued but not yet committed (or dropped)."""
        return self._enqueued_bytes - self._written_bytes

    def _enqueue(self, item: tuple[Any, ...], size: int) -> None:
        if self._failed is not None:
            # Logged once; forwarding goes on without recording. A session opened now will never
            # get a row: say so at once, or whoever waits for its id would wait forever.
            if item[0] == OPEN:
                handle = self._sessions.pop(item[1], None)
                if handle is not None and not handle.id.done():
                    handle.id.set_exception(StoreError(self._failed))
            return
        key = item[1]
        if item[0] == FRAME:
            self.enqueued_frames += 1
            if self._enqueued_bytes - self._sent_bytes > self._queue_bytes:
                # The writer is not even reading (stopped, starved of CPU): keep a bound, count.
                self._tap_lost[key] = self._tap_lost.get(key, 0) + 1
                self.stats.tap_dropped += 1
                return
        if key in self._tap_lost:
            self._queue.append((LOST, key, self._tap_lost.pop(key)))
        self._queue.append(item)
        self._enqueued_bytes += size
        backlog = self._enqueued_bytes - self._written_bytes
        if backlog > self.stats.backlog_high_water:
            self.stats.backlog_high_water = backlog
            if backlog > self.warn_bytes and not self._warned:
                self._warned = True
                log.warning("recorder is falling behind: %.1f MB queued", backlog / 1e6)

    # -- the feeder and receiver threads -------------------------------------------------------

    def _feed(self, pipe: IO[bytes]) -> None:
        """Every flush interval, send what is queued to the writer; at stop, send the rest."""
        try:
            while True:
                stopping = self._stop.wait(self.flush_interval)
                while self._queue:
                    # Bounded batches: a long backlog goes out in pieces the writer can commit.
                    count = min(len(self._queue), BATCH_ITEMS)
                    popleft = self._queue.popleft
                    batch = [popleft() for _ in range(count)]
                    self._sent_bytes += sum(len(item[4]) for item in batch if item[0] == FRAME)
                    pickle.dump(batch, pipe, protocol=pickle.HIGHEST_PROTOCOL)
                    pipe.flush()
                if stopping:
                    break
        except (BrokenPipeError, OSError) as exc:
            self._fail(f"the writer process is gone ({exc})")
        finally:
            try:
                pipe.close()  # EOF: the writer commits what it has and exits
            except OSError:
                pass

    def _receive(self, process: subprocess.Popen[bytes], answers: IO[bytes]) -> None:
        """Apply the writer's answers: session row ids, and how much is committed."""
        try:
            while True:
                message = pickle.load(answers)
                self._answer(message)
        except EOFError:
            pass
        finally:
            self._stopped.set()
            if process.wait() != 0:
                self._fail(f"the writer process exited with status {process.returncode}")
            for handle in list(self._sessions.values()):
                # The event loop's thread may have failed a new session's id meanwhile.
                if not handle.id.done():
                    try:
                        handle.id.set_exception(StoreError(self._failed or "recorder closed"))
                    except InvalidStateError:
                        pass

    def _answer(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "batch":
            _, opened, frames, size, high_water = message
            for key, row_id in opened.items():
                self._sessions.pop(key).id.set_result(row_id)
            self._written_bytes += size
            self.stats.frames += frames
            self.stats.batches += 1
            self.stats.writer_high_water = high_water
        elif kind == "dropped":
            self.stats.dropped += message[1]
            self._written_bytes += message[2]
            if not self._dropping:  # once per failure, not once per batch
                self._dropping = True
                log.warning("the recording buffer is full: dropping the oldest frames, counted on their sessions")
        elif kind == "lost":
            self.stats.lost_at_exit += message[1]
        elif kind == "error":
            log.error(
                "recording cannot write: %s; forwarding goes on, frames wait in the writer's buffer "
                "(up to %.0f MB) and are written when it can",
                message[1],
                self.buffer_bytes / 1e6,
            )
        elif kind == "recovered":
            self._dropping = False
            log.warning("recording writes again")

    def _fail(self, reason: str) -> None:
        if self._failed is None:
            self._failed = reason
            log.error("recording stopped: %s; traffic is still forwarded", reason)
