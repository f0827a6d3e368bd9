"""The writer process's bounded buffer: what was received from the tap and is not yet committed.

A reader thread puts batches in as they arrive from the pipe, whatever the database is doing, so
the tap's pipe never backs up while the disk is full or another process holds the write lock;
the writer's main thread takes them out to commit (and holds a batch whose commit failed until
it succeeds).
Past `limit` bytes of frames the oldest frames are dropped and counted per session: their seqs
are never given out, so a session's seqs stay dense and its row says how many frames it lost.
Session rows' creations and updates are never dropped (a few hundred bytes each).
"""

from __future__ import annotations

import collections
import threading
import time

from inspector.store._wire import FRAME, Item

__all__ = ["Buffer"]


def item_size(item: Item) -> int:
    return len(item.payload) if item.kind == FRAME else 0


class Buffer:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: collections.deque[Item] = collections.deque()
        self._bytes = 0
        self._ready = threading.Condition()
        self.closed = False  # the tap closed its end of the pipe: nothing more will come
        self.high_water = 0
        # Dropped and not yet reported: frames per session key, and their total bytes.
        self._dropped: dict[int, int] = {}
        self._dropped_bytes = 0

    def put(self, items: list[Item]) -> None:
        with self._ready:
            self._items.extend(items)
            self._bytes += sum(item_size(item) for item in items)
            self.high_water = max(self.high_water, self._bytes)
            self._trim()
            self._ready.notify()

    def take(self, count: int, timeout: float, linger: float = 0.0, max_bytes: int = 1 << 62) -> list[Item]:
        """Up to `count` items and about `max_bytes` of frames (one item at least), oldest
        first; waits up to `timeout` for the first one, then up to `linger` seconds more for
        that many. What is taken no longer counts against the limit: keep `max_bytes` small
        beside it."""
        with self._ready:
            if not self._items and not self.closed:
                self._ready.wait(timeout)
            if self._items and linger > 0:
                deadline = time.monotonic() + linger
                while len(self._items) < count and self._bytes < max_bytes and not self.closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._ready.wait(left)
            out: list[Item] = []
            size, items = 0, self._items
            while items and len(out) < count and (size < max_bytes or not out):
                item = items.popleft()
                out.append(item)
                size += item_size(item)
            self._bytes -= size
            return out

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify()

    def size(self) -> int:
        """Bytes of frames held (read without the lock: a hint for the catch-up thread)."""
        return self._bytes

    def empty(self) -> bool:
        with self._ready:
            return not self._items

    def dropped(self) -> tuple[dict[int, int], int]:
        """Frames dropped since the last call, per session key, and their bytes."""
        with self._ready:
            out, size = self._dropped, self._dropped_bytes
            self._dropped, self._dropped_bytes = {}, 0
            return out, size

    def _trim(self) -> None:
        """Drop the oldest frames until the frames fit; rows' metadata is kept, in order."""
        if self._bytes <= self.limit:
            return
        kept: list[Item] = []
        while self._bytes > self.limit and self._items:
            item = self._items.popleft()
            if item[0] != FRAME:
                kept.append(item)
                continue
            self._bytes -= len(item[4])
            self._dropped[item[1]] = self._dropped.get(item[1], 0) + 1
            self._dropped_bytes += len(item[4])
        self._items.extendleft(reversed(kept))
