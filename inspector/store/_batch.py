"""What the writer process commits for one batch of items: session rows, frames, counts, losses.

Everything goes through the `Store`'s public writing methods (`create_session`, `insert_rows`,
`add_counts`, `update_session`, `add_unrecorded`, `adopt_sessions`), inside one transaction,
and frames become rows through `frame_rows`, which redacts them: the same contract a second
backend implements.
"""

from __future__ import annotations

import sys
from typing import Any

from inspector.protocol import Direction
from inspector.store._codec import EventRow, FrameRow, frame_rows
from inspector.store._wire import ADOPT, FRAME, LOST, OPEN, Item
from inspector.store.store import Store
from inspector.store.values import SessionStatus

__all__ = ["Committed", "Sessions", "write_batch"]

TAIL_PAGE = 1024  # rows read at a time to count a session's last rows that share one time


class Sessions:
    """What the writer knows of each session it records, by key: row id, last seq, lost frames."""

    def __init__(self) -> None:
        self.ids: dict[int, int] = {}
        self.seqs: dict[int, int] = {}
        self.gone: set[int] = set()  # keys whose row was deleted while recording
        self.lost: dict[int, int] = {}  # frames dropped, not yet counted on their row
        # Adopted sessions whose frames may come again: (t_ns, from the server) of the last row,
        # and how many rows at the end share them.
        self.resent: dict[int, tuple[int, bool, int]] = {}

    def save(self) -> tuple[Any, ...]:
        return dict(self.ids), dict(self.seqs), set(self.gone), dict(self.lost), dict(self.resent)

    def restore(self, saved: tuple[Any, ...]) -> None:
        self.ids, self.seqs, self.gone, self.lost, self.resent = saved


class Committed:
    """What one commit did, for the tap: rows created (key → id), sessions ended (keys), frames
    written, and the number after the batch's last item; and, for the writer's pace, how many
    sessions it wrote frames of."""

    def __init__(self) -> None:
        self.opened: dict[int, int] = {}
        self.ended: list[int] = []
        self.frames = 0
        self.upto = 0
        self.sessions = 0


def write_batch(store: Store, sessions: Sessions, batch: list[Item], lease: int | None = None) -> Committed:
    """Commit one batch. On failure the caller restores `sessions` (the transaction was rolled
    back).

    A session deleted while it is recorded (by another process) loses its later frames, with one
    warning, and the other sessions go on being recorded (that used to stop the writer)."""
    done = Committed()
    events: list[EventRow] = []
    bodies: list[FrameRow] = []
    per_session: dict[int, list[EventRow]] = {}
    updates: list[tuple[int, dict[str, Any]]] = []
    ids, seqs, gone, resent = sessions.ids, sessions.seqs, sessions.gone, sessions.resent
    with store.transaction():
        _forget_deleted(store, sessions, batch)
        for item in batch:
            kind, key = item.kind, item.key
            if kind == FRAME:
                if key in gone:
                    continue
                if key in resent and _committed_before(resent, key, item):
                    done.frames += 1  # committed by the writer that died: acknowledged now
                    continue
                session_id = ids[key]
                seq = seqs[key] = seqs[key] + 1
                event, body = frame_rows(session_id, seq, item.flags, item.value, item.payload)
                events.append(event)
                bodies.append(body)
                rows = per_session.get(session_id)
                if rows is None:
                    rows = per_session[session_id] = []
                rows.append(event)
            elif kind == OPEN:
                _open(store, sessions, key, item.payload, lease)
                done.opened[key] = ids[key]
            elif kind == ADOPT:
                _adopt(store, sessions, key, item.value, lease)
            elif kind == LOST:
                sessions.lost[key] = sessions.lost.get(key, 0) + item.value
            else:  # UPDATE
                if item.payload.get("status", SessionStatus.OPEN) != SessionStatus.OPEN:
                    done.ended.append(key)
                if key not in gone:
                    updates.append((ids[key], item.payload))
        store.insert_rows(events, bodies)
        for session_id, rows in per_session.items():
            store.add_counts(session_id, rows)
        for session_id, fields in updates:
            store.update_session(session_id, **fields)
        for key in [k for k in sessions.lost if k in ids]:
            if key not in gone:
                store.add_unrecorded(ids[key], sessions.lost[key])
            del sessions.lost[key]
    done.frames += len(events)
    done.sessions = len(per_session)
    done.upto = batch[-1].number + 1 if batch else 0
    return done


def _open(store: Store, sessions: Sessions, key: int, fields: dict[str, Any], lease: int | None) -> None:
    """Create a session's row, or, when its creation was sent before (to a writer that died
    after committing it, or in a batch whose commit answer was lost), take over the row made
    then, as `_adopt` does: what comes again of its frames may be only part of what was sent
    (the tap lets the oldest unacknowledged frames go past its bound, counting them as lost)."""
    uid = fields.get("uid")
    existing = store.session_id_for_uid(uid) if uid else None
    if existing is None:
        sessions.ids[key] = store.create_session(lease=lease, **fields)
        sessions.seqs[key] = 0
        return
    _adopt(store, sessions, key, existing, lease)


def _adopt(store: Store, sessions: Sessions, key: int, session_id: int, lease: int | None) -> None:
    """Take over a session that a writer which died was recording: its row, its last seq, and
    its lease (the death made it read `interrupted`: it is open again)."""
    sessions.ids[key] = session_id
    if lease is not None:
        store.adopt_sessions(lease, [session_id])
    if not store.existing([session_id]):
        sessions.gone.add(key)
        return
    last = sessions.seqs[key] = store.last_seq(session_id)
    if last:
        sessions.resent[key] = _tail(store, session_id, last)


def _tail(store: Store, session_id: int, last: int) -> tuple[int, bool, int]:
    """(time, from the server, how many) of a session's last rows that share its last row's
    time and direction: the messages of one read are stamped with one time."""
    (row,) = store.events_at(session_id, [last])
    last_t, last_server = row.t_ns, row.direction is Direction.SERVER
    same, end = 0, last
    while True:  # a page at a time, backwards, until a row differs
        start = max(1, end - TAIL_PAGE + 1)
        for row in reversed(store.events_at(session_id, range(start, end + 1))):
            if row.t_ns != last_t or (row.direction is Direction.SERVER) != last_server:
                return last_t, last_server, same
            same += 1
        if start == 1:
            return last_t, last_server, same
        end = start - 1


def _committed_before(resent: dict[int, tuple[int, bool, int]], key: int, item: Item) -> bool:
    """Whether a frame of an adopted session is one the writer that died had committed. The tap
    sends again what it had not seen acknowledged, and a writer can die between its COMMIT and
    its acknowledgement: the frames of that commit come again. A session's frames are stamped
    and committed in order, so those are the ones before its last row's time, then as many at
    that time as the database holds (one read's messages share a time; the two legs' reads
    never share a nanosecond)."""
    last_t, last_server, left = resent[key]
    if item.value < last_t:
        return True
    if item.value == last_t and bool(item.flags) == last_server and left:
        if left > 1:
            resent[key] = (last_t, last_server, left - 1)
        else:
            del resent[key]
        return True
    del resent[key]  # from here on, every frame of this session is new
    return False


def _forget_deleted(store: Store, sessions: Sessions, batch: list[Item]) -> None:
    """Mark the sessions of this batch whose rows were deleted since the last one."""
    keys = {item.key for item in batch if item.kind != OPEN and item.key in sessions.ids} - sessions.gone
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
