"""The recorder's writer process (started by `Recorder.start`).

argv: buffer limit in bytes, seconds to go on trying after the tap's end of the pipe closed; the
database (path or URL) in the environment variable `WRITER_DB_ENV`. Reads pickled batches of items from stdin (`inspector.store._wire`) in a reader
thread into a bounded `Buffer`, and commits them from another, one transaction per batch
(`inspector.store._batch`). Answers on stdout (pickled): the row ids of new sessions, the
sessions ended, what it committed (up to which item number), dropped or could not write, and
the first error of each kind of failure.

No failure stops recording for good: a commit that fails (disk full, the write lock held by
another process, an I/O error) leaves its batch in the buffer, is reported once with its real
cause, and is retried every `RETRY_PAUSE`; frames keep arriving, and past the buffer's limit the
oldest are dropped and counted on their session's row (`unrecorded_frames`).

It runs at a lower CPU priority than the relay and ignores the signals that stop the tap: at end
of input it commits what it can within the drain time, ends its lease and exits.
"""

from __future__ import annotations

import fcntl
import gc
import os
import pickle
import signal
import sys
import termios
import threading
import time
from typing import Any, BinaryIO

from inspector.store._batch import Sessions, write_batch
from inspector.store._buffer import Buffer
from inspector.store._wire import FRAME, OPEN, WRITER_DB_ENV, Item, numbered
from inspector.store.factory import open_store
from inspector.store.leases import RENEW_SECONDS
from inspector.store.store import Store
from inspector.store.values import StoreError

__all__ = ["main", "serve"]

COMMIT_ITEMS = 32768  # items a transaction commits at most (~45 MB of 20 ms audio frames) ...
COMMIT_BYTES = 64 * 1024 * 1024  # ... and frames' bytes (beside the buffer's 256 MB, not in it)
# How long a commit waits for more items, per session whose frames the last commit wrote, and at
# most. Each commit rewrites every B-tree page it touches, and one session's rows sit together
# (ids are session << 32 | seq), so a commit costs a few 16 KiB pages (events, frames and each
# index) per session whatever it holds; in proportion to those sessions, the wait makes the
# bytes written per second the same at any count up to the cap (200 sessions). At 200 sessions
# of 100 frames/s a commit per 0.1 s of traffic wrote 15-20 KB for each 1.4 KB frame; per 0.3 s
# (2 ms a session), 7.1 KB; per 1 s, 4.0 KB, and 24.7 µs of CPU a frame instead of 27.5 (benchmarks/writer_cost.py
# --sessions 200 --batch 6000, then 20000); the kernel's writeback shrinks with it. Sessions
# open but silent do not count, so a live tail of one among many idle ones waits a few ms.
LINGER_PER_SESSION = 0.005
MAX_LINGER = 1.0
RETRY_PAUSE = 0.2  # seconds between two attempts at a commit that failed
WRITE_WAIT = 1.0  # busy timeout of each attempt: short, so the drain deadline is kept
NICENESS = 19  # where SCHED_IDLE is refused: under contention the relay still mostly wins
CATCH_UP_POLL = 0.05
CATCH_UP_FULL_POLLS = 4  # the pipe full this many polls in a row: the idle reader is starved
STOPPED = "the tap stopped without closing the session"
GC_THRESHOLD = 70_000  # allocations between two collections of the youngest generation (700)


class _Writer:
    """Take a batch, commit it, retry what failed, answer the tap; from two threads in turn."""

    def __init__(self, store: Store, buffer: Buffer, sink: BinaryIO, drain_seconds: float) -> None:
        self.store = store
        self.buffer = buffer
        self.sink = sink
        self.drain_seconds = drain_seconds
        self.sessions = Sessions()
        self.lease: int | None = None
        self.renewed = time.monotonic()
        self.failing: str | None = None  # the cause of the failure under way, reported once
        self.lock = threading.Lock()  # one thread writes at a time: the idle one or the catch-up one
        self.batch: list[Item] = []  # taken from the buffer, not committed yet
        self.active = 0  # sessions the last commit wrote frames of: what the next one waits for
        self.deadline: float | None = None  # set once the tap has closed the pipe
        self.finished = False

    def answer(self, *message: Any) -> None:
        pickle.dump(message, self.sink)
        self.sink.flush()

    def run(self) -> None:
        """The writing thread, at the lowest CPU priority: a busy relay always preempts it."""
        _lower_priority()
        while (step := self.step()) != "done":
            if step == "retry":
                time.sleep(RETRY_PAUSE)

    def catch_up(self, reader: _Reader) -> None:
        """The main thread, at normal priority. When the machine is saturated the idle threads
        get no CPU at all: the pipe fills (the tap's queue grows, then drops frames) or the
        buffer does (then it drops the oldest). This thread steps in only then, each time for
        the least it can: it reads the pipe while it stays full (unpickling is cheap), and it
        writes only once the buffer is three quarters full, until it is half full. Below that
        the relay keeps the CPU (benchmarks/load.py: writing at normal priority from 64 MB on
        put the tap's added p99 at 200 sessions at ~125 ms)."""
        full_polls = 0
        high, low = self.buffer.limit * 3 // 4, self.buffer.limit // 2
        while not self.finished:
            time.sleep(CATCH_UP_POLL)
            full_polls = full_polls + 1 if reader.pipe_full() else 0
            if full_polls >= CATCH_UP_FULL_POLLS:
                while reader.pipe_full() and reader.read_once():
                    pass
            if self.buffer.size() < high:
                continue
            while not self.finished and self.buffer.size() >= low:
                if reader.pipe_full():
                    reader.read_once()
                if self.step() == "retry":
                    time.sleep(RETRY_PAUSE)

    def step(self) -> str:
        """One batch: 'done' when finished, 'retry' after a failed commit, else 'go'."""
        with self.lock:
            if self.finished:
                return "done"
            self.batch = self.batch or self.buffer.take(COMMIT_ITEMS, RENEW_SECONDS / 2, self._linger(), COMMIT_BYTES)
            if self.buffer.closed and self.deadline is None:
                self.deadline = time.monotonic() + self.drain_seconds
            self._note_dropped()
            if not self.batch and not self.sessions.lost:
                if self.buffer.closed and self.buffer.empty():
                    return self._finish()
                self._renew()
                return "go"
            if self._commit(self.batch):
                self.batch = []
                return "go"
            if self.deadline is not None and time.monotonic() > self.deadline:
                return self._finish()
            return "retry"

    def _linger(self) -> float:
        return min(MAX_LINGER, LINGER_PER_SESSION * self.active)

    def _commit(self, batch: list[Item]) -> bool:
        saved = self.sessions.save()
        try:
            if self.lease is None:
                self.lease = self.store.take_lease()
            done = write_batch(self.store, self.sessions, batch, self.lease)
        except StoreError as exc:
            self.sessions.restore(saved)
            self._report(str(exc))
            return False
        except Exception as exc:  # a bug on this batch: retrying would fail the same way
            self.sessions.restore(saved)
            self._report(f"{type(exc).__name__}: {exc} (one batch not recorded)")
            for item in batch:
                if item.kind == FRAME:
                    self.sessions.lost[item.key] = self.sessions.lost.get(item.key, 0) + 1
                elif item.kind == OPEN:  # its frames to come have nowhere to go
                    self.sessions.gone.add(item.key)
                    self.sessions.ids[item.key] = 0
            lost = [item for item in batch if item.kind == FRAME]
            self.answer("dropped", len(lost), sum(len(item.payload) for item in lost))
            self.answer("batch", {}, [], 0, self.buffer.high_water, batch[-1].number + 1)
            return True
        if self.failing is not None:
            self.failing = None
            self.answer("recovered")
        self.renewed = time.monotonic()  # a commit is as good as a renewal for a local reader
        self.active = done.sessions
        self.answer("batch", done.opened, done.ended, done.frames, self.buffer.high_water, done.upto)
        return True

    def _report(self, cause: str) -> None:
        if cause != self.failing:
            self.failing = cause
            self.answer("error", cause)

    def _note_dropped(self) -> None:
        dropped, size = self.buffer.dropped()
        if dropped:
            for key, count in dropped.items():
                self.sessions.lost[key] = self.sessions.lost.get(key, 0) + count
            self.answer("dropped", sum(dropped.values()), size)

    def _renew(self) -> None:
        if self.lease is None or time.monotonic() - self.renewed < RENEW_SECONDS:
            return
        try:
            self.store.renew_lease(self.lease)
            self.renewed = time.monotonic()
        except StoreError:
            pass  # the next commit or renewal tries again; a local reader needs none

    def _finish(self) -> str:
        """Say what could not be written, then end the lease (its open sessions interrupted)."""
        self.finished = True
        self._note_dropped()
        left = self.batch + self.buffer.take(1 << 62, timeout=0)
        lost = dict(self.sessions.lost)
        for item in left:
            if item.kind == FRAME:
                lost[item.key] = lost.get(item.key, 0) + 1
        self.answer("lost", sum(1 for item in left if item.kind == FRAME))
        try:
            # Out of time, the database may still take a small write: say on each session's
            # row what it lost. (Out of room or locked, this fails like the rest.)
            with self.store.transaction():
                for key, count in lost.items():
                    if key in self.sessions.ids and key not in self.sessions.gone:
                        self.store.add_unrecorded(self.sessions.ids[key], count)
                if self.lease is not None:
                    self.store.release_lease(self.lease, STOPPED)
        except StoreError:
            pass  # readers see the lease's holder gone once this process has exited
        return "done"


class _Reader:
    """Reads the tap's batches into the buffer. An idle-priority thread does it, so that
    unpickling never competes with the relay (a normal-priority reader cost the tap 10% of its
    throughput in benchmarks/tap_overhead.py); the catch-up thread reads too when the pipe stays
    full, i.e. when the idle one is starved. One at a time, under a lock."""

    def __init__(self, source: BinaryIO, buffer: Buffer) -> None:
        self.source = source
        self.buffer = buffer
        self.lock = threading.Lock()
        self.read = 0  # items read: the next one's number
        try:
            self.capacity = fcntl.fcntl(source.fileno(), fcntl.F_GETPIPE_SZ)
        except (AttributeError, OSError, ValueError):
            self.capacity = 1 << 16

    def run(self) -> None:
        _lower_priority()
        while self.read_once():
            pass

    def read_once(self) -> bool:
        """One batch into the buffer; False at the end of input."""
        with self.lock:
            if self.buffer.closed:
                return False
            try:
                items = numbered(pickle.load(self.source), self.read)
            except (EOFError, OSError, pickle.UnpicklingError):
                self.buffer.close()  # (a batch cut short by the tap's death is not one)
                return False
            self.read += len(items)
            if items:
                self.buffer.put(items)
            return True

    def pending(self) -> int:
        """Bytes waiting in the pipe (the feeder blocks on a full pipe when nobody reads)."""
        try:
            out = fcntl.ioctl(self.source.fileno(), termios.FIONREAD, b"\0\0\0\0")
        except (OSError, ValueError):
            return 0
        return int.from_bytes(out, sys.byteorder)

    def pipe_full(self) -> bool:
        return self.pending() >= self.capacity // 2


def serve(db_path: str, source: BinaryIO, sink: BinaryIO, *, limit: int, drain_seconds: float) -> int:
    try:
        store = open_store(db_path, busy_timeout=WRITE_WAIT, bulk_writer=True)
    except StoreError as exc:
        pickle.dump(("error", str(exc)), sink)
        sink.flush()
        return 1
    lease = None
    try:
        lease = store.take_lease()  # sweeps the sessions of recorders that died, at once
    except StoreError:
        pass  # locked or full now: taken before the first commit
    pickle.dump(("ready",), sink)
    sink.flush()
    buffer = Buffer(limit)
    reader = _Reader(source, buffer)
    threading.Thread(target=reader.run, name="inspector-writer-reader", daemon=True).start()
    writer = _Writer(store, buffer, sink, drain_seconds)
    writer.lease = lease
    idle = threading.Thread(target=writer.run, name="inspector-writer", daemon=True)
    idle.start()
    try:
        writer.catch_up(reader)
        idle.join()
        return 0
    finally:
        store.close()


def _lower_priority() -> None:
    """This thread only (Linux schedules threads): SCHED_IDLE, so that any runnable relay task
    preempts it at once, not after a time slice as with nice 19 (benchmarks/tap_overhead.py: tap
    throughput 0.85x -> 0.89-0.97x the bare relay). Nobody can undo it without privileges,
    hence a thread of its own rather than the process."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        except (AttributeError, OSError):
            pass


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    db_path = os.environ.pop(WRITER_DB_ENV)
    limit, drain = int(sys.argv[1]), float(sys.argv[2])
    # Each frame makes a dozen tuples, and the buffer may hold a million items: the collector's
    # passes over them took ~5% of this process's CPU at 200 sessions (perf). What it makes per
    # frame holds no cycle; collect 100 times less often.
    gc.set_threshold(GC_THRESHOLD, 10, 10)
    gc.freeze()  # what was made at start stays: no pass needs to visit it again
    return serve(db_path, sys.stdin.buffer, sys.stdout.buffer, limit=limit, drain_seconds=drain)
