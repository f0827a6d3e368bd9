"""The tap's recorder for a test: frames wait in memory and are written when the test asks.

The tap's own `Recorder` starts a writer process (~150 ms, and its frames reach the database up
to 100 ms later); a test wants neither. `MemoryRecorder` keeps the tap's producer interface
(`open_session`, then the handle's `record` and `update`) and writes through the Store API: a
session's row when it opens (the tap waits for its id), its frames and updates on `flush()`.
Everything runs on the event loop thread that serves the test; nothing is written on the
forwarding path but the session row.
"""

from __future__ import annotations

import collections
from typing import Any

from inspector.protocol import Direction
from inspector.store import FrameIn, Store, StoreError
from inspector.store.recorder import Recorder

__all__ = ["MemoryRecorder"]


class MemoryRecorder(Recorder):
    """A `Recorder` without a writer process: `flush()` writes what is queued into `store`.
    Use it from the one thread that owns `store` (the serving loop's)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.path)
        self.store = store
        self.client_frames = 0  # client frames recorded so far (every one was forwarded)
        self.session_ids: list[int] = []  # in the order the connections opened
        self._pending: collections.deque[tuple[int, FrameIn | dict[str, Any]]] = collections.deque()
        self._ids: dict[int, int] = {}  # recorder key → session row id

    def start(self) -> MemoryRecorder:
        return self

    def close(self, timeout: float | None = None) -> None:
        self.flush()  # nothing to wait for: no writer process

    def record_open(self, key: int, fields: dict[str, Any]) -> None:
        handle = self._sessions.pop(key)
        try:
            session_id = self.store.create_session(**fields)
        except StoreError as exc:
            handle.id.set_exception(exc)
            return
        self._ids[key] = session_id
        self.session_ids.append(session_id)
        handle.id.set_result(session_id)

    def record_frame(self, key: int, is_server: bool, t_ns: int, data: str | bytes) -> None:
        if not is_server:
            self.client_frames += 1
        self._pending.append((key, FrameIn(Direction.SERVER if is_server else Direction.CLIENT, t_ns, data)))

    def record_update(self, key: int, fields: dict[str, Any]) -> None:
        self._pending.append((key, fields))

    def flush(self) -> None:
        """Write every queued frame and session update, in order, in one transaction."""
        frames: dict[int, list[FrameIn]] = {}
        with self.store.transaction():
            while self._pending:
                key, what = self._pending.popleft()
                session_id = self._ids.get(key)
                if session_id is None:
                    continue  # its row could not be created
                if isinstance(what, FrameIn):
                    frames.setdefault(session_id, []).append(what)
                else:
                    # The session's frames first: an update (its close) comes after them.
                    self.store.append_events(session_id, frames.pop(session_id, []))
                    self.store.update_session(session_id, **what)
            for session_id, batch in frames.items():
                self.store.append_events(session_id, batch)
