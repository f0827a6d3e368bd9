"""What the tap sent its writer process and the writer has not acknowledged (committed) yet.

Kept so that a writer that dies (OOM, a bug, kill -9) costs no frames: a new writer gets it all
again. Bounded: past `limit` bytes the oldest frames are let go (their session rows' creations
and updates, a few hundred bytes each, are always kept); should the writer then die, those are
counted as lost on their sessions. In steady state a writer acknowledges every 100 ms or so,
and this holds a few megabytes.

Items are numbered as the writer numbers what it reads; a batch of buffers (header, payload,
header, payload, ...) is kept as it was written. Shared by the feeder thread (adds, re-sends)
and the receiver thread (acknowledgements), under one lock.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

from inspector.store._wire import FRAME, HEADER

__all__ = ["Unacked"]


@dataclass
class _Chunk:
    first: int  # the number of its first item
    buffers: list[bytes]  # two per item
    size: int
    let_go: frozenset[int] | None = None  # frames let go: the places of their (emptied) payloads

    @property
    def end(self) -> int:
        return self.first + len(self.buffers) // 2


class Unacked:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._chunks: collections.deque[_Chunk] = collections.deque()
        self._held = 0  # bytes of the chunks not let go
        self._acked = 0  # every item numbered below this one is committed
        self._next = 0  # the number of the next item sent
        self.lock = threading.Lock()

    def sent(self, buffers: list[bytes], size: int) -> None:
        with self.lock:
            self._chunks.append(_Chunk(self._next, buffers, size))
            self._next += len(buffers) // 2
            self._held += size
            while self._held > self.limit and self._chunks:
                self._let_go(next(c for c in self._chunks if c.let_go is None))

    def ack(self, upto: int) -> int:
        """Items below `upto` are committed; returns the bytes of the batches now done."""
        done = 0
        with self.lock:
            self._acked = max(self._acked, upto)
            while self._chunks and self._chunks[0].end <= self._acked:
                chunk = self._chunks.popleft()
                done += chunk.size
                if chunk.let_go is None:
                    self._held -= chunk.size
        return done

    def restart(self, first: int) -> tuple[list[bytes], dict[int, int]]:
        """For a new writer, whose first item will be numbered `first`: the buffers to send it
        again, in order, and the frames let go (by session key), lost unless sent already."""
        with self.lock:
            again: list[bytes] = []
            lost: dict[int, int] = {}
            for chunk in self._chunks:
                skip = max(0, self._acked - chunk.first)
                if chunk.let_go is None:
                    again += chunk.buffers[2 * skip :]
                    continue
                for at in range(2 * skip, len(chunk.buffers), 2):
                    if at + 1 in chunk.let_go:
                        key = HEADER.unpack(chunk.buffers[at])[2]
                        lost[key] = lost.get(key, 0) + 1
                    else:
                        again += chunk.buffers[at : at + 2]
            self._chunks.clear()
            self._held = self._acked = 0
            self._next = first
            if again:
                self._chunks.append(_Chunk(first, again, sum(map(len, again))))
                self._next += len(again) // 2
                self._held = self._chunks[0].size
            return again, lost

    def _let_go(self, chunk: _Chunk) -> None:
        """Drop a chunk's frames; its other items stay."""
        buffers = chunk.buffers
        let_go = [at + 1 for at in range(0, len(buffers), 2) if HEADER.unpack(buffers[at])[0] == FRAME]
        for at in let_go:
            buffers[at] = b""
        chunk.let_go = frozenset(let_go)
        self._held -= chunk.size
