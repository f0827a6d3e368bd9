"""The `Store`: the one API through which every part reads and writes recordings.

    store = open_store("recordings/inspector.db")     # creates the file (mode 0600) if needed
    store = open_store("postgresql://me@db.internal/recordings")   # or on a PostgreSQL server
    for s in store.sessions():                          # newest first
        print(s.id, s.model, s.client_events)
    for ev in store.events(s.id, with_frames=True):     # in seq order, paged by seq
        print(ev.seq, ev.direction, ev.type, ev.frame)
    store.page(s.id, 100, 199)                          # events by seq range
    store.count(s.id), store.type_counts(s.id)          # how many, and of which types
    f = compile_filter("type:response.* is:error")      # inspector.store.filter
    store.seqs_matching(s.id, f)                        # seqs matching a filter, in order
    store.events_matching(s.id, f)                      # ... or the events themselves

`inspector.store.open_store` opens a path as this SQLite `Store` and a `postgresql://` URL as
`inspector.store.postgres.PostgresStore`: two backends of one contract, which is (what every
backend implements so that no caller changes):

- Values in, values out: callers pass and get `SessionInfo`, `Event`, `FrameIn`,
  `SessionStatus`, `CompiledFilter` and plain ints and strings. No SQL, cursor, row or
  connection crosses the API, and callers never see how an event's id is built: a session's
  events are addressed by (session id, seq).
- Sessions: `create_session`, `update_session`, `set_label`, `delete_session`, `session`
  (raises `SessionNotFound`), `sessions` (newest first: `started_at` then id, descending),
  `existing`. Session ids are never reused, even after a delete. Each session also has a
  globally unique `uid` (made by `create_session`/`import_session` unless the caller passes
  one, e.g. `import_session(..., uid=...)` to keep an exported or pushed session's; it never
  changes: `update_session(uid=...)` is a `ValueError`) and the `host` that recorded it (the
  caller's, `recording_host()` for a tap; None when unknown). `session_id_for_uid(uid)` finds
  a session by uid (None when absent): how a push or an import tells it already has one.
- Many sessions (a list view pages them, as it pages events): `session_ids(sort=, search=)`
  gives the ids in the order of one of `SESSION_SORTS` (as `SessionInfo` reads: an orphaned
  open session sorts and matches as interrupted; unknown durations last; ties newest first),
  keeping those whose id, model, source, status, label, path, client address, target URL or
  host holds every word of `search` (ASCII case folded; `%` and `_` are plain characters), and
  whose host is one of its `host:NAME` terms (the whole name, case folded) when it has any;
  `sessions_at(ids)` the sessions of a page of them, in that order; `session_count()` how many
  there are; `session_hosts()` the hosts that recorded them.
- Events: `append_events` numbers a session's events 1, 2, 3, ... densely in arrival order;
  `import_session` writes a session and all its frames atomically (all or nothing).
  The tap's writer uses `insert_rows` (rows from `event_rows`) and `add_counts`: rows whose ids
  are written already are skipped and not counted again, so a batch sent twice is written once.
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
`inspector.store.leases.LeaseMethods`, what both backends do alike
`inspector.store._shared.SharedMethods`: all mixed into `Store`.)

- Filters: `seqs_matching(session_id, compiled)` returns the matching seqs in ascending order,
  `events_matching(session_id, compiled, with_frames=...)` the events themselves, streamed;
  `compiled.after_seq` restricts them to later events (live tail). A backend translates
  `CompiledFilter` to its own query language; the filter language is the same everywhere.
- Leases (who records an open session; `inspector.store.leases`): `take_lease()` first ends
  every dead holder's lease, writing `interrupted` into its open sessions, then returns a new
  lease for the calling process; `create_session(..., lease=...)` ties a session to it;
  `renew_lease(lease)` is called every few seconds while the process lives; `release_lease(lease,
  reason)` interrupts what is still open under it and drops it; `adopt_sessions(lease, ids)`
  lets a recorder whose writer died and was replaced take over the sessions it was recording
  (tied to the new lease; those the death made `interrupted` are `open` again, the orphan's
  error and end time cleared; sessions that ended otherwise are left alone). `session`/`sessions` report an
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
  uses join the outer one. `data_version()` changes when another connection commits (cheap;
  PostgreSQL's also moves on this connection's own commits: a spurious change costs a re-read).
- Threads: one `Store` per thread at a time (open one per thread); only `interrupt()` may be
  called from another thread, to cancel the query running on this one.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from inspector.store._codec import (
    EventRow,
    FrameRow,
    session_from_row,
)
from inspector.store._reads import PAGE_ROWS, AudioRead, EventReads
from inspector.store._session_list import SESSION_SORTS, SessionList
from inspector.store._shared import SharedMethods
from inspector.store._sqlite import Transaction, guarded, store_error
from inspector.store.files import create_private_file
from inspector.store.leases import LeaseMethods
from inspector.store.schema import SEQ_BITS, SchemaError, migrate
from inspector.store.values import (
    SessionInfo,
    SessionNotFound,
    StoreError,
)
from inspector.store.views import ensure_views

__all__ = ["PAGE_ROWS", "SESSION_SORTS", "AudioRead", "Store"]


_READ_ONLY_DIRECTORY = "is its directory read-only? SQLite keeps its -wal and -shm files there"


def _read_only(path: Path) -> str:
    return (
        f"{path} is read-only (the file, or its directory, where SQLite keeps its -wal and -shm "
        "files): nothing could be recorded into it; fix its permissions or choose another --db"
    )


# For the recorder's writer, which commits a few pages of each of up to hundreds of sessions at
# a time (benchmarks/load.py at 200 sessions): a 32 MB page cache (SQLite's 2 MB re-read every
# session's pages from the OS at each commit), and a checkpoint every 64 MB of WAL instead of
# 16 MB (a page rewritten by several commits is copied into the database once: 22% less written).
_BULK_PRAGMAS = ("PRAGMA cache_size=-32768", "PRAGMA wal_autocheckpoint=4096")


class Store(EventReads, SessionList, LeaseMethods, SharedMethods):
    """A recordings database in one SQLite file. See the module docstring for the contract."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        busy_timeout: float = 10.0,
        bulk_writer: bool = False,
    ) -> None:
        """Open (or with `create`, make) the database; a write waits up to `busy_timeout`
        seconds for another connection's write lock before it fails with `StoreBusy`.
        `bulk_writer`: this connection records many sessions at once (see `_BULK_PRAGMAS`)."""
        self.path = Path(path)
        self._prepare_file(create)
        try:
            # Autocommit mode: transactions are explicit (BEGIN ... COMMIT) below.
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path} is not a usable database: {exc}") from exc
        try:
            self._prepare_connection(create, busy_timeout)
            for pragma in _BULK_PRAGMAS if bulk_writer else ():
                self._conn.execute(pragma)
        except BaseException:
            self._conn.close()  # a failed open leaves no connection behind
            raise
        self._db = sqlite_utils.Database(self._conn)

    def _prepare_connection(self, create: bool, busy_timeout: float) -> None:
        try:
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            migrate(self._conn)
            if create:
                self._check_writable()
                ensure_views(self._conn)
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

    @guarded
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
    def session_id_for_uid(self, uid: str) -> int | None:
        row = self._conn.execute("SELECT id FROM sessions WHERE uid = ?", (uid,)).fetchone()
        return None if row is None else int(row[0])

    @guarded
    def _run(self, sql: str, params: Sequence[Any]) -> int:
        return self._conn.execute(sql, params).rowcount

    # -- writing events -----------------------------------------------------------------------

    @guarded
    def insert_rows(self, events: Sequence[EventRow], bodies: Sequence[FrameRow]) -> None:
        """Low-level batch insert of rows made by `event_rows` (the recorder's fast path, inside
        this package only). The caller holds the transaction. Rows already written (a batch
        sent again) are skipped, and `add_counts` then leaves them out."""
        self._skipped = self._written(events or bodies)
        if self._skipped:
            events = [row for row in events if row.id not in self._skipped]
            bodies = [row for row in bodies if row.id not in self._skipped]
        self._conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", events)
        self._conn.executemany("INSERT INTO frames VALUES (?,?,?,?)", bodies)

    def _written(self, rows: Sequence[EventRow] | Sequence[FrameRow]) -> set[int]:
        """Which of these rows' ids are in `events` already: one rowid range scan per session
        (nothing to find past a session's last event, the usual case)."""
        ranges: dict[int, tuple[int, int]] = {}
        for row in rows:
            low, high = ranges.get(row.id >> SEQ_BITS, (row.id, row.id))
            ranges[row.id >> SEQ_BITS] = (min(low, row.id), max(high, row.id))
        found = {
            found_id
            for low, high in ranges.values()
            for (found_id,) in self._conn.execute("SELECT id FROM events WHERE id BETWEEN ? AND ?", (low, high))
        }
        return found & {row.id for row in rows} if found else found
