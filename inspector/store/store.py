"""The `Store`: the one API through which every part reads and writes recordings.

    store = Store("recordings/inspector.db")          # creates the file (mode 0600) if needed
    for s in store.sessions():                          # newest first
        print(s.id, s.model, s.client_events)
    for ev in store.events(s.id, with_frames=True):     # in seq order, paged by seq
        print(ev.seq, ev.direction, ev.type, ev.frame)
    store.page(s.id, 100, 199)                          # events by seq range
    store.count(s.id), store.type_counts(s.id)          # how many, and of which types
    f = compile_filter("type:response.* is:error")      # inspector.store.filter
    store.seqs_matching(s.id, f)                        # seqs matching a filter, in order
    store.events_matching(s.id, f)                      # ... or the events themselves

The contract (what a second backend, e.g. PostgreSQL, implements so that no caller changes):

- Values in, values out: callers pass and get `SessionInfo`, `Event`, `FrameIn`,
  `SessionStatus`, `CompiledFilter` and plain ints and strings. No SQL, cursor, row or
  connection crosses the API, and callers never see how an event's id is built: a session's
  events are addressed by (session id, seq).
- Sessions: `create_session`, `update_session`, `set_label`, `delete_session`, `session`
  (raises `SessionNotFound`), `sessions` (newest first: `started_at` then id, descending),
  `existing`. Session ids are never reused, even after a delete.
- Many sessions (a list view pages them, as it pages events): `session_ids(sort=, search=)`
  gives the ids in the order of one of `SESSION_SORTS` (as `SessionInfo` reads: an orphaned
  open session sorts and matches as interrupted; unknown durations last; ties newest first),
  keeping those whose id, model, source, status, label, path, client address or target URL
  holds every word of `search` (ASCII case folded; `%` and `_` are plain characters); `sessions_at(ids)` the sessions of a page
  of them, in that order; `session_count()` how many there are.
- Events: `append_events` numbers a session's events 1, 2, 3, ... densely in arrival order;
  `import_session` writes a session and all its frames atomically (all or nothing).
  `last_seq`, `count`, `type_counts` (most frequent first; untyped frames under ''), `page`
  (first <= seq <= last, in seq order, in time independent of the position: never OFFSET),
  `events` (every event in seq order, streamed in pages so memory stays flat), `events_at`
  (the events of a list of seqs), `event`, `frame`.
  A frame reads back byte for byte as it was written, after redaction.
- Audio measured, not read: `page(..., with_frames=True, audio="length")` and `events(...)`
  likewise hand out each frame whose audio the backend keeps apart (the base64 value of the
  event type's field in `inspector.protocol.AUDIO_FIELDS`) with that value cut to `""` and
  `Event.audio_size` set to its decoded length in bytes, every other byte as written; any other
  frame comes whole, with `audio_size` None. A backend that keeps audio inline may hand out every
  frame whole. What a diff needs: the length of each audio chunk, without encoding megabytes of
  it back to base64 (`audio="frame"`, the default, gives the exact frame).
(The reading half of this API is `inspector.store._reads.EventReads`, the sorted and searched
session ids `inspector.store._session_list.SessionList`, the leases'
`inspector.store.leases.LeaseMethods`: all mixed into `Store`.)

- Filters: `seqs_matching(session_id, compiled)` returns the matching seqs in ascending order,
  `events_matching(session_id, compiled, with_frames=...)` the events themselves, streamed;
  `compiled.after_seq` restricts them to later events (live tail). A backend translates
  `CompiledFilter` to its own query language; the filter language is the same everywhere.
- Leases (who records an open session; `inspector.store.leases`): `take_lease()` first ends
  every dead holder's lease, writing `interrupted` into its open sessions, then returns a new
  lease for the calling process; `create_session(..., lease=...)` ties a session to it;
  `renew_lease(lease)` is called every few seconds while the process lives; `release_lease(lease,
  reason)` interrupts what is still open under it and drops it. `session`/`sessions` report an
  open session whose holder is dead as `interrupted` at once, without writing, and
  `data_version()` changes when a holder dies. A backend decides "dead" in its own way, but it
  must be decided by a reader without the holder's help: here, on one machine, by the holder's
  pid and process start time; across machines (PostgreSQL), by a lease not renewed within its
  expiry (`EXPIRE_SECONDS`), or the server's own liveness (e.g. an advisory lock held by the
  holder's connection). `add_unrecorded(session_id, n)` counts frames lost to recording
  (`SessionInfo.unrecorded_frames`), inside the caller's transaction.
- Redaction happens inside the store, on every write path (frames and session metadata), so no
  writer can forget it: nothing unredacted reaches the database.
- Errors: only `StoreError` and its subclasses leave the store (`StoreBusy` for a write lock held
  past the busy timeout, `StoreInterrupted` for a read aborted by `interrupt()`,
  `SessionNotFound`), never the driver's own exceptions; `ValueError` for fields that do not
  exist. Opening raises `StoreError` for a missing, foreign, newer or damaged database, and,
  when opened to write (`create=True`, as every writer does), for one it cannot write.
- Transactions: `with store.transaction():` makes the writes inside one atomic commit; nested
  uses join the outer one. `data_version()` changes when another connection commits (cheap).
- Threads: one `Store` per thread at a time (open one per thread); only `interrupt()` may be
  called from another thread, to cancel the query running on this one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from inspector.store._codec import (
    EventRow,
    FrameRow,
    event_rows,
    key_range,
    session_from_row,
    session_row,
)
from inspector.store._reads import PAGE_ROWS, AudioRead, EventReads
from inspector.store._session_list import SESSION_SORTS, SessionList
from inspector.store._sqlite import Transaction, guarded, store_error
from inspector.store.files import create_private_file
from inspector.store.leases import ORPHANED, LeaseMethods
from inspector.store.schema import SchemaError, migrate
from inspector.store.values import (
    FrameIn,
    SessionInfo,
    SessionNotFound,
    SessionStatus,
    StoreError,
)

__all__ = ["PAGE_ROWS", "SESSION_SORTS", "AudioRead", "Store"]


_READ_ONLY_DIRECTORY = "is its directory read-only? SQLite keeps its -wal and -shm files there"


def _read_only(path: Path) -> str:
    return (
        f"{path} is read-only (the file, or its directory, where SQLite keeps its -wal and -shm "
        "files): nothing could be recorded into it; fix its permissions or choose another --db"
    )


class Store(EventReads, SessionList, LeaseMethods):
    """A recordings database in one SQLite file. See the module docstring for the contract."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, busy_timeout: float = 10.0) -> None:
        """Open (or with `create`, make) the database; a write waits up to `busy_timeout`
        seconds for another connection's write lock before it fails with `StoreBusy`."""
        self.path = Path(path)
        self._prepare_file(create)
        try:
            # Autocommit mode: transactions are explicit (BEGIN ... COMMIT) below.
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            migrate(self._conn)
            if create:
                self._check_writable()
        except SchemaError as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if "readonly" in str(exc):
                raise StoreError(_read_only(self.path)) from exc
            if "unable to open" in str(exc):  # the file opened: its -wal or -shm could not
                raise StoreError(f"{self.path}: {exc}: {_READ_ONLY_DIRECTORY}") from exc
            raise StoreError(f"{self.path} is not a usable database: {exc}") from exc
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
        self._db = sqlite_utils.Database(self._conn)

    def _prepare_file(self, create: bool) -> None:
        if not self.path.exists():
            if not create:
                raise StoreError(
                    f"no database at {self.path} (record one with `inspector tap`, or run `inspector demo`)"
                )
            try:
                create_private_file(self.path)
            except OSError as exc:
                raise StoreError(f"cannot create {self.path}: {exc.strerror or exc}") from exc
        elif self.path.is_file() and self.path.stat().st_size == 0:
            # An empty file is a valid empty SQLite database: only a writer may make it ours.
            if not create:
                raise StoreError(f"{self.path} is an empty file, not a recordings database")
            try:
                os.chmod(self.path, 0o600)
            except OSError as exc:
                raise StoreError(f"cannot make {self.path} private (mode 0600): {exc.strerror or exc}") from exc

    def _check_writable(self) -> None:
        """A writer's open fails now, not at its first commit, on a database it cannot write (a
        read-only file, or a directory where SQLite cannot create its -wal and -shm files):
        the tap would otherwise start, forward, and record nothing. A rolled-back schema change
        is the one probe that SQLite refuses in every such case (`BEGIN IMMEDIATE` passes on a
        read-only file)."""
        timeout = self._conn.execute("PRAGMA busy_timeout").fetchone()[0]
        self._conn.execute("PRAGMA busy_timeout=0")  # a held write lock is no answer: see below
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("CREATE TABLE _inspector_write_probe (x)")
        except sqlite3.OperationalError as exc:
            # Locked by another writer (an import): writable, and the writer waits for its turn.
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        finally:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._conn.execute(f"PRAGMA busy_timeout={int(timeout)}")

    @guarded
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------

    def transaction(self) -> Transaction:
        """`with store.transaction():` groups writes into one atomic commit."""
        return Transaction(self._conn)

    @guarded
    def data_version(self) -> int:
        """Changes when another connection commits, or when a recording process dies without
        closing its sessions (they now read as interrupted): a cheap check for live views."""
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        return version + (self._dead_leases() << 40)

    # -- sessions -----------------------------------------------------------------------------

    @guarded
    def sessions(self, *, limit: int | None = None) -> list[SessionInfo]:
        """All sessions, newest first."""
        sql = "SELECT * FROM sessions ORDER BY started_at DESC, id DESC"
        params: list[Any] = []
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._with_owners([session_from_row(row) for row in self._db.query(sql, params)])

    @guarded
    def sessions_at(self, session_ids: Sequence[int]) -> list[SessionInfo]:
        """The sessions of these ids, in this order (ids deleted meanwhile are left out)."""
        ids = list(session_ids)
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = {row["id"]: row for row in self._db.query(f"SELECT * FROM sessions WHERE id IN ({marks})", ids)}
        return self._with_owners([session_from_row(rows[i]) for i in ids if i in rows])

    @guarded
    def session_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM sessions").fetchone()[0])

    @guarded
    def session(self, session_id: int) -> SessionInfo:
        rows = list(self._db.query("SELECT * FROM sessions WHERE id = ?", [session_id]))
        if not rows:
            raise SessionNotFound(session_id)
        return self._with_owners([session_from_row(rows[0])])[0]

    def _with_owners(self, infos: list[SessionInfo]) -> list[SessionInfo]:
        """Open sessions whose recording process is gone read as interrupted, at once."""
        orphaned = self._orphaned([info.id for info in infos if info.status == SessionStatus.OPEN])
        for info in infos:
            if info.id in orphaned:
                info.status = SessionStatus.INTERRUPTED
                info.error = info.error or ORPHANED
        return infos

    @guarded
    def create_session(
        self, *, source: str, status: SessionStatus = SessionStatus.OPEN, lease: int | None = None, **fields_: Any
    ) -> int:
        """Insert a session row and return its id. Fields are those of `SessionInfo`; `lease`
        (from `take_lease`) names the recording process, so that its death shows."""
        fields_.setdefault("started_at", time.time())
        row = session_row({"source": source, "status": status, **fields_})
        if lease is not None:
            row["lease"] = lease
        with self.transaction():
            return self._insert_session(row)

    def _insert_session(self, row: dict[str, Any]) -> int:
        # Raw SQL, not sqlite-utils' insert: that one commits on its own, which would break the
        # single transaction of an import.
        cur = self._conn.execute(
            f"INSERT INTO sessions ({', '.join(f'[{k}]' for k in row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
        assert cur.lastrowid is not None  # an INSERT into a rowid table always sets it
        return cur.lastrowid

    @guarded
    def existing(self, session_ids: Iterable[int]) -> set[int]:
        """Which of these sessions still exist (one may be deleted while it is recorded)."""
        ids = list(session_ids)
        if not ids:
            return set()
        marks = ", ".join("?" for _ in ids)
        return {row[0] for row in self._conn.execute(f"SELECT id FROM sessions WHERE id IN ({marks})", ids)}

    @guarded
    def update_session(self, session_id: int, **fields_: Any) -> None:
        row = session_row(fields_)
        with self.transaction():
            cur = self._conn.execute(
                f"UPDATE sessions SET {', '.join(f'[{k}] = ?' for k in row)} WHERE id = ?",
                [*row.values(), session_id],
            )
        if cur.rowcount == 0:
            raise SessionNotFound(session_id)

    def set_label(self, session_id: int, label: str | None) -> None:
        self.update_session(session_id, label=label or None)

    @guarded
    def delete_session(self, session_id: int) -> None:
        self.session(session_id)
        lo, hi = key_range(session_id)
        with self.transaction():
            self._conn.execute("DELETE FROM frames WHERE id BETWEEN ? AND ?", (lo, hi))
            self._conn.execute("DELETE FROM events WHERE id BETWEEN ? AND ?", (lo, hi))
            self._conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # -- writing events -----------------------------------------------------------------------

    @guarded
    def append_events(self, session_id: int, frames: Iterable[FrameIn]) -> int:
        """Append frames after the session's last seq, in one transaction; returns the count.
        Session counters are brought up to date in the same transaction."""
        with self.transaction():
            return self._append(session_id, self.last_seq(session_id), frames)

    def _append(self, session_id: int, last_seq: int, frames: Iterable[FrameIn]) -> int:
        """Write frames in batches of PAGE_ROWS, so that memory stays flat on huge imports;
        the caller's transaction makes them one atomic write."""
        count = 0
        batch: list[FrameIn] = []
        for frame in frames:
            batch.append(frame)
            if len(batch) == PAGE_ROWS:
                count += self._append_batch(session_id, last_seq + count, batch)
                batch = []
        return count + self._append_batch(session_id, last_seq + count, batch)

    def _append_batch(self, session_id: int, last_seq: int, frames: list[FrameIn]) -> int:
        rows = [event_rows(session_id, seq, f) for seq, f in enumerate(frames, start=last_seq + 1)]
        events = [event for event, _ in rows]
        self.insert_rows(events, [body for _, body in rows])
        self.add_counts(session_id, events)
        return len(events)

    @guarded
    def insert_rows(self, events: Sequence[EventRow], bodies: Sequence[FrameRow]) -> None:
        """Low-level batch insert of rows made by `event_rows` (the recorder's fast path, inside
        this package only). The caller holds the transaction."""
        self._conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", events)
        self._conn.executemany("INSERT INTO frames VALUES (?,?,?,?)", bodies)

    @guarded
    def add_counts(self, session_id: int, events: Sequence[EventRow]) -> None:
        """Add rows made by `event_rows` to the session's counters (no rescan of the session,
        which would cost O(events) per batch on a long live session)."""
        if not events:
            return
        server = sum(row.dir for row in events)
        self._conn.execute(
            """UPDATE sessions SET client_events = client_events + ?,
                 server_events = server_events + ?, error_events = error_events + ?,
                 bytes = bytes + ?, duration_ns = max(duration_ns, ?) WHERE id = ?""",
            (
                len(events) - server,
                server,
                sum(row.is_error for row in events),
                sum(row.size for row in events),
                max(row.t_ns for row in events),
                session_id,
            ),
        )

    @guarded
    def import_session(self, frames: Iterable[FrameIn], *, source: str = "import", **fields_: Any) -> int:
        """Create a session and write all its frames in ONE transaction: an import that fails
        half way leaves the database unchanged."""
        fields_.setdefault("started_at", time.time())
        fields_.setdefault("status", SessionStatus.CLOSED)
        row = session_row({"source": source, **fields_})
        with self.transaction():
            session_id = self._insert_session(row)
            self._append(session_id, 0, frames)
        return session_id
