"""The `Store`'s reading of events (see the contract in `inspector.store.store`): by seq range,
streamed in pages, by a list of seqs, by a compiled filter. Mixed into `Store`, whose `_conn`
it uses, as the leases are."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from inspector.protocol import Direction
from inspector.store._codec import EVENT_SELECT, event_from_row, event_key, join_frame, key_range, seq_of
from inspector.store._sqlite import guarded, store_error
from inspector.store.filter import CompiledFilter
from inspector.store.values import Event, StoreError

__all__ = ["PAGE_ROWS", "AudioRead", "EventReads"]

PAGE_ROWS = 1000
AudioRead = Literal["frame", "length"]  # how a frame's audio is read: see the contract


class EventReads:
    """The read half of the event API."""

    _conn: sqlite3.Connection

    # -- reading events -----------------------------------------------------------------------

    @guarded
    def last_seq(self, session_id: int) -> int:
        lo, hi = key_range(session_id)
        row = self._conn.execute("SELECT max(id) FROM events WHERE id BETWEEN ? AND ?", (lo, hi)).fetchone()
        return seq_of(row[0]) if row[0] is not None else 0

    @guarded
    def count(self, session_id: int) -> int:
        lo, hi = key_range(session_id)
        return int(self._conn.execute("SELECT count(*) FROM events WHERE id BETWEEN ? AND ?", (lo, hi)).fetchone()[0])

    @guarded
    def type_counts(self, session_id: int) -> dict[str, int]:
        """How many events of each type (problem frames counted under '')."""
        lo, hi = key_range(session_id)
        rows = self._conn.execute(
            "SELECT coalesce(type, ''), count(*) FROM events WHERE id BETWEEN ? AND ? GROUP BY 1 ORDER BY 2 DESC",
            (lo, hi),
        )
        return dict(rows.fetchall())

    @guarded
    def page(
        self, session_id: int, first_seq: int, last_seq: int, *, with_frames: bool = False, audio: AudioRead = "frame"
    ) -> list[Event]:
        """Events with first_seq <= seq <= last_seq: a rowid range scan, never OFFSET. For
        `audio="length"` see the contract (module docstring)."""
        lo, hi = key_range(session_id, first_seq, last_seq)
        length = audio == "length"
        if with_frames:
            # length(): SQLite reads a blob's size from the record header, not its pages.
            blob = "length(f.audio)" if length else "f.audio"
            sql = f"{EVENT_SELECT}, f.body, {blob}, f.audio_at FROM events e JOIN frames f ON f.id = e.id WHERE e.id BETWEEN ? AND ? ORDER BY e.id"
        else:
            sql = f"{EVENT_SELECT} FROM events e WHERE e.id BETWEEN ? AND ? ORDER BY e.id"
        return [event_from_row(row, audio_length=length) for row in self._conn.execute(sql, (lo, hi))]

    def events(
        self,
        session_id: int,
        *,
        first_seq: int = 1,
        last_seq: int | None = None,
        with_frames: bool = False,
        direction: Direction | None = None,
        audio: AudioRead = "frame",
    ) -> Iterator[Event]:
        """All events of a session in seq order, read page by page (memory stays flat)."""
        last = self.last_seq(session_id) if last_seq is None else last_seq
        start = first_seq
        while start <= last:
            stop = min(start + PAGE_ROWS - 1, last)
            for event in self.page(session_id, start, stop, with_frames=with_frames, audio=audio):
                if direction is None or event.direction == direction:
                    yield event
            start = stop + 1

    def events_at(self, session_id: int, seqs: Sequence[int], *, with_frames: bool = False) -> list[Event]:
        """The events with these seqs (ascending; those that do not exist are left out): a run
        of seqs at least a quarter dense is one range read (at most `PAGE_ROWS` wide), a sparse
        seq a point read, so neither many small reads nor ranges of unwanted rows. How a list
        view or a diff reads the rows it shows."""
        out: list[Event] = []
        i = 0
        while i < len(seqs):
            j = i
            while (
                j + 1 < len(seqs) and seqs[j + 1] - seqs[i] < PAGE_ROWS and seqs[j + 1] - seqs[i] + 1 <= 4 * (j + 2 - i)
            ):
                j += 1
            wanted = set(seqs[i : j + 1])
            out += [ev for ev in self.page(session_id, seqs[i], seqs[j], with_frames=with_frames) if ev.seq in wanted]
            i = j + 1
        return out

    def event(self, session_id: int, seq: int, *, with_frame: bool = True) -> Event:
        events = self.page(session_id, seq, seq, with_frames=with_frame)
        if not events:
            raise StoreError(f"session {session_id} has no event {seq}")
        return events[0]

    @guarded
    def frame(self, session_id: int, seq: int) -> str | bytes:
        row = self._conn.execute(
            "SELECT body, audio, audio_at FROM frames WHERE id = ?", (event_key(session_id, seq),)
        ).fetchone()
        if row is None:
            raise StoreError(f"session {session_id} has no event {seq}")
        return join_frame(*row)

    @guarded
    def seqs_matching(self, session_id: int, compiled: CompiledFilter) -> list[int]:
        """Seqs of the session's events that match a compiled filter, ascending; only those
        after `compiled.after_seq` when it is set (a live tail asks for the new ones)."""
        sql, params = self._matching_sql(session_id, compiled, "SELECT e.id", with_frames=False)
        return [seq_of(row[0]) for row in self._conn.execute(sql, params)]

    def events_matching(
        self, session_id: int, compiled: CompiledFilter, *, with_frames: bool = False
    ) -> Iterator[Event]:
        """The matching events themselves, in seq order, from one query (streamed: memory stays
        flat): cheaper than `event()` per seq of `seqs_matching` when there are many."""
        columns = EVENT_SELECT + (", f.body, f.audio, f.audio_at" if with_frames else "")
        sql, params = self._matching_sql(session_id, compiled, columns, with_frames=with_frames)
        try:  # a generator: `guarded` would return it before any row is read
            for row in self._conn.execute(sql, params):
                yield event_from_row(row)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    @staticmethod
    def _matching_sql(
        session_id: int, compiled: CompiledFilter, columns: str, *, with_frames: bool
    ) -> tuple[str, tuple[Any, ...]]:
        first = 0 if compiled.after_seq is None else compiled.after_seq + 1
        lo, hi = key_range(session_id, first)
        join = " JOIN frames f ON f.id = e.id" if compiled.needs_frames or with_frames else ""
        # The filter leaves it to the store to say how a seq is read from a row.
        where = compiled.sql(seq=f"(e.id - {event_key(session_id, 0)})")
        sql = f"{columns} FROM events e{join} WHERE e.id BETWEEN ? AND ? AND ({where}) ORDER BY e.id"
        return sql, (lo, hi, *compiled.params)

    def interrupt(self) -> None:
        """Abort the query running on this store's connection: it raises `StoreInterrupted` in
        its own thread. Safe to call from another thread: how a UI cancels a long filter."""
        try:
            self._conn.interrupt()
        except sqlite3.Error as exc:  # a closed connection has nothing to interrupt
            raise store_error(exc) from exc
