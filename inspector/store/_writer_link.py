"""The recorder's link to its writer process: starting it, feeding it, reading its answers,
and replacing it when it dies (see `inspector.store.recorder` for the why).

A mixin of `Recorder` (as the leases are of `Store`): one idea, kept apart from the recorder's
public face and its hot path.
"""

from __future__ import annotations

import collections
import logging
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import InvalidStateError
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from inspector.store._unacked import Unacked
from inspector.store._wire import ADOPT, FRAME, LOST, WRITER_DB_ENV, Entry, dump, write_all
from inspector.store.values import StoreError

if TYPE_CHECKING:
    from inspector.store.recorder import RecorderStats, SessionRecorder

__all__ = ["BATCH_ITEMS", "WriterLink"]

log = logging.getLogger("inspector.recorder")

# Items per pickle. pickle.dumps holds the GIL, so the event loop waits while it runs: 4,096
# audio frames took 4.4 ms, 256 take ~0.25 ms (the write between two pickles releases it).
BATCH_ITEMS = 256


class WriterLink:
    """The feeder and receiver threads, and the writer process they talk to."""

    db_path: str | Path  # a file, or a PostgreSQL URL
    buffer_bytes: int
    drain_seconds: float
    flush_interval: float
    restarts: int
    stats: RecorderStats
    _queue: collections.deque[Entry]
    _unacked: Unacked
    _sent_bytes: int
    _written_bytes: int
    _dropping: bool
    _failed: str | None
    _sessions: dict[int, SessionRecorder]
    _recording: dict[int, int]
    _dying: int
    _stop: threading.Event
    _closing: bool
    _process: subprocess.Popen[bytes] | None
    _receiver: threading.Thread | None

    def _spawn(self) -> subprocess.Popen[bytes]:
        """A writer process, ready, and the thread that reads its answers."""
        process = subprocess.Popen(
            # `-c`, not `-m`: this package has already imported the writer module.
            [
                sys.executable,
                "-c",
                "import sys; from inspector.store.writer import main; sys.exit(main())",
                str(self.buffer_bytes),
                str(self.drain_seconds),
            ],
            # The database in the environment, not argv: a PostgreSQL URL may hold a password, and
            # any user can read a process's argv (/proc/PID/cmdline), only its owner its environment.
            env={**os.environ, WRITER_DB_ENV: str(self.db_path)},
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
        except (EOFError, OSError, pickle.UnpicklingError):
            ready = ("error", "the writer process exited at start")
        if ready[0] != "ready":
            process.wait()
            _close_pipes(process)
            raise StoreError(ready[1])
        self._process = process
        self._receiver = threading.Thread(
            target=self._receive, args=(process.stdout,), name="inspector-receiver", daemon=True
        )
        self._receiver.start()
        return process

    def _feed(self) -> None:
        """Every flush interval, send what is queued to the writer, replacing a writer that
        died; at stop, send the rest and close the pipe (the writer then drains and exits)."""
        process = self._process
        while process is not None:
            stopping = self._stop.wait(self.flush_interval)
            try:
                if process.poll() is not None and not self._closing:
                    new = self._replace(process)
                    if new is None:
                        return
                    process = new
                self._send(process)
            except OSError:  # the writer died while we wrote: replaced at the next turn
                process.wait()
                if self._closing:
                    break
                continue
            if stopping:
                break
        if process is not None and process.stdin is not None:
            try:
                process.stdin.close()  # EOF: the writer commits what it has and exits
            except OSError:
                pass

    def _send(self, process: subprocess.Popen[bytes]) -> None:
        queue = self._queue
        count = min(len(queue), BATCH_ITEMS)  # bounded: a long backlog goes in pieces
        while count:
            popleft = queue.popleft
            self._write(process, [popleft() for _ in range(count)])
            count = min(len(queue), BATCH_ITEMS)

    def _write(self, process: subprocess.Popen[bytes], entries: list[Entry]) -> None:
        assert process.stdin is not None  # Popen was asked for it
        size = sum(len(entry[4]) for entry in entries if entry[0] == FRAME)
        data = dump(entries)
        self._sent_bytes += size
        self._unacked.sent(data, entries, size)  # first: the writer may die during the write
        write_all(process.stdin.fileno(), data)

    def _replace(self, dead: subprocess.Popen[bytes]) -> subprocess.Popen[bytes] | None:
        """Start a writer in place of one that died; it adopts the sessions being recorded and
        gets what the dead one had not committed. None when recording has to stop."""
        status = dead.wait()
        if self._receiver is not None:
            self._receiver.join()  # every answer the dead writer gave is counted
        _close_pipes(dead)
        self._dying += 1
        if self._dying > self.restarts:
            self._fail(f"the writer process exited with status {status}, {self._dying} times in a row")
            return None
        try:
            process = self._spawn()
        except StoreError as exc:
            self._fail(f"the writer process exited with status {status} and a new one cannot start: {exc}")
            return None
        adopt: list[Entry] = [(ADOPT, key, 0, row_id, None) for key, row_id in self._recording.items()]
        again, lost = self._unacked.restart(len(adopt))
        lost_frames = sum(lost.values())
        self.stats.restarts += 1
        self.stats.lost_to_restarts += lost_frames
        log.error(
            "the writer process died (status %d); a new one adopts %d open sessions and gets %d unacknowledged "
            "items again%s",
            status,
            len(adopt),
            len(again),
            f"; {lost_frames} frames are lost (counted on their sessions)" if lost_frames else "",
        )
        assert process.stdin is not None
        if adopt:
            write_all(process.stdin.fileno(), dump(adopt))  # not kept: made afresh at each restart
        again += [(LOST, key, 0, count, None) for key, count in lost.items()]
        for start in range(0, len(again), BATCH_ITEMS):
            self._write(process, again[start : start + BATCH_ITEMS])
        return process

    def _receive(self, answers: IO[bytes]) -> None:
        """Apply the writer's answers: session row ids, and how much is committed."""
        try:
            while True:
                self._answer(pickle.load(answers))
        except (EOFError, OSError, pickle.UnpicklingError):
            pass  # the writer exited (or died: the feeder replaces it)

    def _answer(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "batch":
            _, opened, ended, frames, high_water, upto = message
            for key, row_id in opened.items():
                self._recording[key] = row_id
                handle = self._sessions.pop(key, None)
                # The event loop's thread may have failed a new session's id meanwhile; an
                # exception here would end this thread and every acknowledgement after it.
                if handle is not None and not handle.id.done():
                    try:
                        handle.id.set_result(row_id)
                    except InvalidStateError:
                        pass
            for key in ended:
                self._recording.pop(key, None)
            self._written_bytes += self._unacked.ack(upto)
            self.stats.frames += frames
            self.stats.writer_high_water = high_water
            self._dying = 0
        elif kind == "dropped":
            self.stats.dropped += message[1]
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
        self._fail_waiting(reason)

    def _fail_waiting(self, reason: str) -> None:
        """Sessions still waiting for a row id will never get one."""
        for handle in list(self._sessions.values()):
            # The event loop's thread may fail a new session's id meanwhile.
            if not handle.id.done():
                try:
                    handle.id.set_exception(StoreError(self._failed or reason))
                except InvalidStateError:
                    pass


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    """A writer that failed or died keeps no file descriptors of ours open."""
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass
