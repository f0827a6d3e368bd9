"""`PostgresStore`: the `Store` contract (`inspector.store.store`) on a PostgreSQL server, with
psycopg 3. Opened through `inspector.store.open_store("postgresql://...")`.

What is PostgreSQL's own here (the meaning of every call is the contract's):
- `data_version()` reads the `inspector_changes` sequence, moved after each commit of a write
  (`_pg.Transaction`): one cheap query, and a sequence never blocks two writers. Plus the number
  of dead leases, as on SQLite, so that a recorder's death shows.
- Writes of events go by COPY, in the caller's transaction, skipping rows already there: a batch
  retried after a COMMIT whose outcome was lost with the connection neither fails nor writes
  twice, and `add_counts` does not count the skipped rows again.
- A connection that broke (the server restarted) is opened again by the next call made outside
  a transaction; the call that saw it break raises `StoreError`.
- `interrupt()` cancels the running query on the server (`Connection.cancel_safe`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from inspector.store._codec import EventRow, FrameRow, session_from_row
from inspector.store._session_list import HOSTS_SQL, session_ids_sql, status_as_read
from inspector.store._shared import SharedMethods
from inspector.store.factory import show_db
from inspector.store.postgres._pg import Transaction, connect, guarded
from inspector.store.postgres.leases import PgLeaseMethods
from inspector.store.postgres.reads import PgEventReads
from inspector.store.postgres.schema import migrate
from inspector.store.postgres.views import ensure_views
from inspector.store.schema import SchemaError
from inspector.store.values import FrameIn, SessionInfo, SessionNotFound, StoreError

__all__ = ["PostgresStore"]

_EVENT_COLUMNS = ", ".join(EventRow._fields)
# An import this large refreshes the planner's statistics at once: a million events of one new
# session, read before autovacuum analyzed them, made each page of a filter a sort of the whole
# session (benchmarks/tui_large.py: the runs of deltas took over 30 s instead of 5).
ANALYZE_AFTER = 100_000
_EVENT_TEXT = tuple(i for i, name in enumerate(EventRow._fields) if name in ("type", "event_id", "item_id",
    "response_id", "call_id", "problem", "summary"))  # fmt: skip


def _no_nul(value: Any) -> Any:
    """PostgreSQL text holds no NUL character: one in metadata (a JSON `\\u0000` in an id) is
    stored as U+FFFD. Frames themselves keep every byte (see the schema)."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


def _event_copy_row(row: EventRow) -> tuple[Any, ...]:
    return tuple(_no_nul(v) if i in _EVENT_TEXT else v for i, v in enumerate(row))


def _frame_copy_row(row: FrameRow) -> tuple[Any, ...]:
    body = row.body
    if isinstance(body, str) and "\x00" not in body:
        return row.id, body, None, row.audio, row.audio_at
    return row.id, None, body.encode() if isinstance(body, str) else body, row.audio, row.audio_at


class PostgresStore(PgEventReads, PgLeaseMethods, SharedMethods):
    """A recordings database on a PostgreSQL server. See `inspector.store.store` for the contract."""

    def __init__(self, url: str, *, create: bool = True, busy_timeout: float = 10.0) -> None:
        # `path`, as SQLite's store names its file: how another process (the diff's worker)
        # opens the same database. It holds the password when the URL does: show it with `show_db`.
        self.url = self.path = url
        self._busy_timeout = busy_timeout
        self._locked: set[int] = set()
        self._skipped: set[int] = set()  # ids of the last insert_rows' events already there
        self._pg = connect(url, busy_timeout)
        try:
            migrate(self._pg, create=create)
            if create:
                self._check_writable()
                ensure_views(self._pg)
        except SchemaError as exc:
            self._pg.close()
            raise StoreError(f"{show_db(url)}: {exc}") from None
        except psycopg.Error as exc:
            self._pg.close()
            raise StoreError(f"{show_db(url)} is not a usable database: {exc}") from None

    def _check_writable(self) -> None:
        row = self._pg.execute(
            "SELECT bool_and(has_table_privilege(t, 'INSERT, UPDATE, DELETE')) "
            "AND has_sequence_privilege('inspector_changes', 'USAGE') "
            "FROM unnest(ARRAY['sessions', 'events', 'frames', 'leases']) t"
        ).fetchone()
        if not (row and row[0]):
            raise SchemaError("this user may read but not write the recordings: nothing could be recorded")

    def _connection(self) -> psycopg.Connection[Any]:
        """The connection, opened again if it broke (never inside a transaction: that is lost)."""
        if self._pg.broken:
            self._pg = connect(self.url, self._busy_timeout)
            held, self._locked = self._locked, set()
            for lease in held:  # released by the server with the connection: a lease lives on
                self._lock(lease)
        return self._pg

    def close(self) -> None:
        self._pg.close()

    def transaction(self) -> Transaction:
        return Transaction(self)

    @guarded
    def data_version(self) -> int:
        row = self._connection().execute("SELECT last_value + is_called::int FROM inspector_changes").fetchone()
        return (int(row[0]) if row else 0) + (self._dead_leases() << 40)

    # -- sessions -----------------------------------------------------------------------------

    def _session_rows(self, sql: str, params: Sequence[Any]) -> list[SessionInfo]:
        with self._connection().cursor(row_factory=dict_row) as cur:
            return self._with_owners([session_from_row(row) for row in cur.execute(sql, params)])

    @guarded
    def sessions(self, *, limit: int | None = None) -> list[SessionInfo]:
        sql = "SELECT * FROM sessions ORDER BY started_at DESC, id DESC"
        return self._session_rows(
            sql + (" LIMIT %s" if limit is not None else ""), [limit] if limit is not None else []
        )

    @guarded
    def session_ids(self, *, sort: str = "started", search: str = "") -> list[int]:
        sql, params = session_ids_sql(sort, search, status_as_read(self._live_leases()), postgres=True)
        return [int(row[0]) for row in self._connection().execute(sql.replace("?", "%s"), params)]

    @guarded
    def sessions_at(self, session_ids: Sequence[int]) -> list[SessionInfo]:
        ids = list(session_ids)
        found = {s.id: s for s in self._session_rows("SELECT * FROM sessions WHERE id = ANY(%s)", [ids])} if ids else {}
        return [found[i] for i in ids if i in found]

    @guarded
    def session_hosts(self) -> list[str]:
        return [str(row[0]) for row in self._connection().execute(HOSTS_SQL)]

    @guarded
    def session_count(self) -> int:
        row = self._connection().execute("SELECT count(*) FROM sessions").fetchone()
        return int(row[0]) if row else 0

    @guarded
    def session(self, session_id: int) -> SessionInfo:
        rows = self._session_rows("SELECT * FROM sessions WHERE id = %s", [session_id])
        if not rows:
            raise SessionNotFound(session_id)
        return rows[0]

    @guarded
    def session_id_for_uid(self, uid: str) -> int | None:
        row = self._connection().execute("SELECT id FROM sessions WHERE uid = %s", (uid,)).fetchone()
        return int(row[0]) if row else None

    @guarded
    def _insert_session(self, row: dict[str, Any]) -> int:
        row = {k: _no_nul(v) for k, v in row.items()}
        names = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("%s" for _ in row)
        found = (
            self._connection().execute(
                f"INSERT INTO sessions ({names}) VALUES ({marks}) RETURNING id", list(row.values())
            )
        ).fetchone()
        assert found is not None
        return int(found[0])

    @guarded
    def existing(self, session_ids: Iterable[int]) -> set[int]:
        ids = list(session_ids)
        if not ids:
            return set()
        return {int(r[0]) for r in self._connection().execute("SELECT id FROM sessions WHERE id = ANY(%s)", (ids,))}

    @guarded
    def _run(self, sql: str, params: Sequence[Any]) -> int:
        """One statement written with SQLite's `?` marks (see `SharedMethods._run`)."""
        return self._connection().execute(sql.replace("?", "%s"), [_no_nul(p) for p in params]).rowcount

    # -- writing events -----------------------------------------------------------------------

    def import_session(self, frames: Iterable[FrameIn], *, source: str = "import", **fields_: Any) -> int:
        """As on SQLite; a large import then refreshes the planner's statistics (`ANALYZE_AFTER`)."""
        session_id = super().import_session(frames, source=source, **fields_)
        if self._pg.info.transaction_status == TransactionStatus.IDLE and self.last_seq(session_id) >= ANALYZE_AFTER:
            try:
                self._connection().execute("ANALYZE events, frames")
            except psycopg.Error:
                pass  # not the tables' owner: autovacuum will do it
        return session_id

    @guarded
    def insert_rows(self, events: Sequence[EventRow], bodies: Sequence[FrameRow]) -> None:
        """Low-level batch insert of rows made by `event_rows`, by COPY (the recorder's fast
        path, inside the store package only). The caller holds the transaction."""
        if not events and not bodies:
            return
        with self._connection().cursor() as cur:
            ids = [row.id for row in events] or [row.id for row in bodies]
            self._skipped = {row[0] for row in cur.execute("SELECT id FROM events WHERE id = ANY(%s)", (ids,))}
            with cur.copy(f"COPY events ({_EVENT_COLUMNS}) FROM STDIN") as copy:
                for event in events:
                    if event.id not in self._skipped:
                        copy.write_row(_event_copy_row(event))
            with cur.copy("COPY frames (id, body, raw, audio, audio_at) FROM STDIN") as copy:
                for body in bodies:
                    if body.id not in self._skipped:
                        copy.write_row(_frame_copy_row(body))
