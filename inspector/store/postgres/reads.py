"""The reading half of the event API on PostgreSQL (see `inspector.store._reads` for SQLite's):
by seq range, by a compiled filter. `events`, `events_at` and `event` are SQLite's own, built
on `page`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from inspector.store._codec import EVENT_SELECT, event_from_row, event_key, join_frame, key_range, seq_of
from inspector.store._reads import PAGE_ROWS, AudioRead, EventReads
from inspector.store.filter import CompiledFilter
from inspector.store.postgres._pg import guarded, pg_error
from inspector.store.postgres.filter_sql import filter_sql
from inspector.store.values import Event, StoreError

__all__ = ["PgEventReads"]

_FRAME_COLUMNS = ", f.body, f.raw, f.audio, f.audio_at"
_LENGTH_COLUMNS = ", f.body, f.raw, octet_length(f.audio), f.audio_at"


def _body(text: str | None, raw: bytes | None, opcode: int) -> str | bytes:
    """A frame's body: its text, or its raw bytes (a binary frame, or text that holds a NUL)."""
    if text is not None:
        return text
    data = bytes(raw or b"")
    return data.decode() if opcode == 1 else data


def _row(row: Sequence[Any], *, audio_length: bool = False) -> Event:
    """An `Event` from a row of `EVENT_SELECT` (+ body, raw, audio, audio_at when joined)."""
    if len(row) > 13:
        audio = row[15] if audio_length or row[15] is None else bytes(row[15])
        row = (*row[:13], _body(row[13], row[14], row[3]), audio, row[16])
    return event_from_row(row, audio_length=audio_length)


class PgEventReads(EventReads):
    """The read half of the event API, on the store's psycopg connection."""

    url: str
    _pg: psycopg.Connection[Any]

    def _connection(self) -> psycopg.Connection[Any]:
        raise NotImplementedError

    @guarded
    def last_seq(self, session_id: int) -> int:
        lo, hi = key_range(session_id)
        row = self._connection().execute("SELECT max(id) FROM events WHERE id BETWEEN %s AND %s", (lo, hi)).fetchone()
        return seq_of(row[0]) if row and row[0] is not None else 0

    @guarded
    def count(self, session_id: int) -> int:
        lo, hi = key_range(session_id)
        row = self._connection().execute("SELECT count(*) FROM events WHERE id BETWEEN %s AND %s", (lo, hi)).fetchone()
        return int(row[0]) if row else 0

    @guarded
    def type_counts(self, session_id: int) -> dict[str, int]:
        lo, hi = key_range(session_id)
        rows = self._connection().execute(
            "SELECT coalesce(type, ''), count(*) FROM events WHERE id BETWEEN %s AND %s GROUP BY 1 ORDER BY 2 DESC",
            (lo, hi),
        )
        return {t: int(n) for t, n in rows}

    @guarded
    def page(
        self, session_id: int, first_seq: int, last_seq: int, *, with_frames: bool = False, audio: AudioRead = "frame"
    ) -> list[Event]:
        lo, hi = key_range(session_id, first_seq, last_seq)
        length = audio == "length"
        if with_frames:
            columns = _LENGTH_COLUMNS if length else _FRAME_COLUMNS
            sql = f"{EVENT_SELECT}{columns} FROM events e JOIN frames f ON f.id = e.id WHERE e.id BETWEEN %s AND %s ORDER BY e.id"
        else:
            sql = f"{EVENT_SELECT} FROM events e WHERE e.id BETWEEN %s AND %s ORDER BY e.id"
        return [_row(row, audio_length=length) for row in self._connection().execute(sql, (lo, hi))]

    @guarded
    def frame(self, session_id: int, seq: int) -> str | bytes:
        row = (
            self._connection()
            .execute(
                "SELECT f.body, f.raw, e.opcode, f.audio, f.audio_at FROM frames f JOIN events e ON e.id = f.id "
                "WHERE f.id = %s",
                (event_key(session_id, seq),),
            )
            .fetchone()
        )
        if row is None:
            raise StoreError(f"session {session_id} has no event {seq}")
        return join_frame(_body(*row[:3]), None if row[3] is None else bytes(row[3]), row[4])

    @guarded
    def seqs_matching(self, session_id: int, compiled: CompiledFilter) -> list[int]:
        sql, params = self._pg_matching_sql(session_id, compiled, "SELECT e.id", with_frames=False)
        return [seq_of(row[0]) for row in self._connection().execute(sql, params)]

    def events_matching(
        self, session_id: int, compiled: CompiledFilter, *, with_frames: bool = False
    ) -> Iterator[Event]:
        """Streamed in pages of `PAGE_ROWS` matches, each query starting after the last match
        (keyset paging: no cursor or transaction is held open between pages)."""
        columns = EVENT_SELECT + (_FRAME_COLUMNS if with_frames else "")
        after = compiled.after_seq
        while True:
            sql, params = self._pg_matching_sql(
                session_id,
                compiled.and_after(after) if after is not None else compiled,
                columns,
                with_frames=with_frames,
            )
            try:
                rows = self._connection().execute(f"{sql} LIMIT {PAGE_ROWS}", params).fetchall()
            except psycopg.Error as exc:
                raise pg_error(exc, self.url) from exc
            yield from (_row(row) for row in rows)
            if len(rows) < PAGE_ROWS:
                return
            after = seq_of(rows[-1][0])

    def _pg_matching_sql(
        self, session_id: int, compiled: CompiledFilter, columns: str, *, with_frames: bool
    ) -> tuple[str, list[Any]]:
        first = 0 if compiled.after_seq is None else compiled.after_seq + 1
        lo, hi = key_range(session_id, first)
        join = " JOIN frames f ON f.id = e.id" if compiled.needs_frames or with_frames else ""
        where, params = filter_sql(compiled, seq=f"(e.id - {event_key(session_id, 0)})")
        sql = f"{columns} FROM events e{join} WHERE e.id BETWEEN %s AND %s AND ({where}) ORDER BY e.id"
        return sql, [lo, hi, *params]

    def interrupt(self) -> None:
        """Cancel the query running on this store's connection (from any thread): it raises
        `StoreInterrupted` in its own thread."""
        try:
            self._pg.cancel_safe(timeout=5.0)
        except psycopg.Error as exc:
            raise pg_error(exc, self.url) from exc
