"""What both backends of the `Store` contract (`inspector.store.store`) do the same way: a new
session's row (redacted, with its globally unique `uid`), frames appended in batches (each made
into rows by the codec and written by the backend's own `insert_rows` and `add_counts`), and
open sessions whose recorder died reported as interrupted. Mixed into the SQLite `Store` and
into `PostgresStore`, which supply the primitives declared at the end of the class."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from typing import Any, Self

from inspector.store._codec import EventRow, FrameRow, event_rows, key_range, session_row
from inspector.store._reads import PAGE_ROWS
from inspector.store.leases import ORPHANED
from inspector.store.values import FrameIn, SessionInfo, SessionNotFound, SessionStatus, new_uid

__all__ = ["SharedMethods"]


class SharedMethods:
    """The backend-independent half of a store, on the backend's primitives."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _with_owners(self, infos: list[SessionInfo]) -> list[SessionInfo]:
        """Open sessions whose recording process is gone read as interrupted, at once."""
        orphaned = self._orphaned([info.id for info in infos if info.status == SessionStatus.OPEN])
        for info in infos:
            if info.id in orphaned:
                info.status = SessionStatus.INTERRUPTED
                info.error = info.error or ORPHANED
        return infos

    def create_session(
        self, *, source: str, status: SessionStatus = SessionStatus.OPEN, lease: int | None = None, **fields_: Any
    ) -> int:
        """Insert a session row and return its id. Fields are those of `SessionInfo` (a `uid`
        is made unless one is given); `lease` (from `take_lease`) names the recording process,
        so that its death shows."""
        fields_.setdefault("started_at", time.time())
        row = self._new_row({"source": source, "status": status, **fields_})
        if lease is not None:
            row["lease"] = lease
        with self.transaction():
            return self._insert_session(row)

    def import_session(self, frames: Iterable[FrameIn], *, source: str = "import", **fields_: Any) -> int:
        """Create a session and write all its frames in ONE transaction: an import that fails
        half way leaves the database unchanged. `uid=` keeps a session's uid from elsewhere (an
        export, another database); it must not be in this database yet."""
        fields_.setdefault("started_at", time.time())
        fields_.setdefault("status", SessionStatus.CLOSED)
        row = self._new_row({"source": source, **fields_})
        with self.transaction():
            session_id = self._insert_session(row)
            self._append(session_id, 0, frames)
        return session_id

    @staticmethod
    def _new_row(fields_: dict[str, Any]) -> dict[str, Any]:
        row = session_row(fields_)
        row["uid"] = row.get("uid") or new_uid()
        return row

    def update_session(self, session_id: int, **fields_: Any) -> None:
        """Change a session's fields (redacted as on creation); its uid never changes."""
        if "uid" in fields_:
            raise ValueError("a session's uid never changes")
        row = session_row(fields_)
        if not row:
            self.session(session_id)  # nothing to change: only say whether it exists
            return
        assignments = ", ".join(f'"{name}" = ?' for name in row)
        with self.transaction():
            changed = self._run(f"UPDATE sessions SET {assignments} WHERE id = ?", [*row.values(), session_id])
        if changed == 0:
            raise SessionNotFound(session_id)

    def delete_session(self, session_id: int) -> None:
        self.session(session_id)
        lo, hi = key_range(session_id)
        with self.transaction():
            self._run("DELETE FROM frames WHERE id BETWEEN ? AND ?", (lo, hi))
            self._run("DELETE FROM events WHERE id BETWEEN ? AND ?", (lo, hi))
            self._run("DELETE FROM sessions WHERE id = ?", (session_id,))

    def set_label(self, session_id: int, label: str | None) -> None:
        self.update_session(session_id, label=label or None)

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

    # Ids of the last `insert_rows`' events that were already written (each backend's
    # `insert_rows` sets it): a batch sent again is written once and counted once.
    _skipped: AbstractSet[int] = frozenset()

    def add_counts(self, session_id: int, events: Sequence[EventRow]) -> None:
        """Add rows made by `event_rows` to the session's counters (no rescan of the session,
        which would cost O(events) per batch on a long live session), without those the last
        `insert_rows` found already written (counted by the commit that wrote them). In the
        caller's transaction."""
        if self._skipped:
            events = [row for row in events if row.id not in self._skipped]
        if not events:
            return
        server = sum(row.dir for row in events)
        last = max(row.t_ns for row in events)
        self._run(
            """UPDATE sessions SET client_events = client_events + ?,
                 server_events = server_events + ?, error_events = error_events + ?, bytes = bytes + ?,
                 duration_ns = CASE WHEN duration_ns < ? THEN ? ELSE duration_ns END WHERE id = ?""",
            (
                len(events) - server,
                server,
                sum(row.is_error for row in events),
                sum(row.size for row in events),
                last,
                last,
                session_id,
            ),
        )

    def adopt_sessions(self, lease: int, session_ids: list[int]) -> None:
        """A recorder that replaces a dead one (its writer process died) takes over the sessions
        it was recording: they are tied to `lease`, and those the death made `interrupted` (by
        a sweep, or as readers see them) are `open` again, their end time and the orphan's error
        cleared. Sessions that ended otherwise (closed, failed, interrupted for another reason)
        are left as they are."""
        if not session_ids:
            return
        with self.transaction():
            self._run(
                "UPDATE sessions SET lease = ?, status = 'open', "
                "error = CASE WHEN error = ? THEN NULL ELSE error END, "
                "ended_at = CASE WHEN status = 'interrupted' THEN NULL ELSE ended_at END "
                f"WHERE id IN ({', '.join('?' * len(session_ids))}) "
                "AND (status = 'open' OR (status = 'interrupted' AND error = ?))",
                [lease, ORPHANED, *session_ids, ORPHANED],
            )

    def add_unrecorded(self, session_id: int, frames: int) -> None:
        """Count frames that were forwarded but could not be recorded (caller's transaction)."""
        self._run("UPDATE sessions SET unrecorded_frames = unrecorded_frames + ? WHERE id = ?", (frames, session_id))

    # -- what each backend supplies -------------------------------------------------------------

    def close(self) -> None:
        raise NotImplementedError

    def _orphaned(self, session_ids: list[int]) -> set[int]:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def last_seq(self, session_id: int) -> int:
        raise NotImplementedError

    def _run(self, sql: str, params: Sequence[Any]) -> int:
        """Execute one statement (column names double-quoted, values as `?` marks, which both
        backends read); how many rows it changed."""
        raise NotImplementedError

    def session(self, session_id: int) -> SessionInfo:
        raise NotImplementedError

    def _insert_session(self, row: dict[str, Any]) -> int:
        raise NotImplementedError

    def insert_rows(self, events: Sequence[EventRow], bodies: Sequence[FrameRow]) -> None:
        raise NotImplementedError
