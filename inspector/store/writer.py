"""The recorder's writer process (started by `Recorder.start`, database path in argv[1]).

Reads pickled batches from stdin, written by `Recorder`'s feeder thread, and commits each in one
transaction; answers on stdout with the row ids of new sessions and what it committed. It runs
at a lower CPU priority than the relay and ignores the signals that stop the tap, which then
lets the writer drain: at end of input it commits and exits.

Batch items: `(OPEN, key, fields)`, `(FRAME, key, is_server, t_ns, data)`, `(UPDATE, key, fields)`,
where `key` is the recorder's name for a session until its row id is known.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import time
from typing import Any, BinaryIO

from inspector.protocol import Direction
from inspector.store._codec import EventRow, FrameRow, event_rows
from inspector.store.store import Store
from inspector.store.values import FrameIn, StoreBusy, StoreError

OPEN, FRAME, UPDATE = 0, 1, 2
BUSY_PAUSE = 0.2  # seconds between two attempts on a locked database (each waits 10 s itself)
NICENESS = 19  # where SCHED_IDLE is refused: under contention the relay still mostly wins


class _Sessions:
    """What the writer knows of each session it records: row id and last seq, by key."""

    def __init__(self) -> None:
        self.ids: dict[int, int] = {}
        self.seqs: dict[int, int] = {}
        self.gone: set[int] = set()  # keys whose row was deleted while recording


def write_batch(store: Store, sessions: _Sessions, batch: list[tuple[Any, ...]]) -> tuple[dict[int, int], int, int]:
    """Commit one batch; returns (sessions opened: key → row id, frames written, bytes taken).

    A session deleted while it is recorded (by another process) loses its later frames, with one
    warning, and the other sessions go on being recorded (that used to stop the writer)."""
    opened: dict[int, int] = {}
    events: list[EventRow] = []
    bodies: list[FrameRow] = []
    per_session: dict[int, list[EventRow]] = {}
    updates: list[tuple[int, dict[str, Any]]] = []
    size = 0
    with store.transaction():
        _forget_deleted(store, sessions, batch)
        for item in batch:
            kind, key = item[0], item[1]
            if kind == FRAME:
                _, _, is_server, t_ns, data = item
                size += len(data)
                if key in sessions.gone:
                    continue
                session_id = sessions.ids[key]
                seq = sessions.seqs[key] = sessions.seqs[key] + 1
                direction = Direction.SERVER if is_server else Direction.CLIENT
                event, body = event_rows(session_id, seq, FrameIn(direction, t_ns, data))
                events.append(event)
                bodies.append(body)
                per_session.setdefault(session_id, []).append(event)
            elif kind == OPEN:
                sessions.ids[key] = opened[key] = store.create_session(**item[2])
                sessions.seqs[key] = 0
            elif key not in sessions.gone:
                updates.append((sessions.ids[key], item[2]))
        store.insert_rows(events, bodies)
        for session_id, rows in per_session.items():
            store.add_counts(session_id, rows)
        for session_id, fields in updates:
            store.update_session(session_id, **fields)
    return opened, len(events), size


def write_waiting(store: Store, sessions: _Sessions, batch: list[tuple[Any, ...]]) -> tuple[dict[int, int], int, int]:
    """`write_batch`, waiting as long as another process holds the write lock (a long import, a
    `sqlite3` shell): the batch waits in memory, the tap's back-pressure bounds how much, and
    nothing is lost. Each attempt already waits for the busy timeout (10 s)."""
    waited = False
    while True:
        saved = (dict(sessions.ids), dict(sessions.seqs), set(sessions.gone))
        try:
            answer = write_batch(store, sessions, batch)
        except StoreBusy as exc:
            sessions.ids, sessions.seqs, sessions.gone = saved  # the transaction was rolled back
            if not waited:
                print(f"inspector: {exc}; recording waits for the lock, nothing is lost", file=sys.stderr, flush=True)
            waited = True
            time.sleep(BUSY_PAUSE)
            continue
        if waited:
            print("inspector: the database is writable again; recording goes on", file=sys.stderr, flush=True)
        return answer


def _forget_deleted(store: Store, sessions: _Sessions, batch: list[tuple[Any, ...]]) -> None:
    """Mark the sessions of this batch whose rows were deleted since the last one."""
    keys = {item[1] for item in batch if item[0] != OPEN and item[1] in sessions.ids} - sessions.gone
    if not keys:
        return
    alive = store.existing(sessions.ids[key] for key in keys)
    for key in keys:
        if sessions.ids[key] not in alive:
            sessions.gone.add(key)
            print(
                f"inspector: session {sessions.ids[key]} was deleted while it was being recorded; "
                "its later frames are not recorded",
                file=sys.stderr,
                flush=True,
            )


def serve(db_path: str, source: BinaryIO, sink: BinaryIO) -> int:
    try:
        store = Store(db_path)
    except StoreError as exc:
        pickle.dump(("error", str(exc)), sink)
        sink.flush()
        return 1
    pickle.dump(("ready",), sink)
    sink.flush()
    sessions = _Sessions()
    try:
        while True:
            try:
                batch = pickle.load(source)
            except EOFError:
                return 0
            answer = ("batch", *write_waiting(store, sessions, batch))
            pickle.dump(answer, sink)
            sink.flush()
    except Exception as exc:  # report, so the tap can say why recording stopped
        pickle.dump(("error", f"{type(exc).__name__}: {exc}"), sink)
        sink.flush()
        return 1
    finally:
        store.close()


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    try:
        # SCHED_IDLE: any runnable relay task preempts the writer at once, not after a time
        # slice as with nice 19 (benchmarks/tap_overhead.py: tap throughput 0.85x -> 0.89-0.97x the bare relay).
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.nice(NICENESS)
        except OSError:
            pass
    return serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
