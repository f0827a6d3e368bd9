"""The one API through which every part reads and writes recordings.

    store = Store("recordings/inspector.db")          # creates the file (mode 0600) if needed
    for s in store.sessions():                          # newest first
        print(s.id, s.model, s.client_events)
    for ev in store.events(s.id, with_frames=True):     # in seq order, paged by seq
        print(ev.seq, ev.direction, ev.type, ev.frame)
    store.page(s.id, 100, 199)                          # events by seq range
    store.count(s.id), store.type_counts(s.id)          # how many, and of which types
    store.events_of_type(s.id, "response.*")            # by type (index), in seq order
    f = compile_filter("is:error")                      # inspector.store.filter
    store.seqs_where(s.id, f.where, f.params)           # seqs matching a filter

Nothing outside this package opens the database or knows the schema. A `Store` holds one SQLite
connection and must be used from one thread at a time; open one per thread.
"""

from __future__ import annotations

import base64
import binascii
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from inspector.protocol import (
    Direction,
    Opcode,
    describe_frame,
    redact_bytes,
    redact_headers,
    redact_subprotocols,
    redact_text,
    redact_url,
)
from inspector.store.schema import SEQ_BITS, SchemaError, migrate

__all__ = [
    "Event",
    "FrameIn",
    "SessionInfo",
    "SessionNotFound",
    "Store",
    "StoreBusy",
    "StoreError",
    "database_files",
    "is_database_file",
]

_DIRS = (Direction.CLIENT, Direction.SERVER)
PAGE_ROWS = 1000


class StoreError(Exception):
    """The database cannot be used: missing, corrupt, locked, or of an unknown schema."""


class StoreBusy(StoreError):
    """Another connection held the write lock for longer than the busy timeout (10 s)."""


class SessionNotFound(StoreError):
    def __init__(self, session_id: int) -> None:
        super().__init__(f"no session {session_id} in the database")
        self.session_id = session_id


@dataclass(slots=True)
class SessionInfo:
    """One row of `sessions`. Times are unix seconds; `duration_ns` runs to the last event."""

    id: int
    started_at: float
    source: str
    status: str
    ended_at: float | None = None
    replay_of: int | None = None
    target_url: str | None = None
    path: str | None = None
    query: str | None = None
    model: str | None = None
    client_addr: str | None = None
    user_agent: str | None = None
    subprotocol: str | None = None
    offered_subprotocols: list[str] = field(default_factory=list)
    request_headers: list[list[str]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str | None = None
    close_side: str | None = None
    error: str | None = None
    label: str | None = None
    client_events: int = 0
    server_events: int = 0
    error_events: int = 0
    bytes: int = 0
    duration_ns: int = 0

    @property
    def events(self) -> int:
        return self.client_events + self.server_events

    @property
    def duration(self) -> float:
        """Seconds from the start to the close when known, else to the last event."""
        last_event = self.duration_ns / 1e9
        if self.ended_at is None:
            return last_event
        return max(self.ended_at - self.started_at, last_event)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_SESSION_COLUMNS = [f.name for f in fields(SessionInfo)]
_JSON_COLUMNS = ("offered_subprotocols", "request_headers")


@dataclass(slots=True)
class Event:
    """One recorded frame. `frame` is loaded only when asked for (it may be megabytes)."""

    session_id: int
    seq: int
    direction: Direction
    t_ns: int
    opcode: Opcode
    size: int
    type: str | None
    event_id: str | None = None
    item_id: str | None = None
    response_id: str | None = None
    call_id: str | None = None
    problem: str | None = None
    is_error: bool = False
    summary: str | None = None
    frame: str | bytes | None = None

    @property
    def t(self) -> float:
        """Seconds since the session started."""
        return self.t_ns / 1e9

    def data(self) -> Any:
        """The frame parsed as JSON, or None when it is not JSON (or was not loaded)."""
        if self.frame is None or self.opcode != Opcode.TEXT:
            return None
        try:
            return orjson.loads(self.frame)
        except orjson.JSONDecodeError:
            return None


@dataclass(slots=True)
class FrameIn:
    """A frame to write: what the tap saw, or what an import file holds."""

    direction: Direction
    t_ns: int
    data: str | bytes
    opcode: Opcode | None = None  # inferred from the type of `data` when None

    def __post_init__(self) -> None:
        if self.opcode is None:
            self.opcode = Opcode.BINARY if isinstance(self.data, bytes) else Opcode.TEXT


def event_key(session_id: int, seq: int) -> int:
    return (session_id << SEQ_BITS) | seq


def _key_range(session_id: int, first: int = 0, last: int | None = None) -> tuple[int, int]:
    top = (1 << SEQ_BITS) - 1 if last is None else min(last, (1 << SEQ_BITS) - 1)
    return event_key(session_id, max(first, 0)), event_key(session_id, max(top, 0))


_EVENT_SELECT = (
    "SELECT e.id, e.dir, e.t_ns, e.opcode, e.size, e.type, e.event_id, e.item_id, "
    "e.response_id, e.call_id, e.problem, e.is_error, e.summary"
)


def _event_from_row(row: Sequence[Any]) -> Event:
    key = row[0]
    return Event(
        session_id=key >> SEQ_BITS,
        seq=key & ((1 << SEQ_BITS) - 1),
        direction=_DIRS[row[1]],
        t_ns=row[2],
        opcode=Opcode(row[3]),
        size=row[4],
        type=row[5],
        event_id=row[6],
        item_id=row[7],
        response_id=row[8],
        call_id=row[9],
        problem=row[10],
        is_error=bool(row[11]),
        summary=row[12],
        frame=join_frame(row[13], row[14], row[15]) if len(row) > 13 else None,
    )


def frame_size(data: str | bytes) -> int:
    """Bytes on the wire of a frame's payload; cheap for ASCII text (the usual case)."""
    if isinstance(data, bytes):
        return len(data)
    return len(data) if data.isascii() else len(data.encode())


def event_rows(session_id: int, seq: int, frame: FrameIn) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The `events` and `frames` rows for one frame. Secrets are redacted here, the one place
    every writer (tap, import, replay) passes through before anything reaches disk."""
    data = redact_text(frame.data) if isinstance(frame.data, str) else redact_bytes(frame.data)
    info = describe_frame(data, frame.opcode)
    key = event_key(session_id, seq)
    body = (key, data, None, None)
    if info.audio:
        body = _split_audio(key, data, info.audio) or body
    event = (
        key,
        0 if frame.direction == Direction.CLIENT else 1,
        frame.t_ns,
        int(frame.opcode),
        frame_size(frame.data),
        info.type,
        info.event_id,
        info.item_id,
        info.response_id,
        info.call_id,
        info.problem.value if info.problem else None,
        int(info.is_error),
        info.summary,
    )
    return event, body


def _split_audio(key: int, text: str, b64: str) -> tuple[Any, ...] | None:
    """Frame row with the audio stored decoded, or None when that would not be byte-exact
    (escaped slashes, non-canonical base64, the value appearing twice)."""
    at = text.find(b64)
    if at < 0 or text.find(b64, at + 1) >= 0:
        return None
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    if base64.b64encode(raw).decode() != b64:
        return None
    return (key, text[:at] + text[at + len(b64) :], raw, at)


def join_frame(body: str | bytes, audio: bytes | None, at: int | None) -> str | bytes:
    """The exact frame from a `frames` row (see `_split_audio`)."""
    if audio is None or not isinstance(body, str):
        return body
    return body[:at] + base64.b64encode(audio).decode() + body[at:]


def _create_private_file(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite does (it would use the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def database_files(db_path: str | os.PathLike[str]) -> list[Path]:
    """The database and the side files SQLite keeps beside it."""
    return [Path(f"{db_path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]


def is_database_file(path: str | os.PathLike[str], db_path: str | os.PathLike[str]) -> bool:
    """Whether writing `path` would replace the database or one of its side files (which SQLite
    would then read as its journal). By resolved name, as the files may not exist yet, and by
    identity, for a hard link or a symlink."""
    target = Path(path)
    for db_file in database_files(db_path):
        if target.resolve() == db_file.resolve():
            return True
        try:
            if os.path.samefile(target, db_file):
                return True
        except OSError:  # one of them does not exist: not the same file
            pass
    return False


class Store:
    """A recordings database. See the module docstring for an example."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, busy_timeout: float = 10.0) -> None:
        """Open (or with `create`, make) the database; a write waits up to `busy_timeout`
        seconds for another connection's write lock before it fails with `StoreBusy`."""
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise StoreError(
                    f"no database at {self.path} (record one with `inspector tap`, or run `inspector demo`)"
                )
            try:
                _create_private_file(self.path)
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
        try:
            # Autocommit mode: transactions are explicit (BEGIN ... COMMIT) below.
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            migrate(self._conn)
        except SchemaError as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable database: {exc}") from exc
        self._db = sqlite_utils.Database(self._conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------

    def transaction(self) -> _Transaction:
        """`with store.transaction():` groups writes into one atomic commit."""
        return _Transaction(self._conn)

    def data_version(self) -> int:
        """Changes when another connection commits: a ~5 µs check for live views."""
        return self._conn.execute("PRAGMA data_version").fetchone()[0]

    # -- sessions -----------------------------------------------------------------------------

    def sessions(self, *, limit: int | None = None) -> list[SessionInfo]:
        """All sessions, newest first."""
        sql = "SELECT * FROM sessions ORDER BY started_at DESC, id DESC"
        params: list[Any] = []
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._session_from_row(row) for row in self._db.query(sql, params)]

    def session(self, session_id: int) -> SessionInfo:
        rows = list(self._db.query("SELECT * FROM sessions WHERE id = ?", [session_id]))
        if not rows:
            raise SessionNotFound(session_id)
        return self._session_from_row(rows[0])

    @staticmethod
    def _session_from_row(row: dict[str, Any]) -> SessionInfo:
        values = {k: row[k] for k in _SESSION_COLUMNS if k in row}
        for name in _JSON_COLUMNS:
            values[name] = orjson.loads(values[name]) if values.get(name) else []
        return SessionInfo(**values)

    @staticmethod
    def _session_columns(fields_: dict[str, Any]) -> dict[str, Any]:
        unknown = set(fields_) - set(_SESSION_COLUMNS)
        if unknown:
            raise ValueError(f"unknown session fields: {sorted(unknown)}")
        out = dict(fields_)
        # Metadata is redacted here so that no caller can forget to.
        if out.get("target_url"):
            out["target_url"] = redact_url(out["target_url"])
        if out.get("query"):
            out["query"] = redact_url("?" + out["query"])[1:]
        if out.get("subprotocol"):
            out["subprotocol"] = redact_subprotocols([out["subprotocol"]])[0]
        if "offered_subprotocols" in out:
            out["offered_subprotocols"] = orjson.dumps(
                redact_subprotocols(list(out["offered_subprotocols"] or []))
            ).decode()
        if "request_headers" in out:
            pairs = [(str(k), str(v)) for k, v in out["request_headers"] or []]
            out["request_headers"] = orjson.dumps(redact_headers(pairs)).decode()
        for key in (
            "user_agent",
            "error",
            "close_reason",
            "label",
            "path",
            "model",
            "status",
            "client_addr",
            "close_side",
            "source",
        ):
            if isinstance(out.get(key), str):
                out[key] = redact_text(out[key])
        return out

    def create_session(self, *, source: str, status: str = "open", **fields_: Any) -> int:
        """Insert a session row and return its id. Fields are those of `SessionInfo`."""
        fields_.setdefault("started_at", time.time())
        row = self._session_columns({"source": source, "status": status, **fields_})
        with self.transaction():
            return self._insert_session(row)

    def _insert_session(self, row: dict[str, Any]) -> int:
        # Raw SQL, not sqlite-utils' insert: that one commits on its own, which would break the
        # single transaction of an import.
        cur = self._conn.execute(
            f"INSERT INTO sessions ({', '.join(f'[{k}]' for k in row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
        return int(cur.lastrowid)

    def existing(self, session_ids: Iterable[int]) -> set[int]:
        """Which of these sessions still exist (one may be deleted while it is recorded)."""
        ids = list(session_ids)
        if not ids:
            return set()
        marks = ", ".join("?" for _ in ids)
        return {row[0] for row in self._conn.execute(f"SELECT id FROM sessions WHERE id IN ({marks})", ids)}

    def update_session(self, session_id: int, **fields_: Any) -> None:
        row = self._session_columns(fields_)
        with self.transaction():
            cur = self._conn.execute(
                f"UPDATE sessions SET {', '.join(f'[{k}] = ?' for k in row)} WHERE id = ?",
                [*row.values(), session_id],
            )
        if cur.rowcount == 0:
            raise SessionNotFound(session_id)

    def set_label(self, session_id: int, label: str | None) -> None:
        self.update_session(session_id, label=label or None)

    def delete_session(self, session_id: int) -> None:
        self.session(session_id)
        lo, hi = _key_range(session_id)
        with self.transaction():
            self._conn.execute("DELETE FROM frames WHERE id BETWEEN ? AND ?", (lo, hi))
            self._conn.execute("DELETE FROM events WHERE id BETWEEN ? AND ?", (lo, hi))
            self._conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # -- writing events -----------------------------------------------------------------------

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

    def insert_rows(self, events: list[tuple[Any, ...]], bodies: list[tuple[Any, ...]]) -> None:
        """Low-level batch insert of rows made by `event_rows` (the recorder's fast path).
        The caller holds the transaction."""
        self._conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", events)
        self._conn.executemany("INSERT INTO frames VALUES (?,?,?,?)", bodies)

    def add_counts(self, session_id: int, events: Sequence[tuple[Any, ...]]) -> None:
        """Add rows made by `event_rows` to the session's counters (no rescan of the session,
        which would cost O(events) per batch on a long live session)."""
        if not events:
            return
        server = sum(row[1] for row in events)
        self._conn.execute(
            """UPDATE sessions SET client_events = client_events + ?,
                 server_events = server_events + ?, error_events = error_events + ?,
                 bytes = bytes + ?, duration_ns = max(duration_ns, ?) WHERE id = ?""",
            (
                len(events) - server,
                server,
                sum(row[11] for row in events),
                sum(row[4] for row in events),
                max(row[2] for row in events),
                session_id,
            ),
        )

    def import_session(self, frames: Iterable[FrameIn], *, source: str = "import", **fields_: Any) -> int:
        """Create a session and write all its frames in ONE transaction: an import that fails
        half way leaves the database unchanged."""
        fields_.setdefault("started_at", time.time())
        fields_.setdefault("status", "closed")
        row = self._session_columns({"source": source, **fields_})
        with self.transaction():
            session_id = self._insert_session(row)
            self._append(session_id, 0, frames)
        return session_id

    # -- reading events -----------------------------------------------------------------------

    def last_seq(self, session_id: int) -> int:
        lo, hi = _key_range(session_id)
        row = self._conn.execute("SELECT max(id) FROM events WHERE id BETWEEN ? AND ?", (lo, hi)).fetchone()
        return row[0] & ((1 << SEQ_BITS) - 1) if row[0] is not None else 0

    def count(self, session_id: int) -> int:
        lo, hi = _key_range(session_id)
        return self._conn.execute("SELECT count(*) FROM events WHERE id BETWEEN ? AND ?", (lo, hi)).fetchone()[0]

    def type_counts(self, session_id: int) -> dict[str, int]:
        """How many events of each type (problem frames counted under '')."""
        lo, hi = _key_range(session_id)
        rows = self._conn.execute(
            "SELECT coalesce(type, ''), count(*) FROM events WHERE id BETWEEN ? AND ? GROUP BY 1 ORDER BY 2 DESC",
            (lo, hi),
        )
        return dict(rows.fetchall())

    def page(self, session_id: int, first_seq: int, last_seq: int, *, with_frames: bool = False) -> list[Event]:
        """Events with first_seq <= seq <= last_seq: a rowid range scan, never OFFSET."""
        lo, hi = _key_range(session_id, first_seq, last_seq)
        if with_frames:
            sql = f"{_EVENT_SELECT}, f.body, f.audio, f.audio_at FROM events e JOIN frames f ON f.id = e.id WHERE e.id BETWEEN ? AND ? ORDER BY e.id"
        else:
            sql = f"{_EVENT_SELECT} FROM events e WHERE e.id BETWEEN ? AND ? ORDER BY e.id"
        return [_event_from_row(row) for row in self._conn.execute(sql, (lo, hi))]

    def events(
        self,
        session_id: int,
        *,
        first_seq: int = 1,
        last_seq: int | None = None,
        with_frames: bool = False,
        direction: Direction | None = None,
    ) -> Iterator[Event]:
        """All events of a session in seq order, read page by page (memory stays flat)."""
        last = self.last_seq(session_id) if last_seq is None else last_seq
        start = first_seq
        while start <= last:
            stop = min(start + PAGE_ROWS - 1, last)
            for event in self.page(session_id, start, stop, with_frames=with_frames):
                if direction is None or event.direction == direction:
                    yield event
            start = stop + 1

    def events_of_type(self, session_id: int, pattern: str, *, with_frames: bool = False) -> Iterator[Event]:
        """Events whose type matches a glob (`response.*`; case-sensitive, SQLite GLOB), in seq
        order, streamed from the type index rather than a scan of the whole session."""
        lo, hi = _key_range(session_id)
        frames = ", f.body, f.audio, f.audio_at" if with_frames else ""
        join = " JOIN frames f ON f.id = e.id" if with_frames else ""
        # An exact type seeks (type, id) in the index; a glob leaves the plan to SQLite. Globs
        # mean what fnmatch means: `[!x]` is SQLite's `[^x]`, and frames without a type (binary,
        # not JSON) have the type "" for them, so `*` lists every event.
        if any(c in pattern for c in "*?["):
            match, pattern = "coalesce(e.type, '') GLOB ?", pattern.replace("[!", "[^")
        else:
            match = "e.type = ?"
        sql = f"{_EVENT_SELECT}{frames} FROM events e{join} WHERE {match} AND e.id BETWEEN ? AND ? ORDER BY e.id"
        for row in self._conn.execute(sql, (pattern, lo, hi)):
            yield _event_from_row(row)

    def event(self, session_id: int, seq: int, *, with_frame: bool = True) -> Event:
        events = self.page(session_id, seq, seq, with_frames=with_frame)
        if not events:
            raise StoreError(f"session {session_id} has no event {seq}")
        return events[0]

    def frame(self, session_id: int, seq: int) -> str | bytes:
        row = self._conn.execute(
            "SELECT body, audio, audio_at FROM frames WHERE id = ?", (event_key(session_id, seq),)
        ).fetchone()
        if row is None:
            raise StoreError(f"session {session_id} has no event {seq}")
        return join_frame(*row)

    def seqs_where(self, session_id: int, where: str, params: Sequence[Any], *, join_frames: bool = False) -> list[int]:
        """Seqs of the events matching a compiled filter (see `inspector.store.filter`).
        `where` is SQL made by the filter compiler over `e` (events) and `f` (frames)."""
        lo, hi = _key_range(session_id)
        join = " JOIN frames f ON f.id = e.id" if join_frames else ""
        sql = f"SELECT e.id FROM events e{join} WHERE e.id BETWEEN ? AND ? AND ({where}) ORDER BY e.id"
        mask = (1 << SEQ_BITS) - 1
        return [row[0] & mask for row in self._conn.execute(sql, (lo, hi, *params))]

    def interrupt(self) -> None:
        """Abort the query running on this store's connection (it raises in its own thread).
        Safe to call from another thread: how a UI cancels a long filter."""
        self._conn.interrupt()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error. Nested uses join the outer transaction,
    so that the recorder can batch calls that are atomic on their own."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._outer = False

    def __enter__(self) -> None:
        self._outer = not self._conn.in_transaction
        if self._outer:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # locked by another writer past busy_timeout
                raise _write_error(exc) from exc

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self._outer:
            return
        if exc_type:
            self._conn.execute("ROLLBACK")
            return
        try:
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._conn.execute("ROLLBACK")
            raise _write_error(exc) from exc


def _write_error(exc: sqlite3.OperationalError) -> StoreError:
    """`StoreBusy` for a lock that may be released (worth waiting for), else `StoreError`."""
    busy = "locked" in str(exc) or "busy" in str(exc)
    return (StoreBusy if busy else StoreError)(f"cannot write to the database: {exc}")
