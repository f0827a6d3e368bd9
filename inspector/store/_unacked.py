"""What the tap sent its writer process and the writer has not acknowledged (committed) yet.

Kept so that a writer that dies (OOM, a bug, kill -9) costs no frames: a new writer gets it all
again. Bounded: past `limit` bytes the oldest frames are let go (their session rows' creations
and updates, a few hundred bytes each, are always kept); should the writer then die, those are
counted as lost on their sessions. In steady state a writer acknowledges every 100 ms or so,
and this holds a few megabytes.

Items are numbered as the writer numbers what it reads; a batch is kept as it was written (the
pickled list). Shared by the feeder thread (adds, re-sends) and the receiver thread
(acknowledgements), under one lock.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

from inspector.store._wire import FRAME, Entry, load

__all__ = ["Unacked"]


@dataclass
class _Chunk:
    first: int  # the number of its first item
    data: bytes  # the pickled entries as written (b"" once its frames were let go)
    size: int  # the frames' bytes, as the tap counts them
    keys: list[int]  # each item's session key, in order
    others: dict[int, Entry]  # the items that are not frames, by their place in the chunk

    @property
    def end(self) -> int:
        return self.first + len(self.keys)


class Unacked:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._chunks: collections.deque[_Chunk] = collections.deque()
        self._held = 0  # bytes of the chunks not let go
        self._acked = 0  # every item numbered below this one is committed
        self._next = 0  # the number of the next item sent
        self.lock = threading.Lock()

    def sent(self, data: bytes, entries: list[Entry], size: int) -> None:
        """`entries`, pickled as `data`, were sent. What is kept of them once let go (their keys,
        the items that are not frames) is taken now, so that letting go costs no unpickling."""
        keys = [entry[1] for entry in entries]
        others = {at: entry for at, entry in enumerate(entries) if entry[0] != FRAME}
        with self.lock:
            self._chunks.append(_Chunk(self._next, data, size, keys, others))
            self._next += len(entries)
            self._held += size
            for chunk in self._chunks:
                if self._held <= self.limit:
                    break
                if chunk.data:  # let its frames go; its other items stay
                    chunk.data = b""
                    self._held -= chunk.size

    def ack(self, upto: int) -> int:
        """Items below `upto` are committed; returns the frames' bytes of the batches now done."""
        done = 0
        with self.lock:
            self._acked = max(self._acked, upto)
            while self._chunks and self._chunks[0].end <= self._acked:
                chunk = self._chunks.popleft()
                done += chunk.size
                if chunk.data:
                    self._held -= chunk.size
        return done

    def restart(self, first: int) -> tuple[list[Entry], dict[int, int]]:
        """For a new writer, whose next item will be numbered `first`: the entries to send it
        again, in order, and the frames let go (by session key): lost. The caller sends them
        and hands them back with `sent`."""
        with self.lock:
            again: list[Entry] = []
            lost: dict[int, int] = {}
            for chunk in self._chunks:
                skip = max(0, self._acked - chunk.first)
                if chunk.data:
                    again += load(chunk.data)[skip:]
                    continue
                for at in range(skip, len(chunk.keys)):
                    if at in chunk.others:
                        again.append(chunk.others[at])
                    else:
                        lost[chunk.keys[at]] = lost.get(chunk.keys[at], 0) + 1
            self._chunks.clear()
            self._held = self._acked = 0
            self._next = first
            return again, lost
