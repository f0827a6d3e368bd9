"""What the tap sent its writer process and the writer has not acknowledged (committed) yet.

Kept so that a writer that dies (OOM, a bug, kill -9) costs no frames: a new writer gets it all
again. Bounded: past `limit` bytes the oldest frames are let go (their session rows' creations
and updates, a few hundred bytes each, are always kept, and of the frames a count per session);
should the writer then die, those are counted as lost on their sessions. In steady state a writer acknowledges every 100 ms or so,
and this holds a few megabytes.

Items are numbered as the writer numbers what it reads; a batch is kept as it was written (the
pickled list). Shared by the feeder thread (adds, re-sends) and the receiver thread
(acknowledgements), under one lock.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field

from inspector.store._wire import FRAME, Entry, load

__all__ = ["Unacked"]


@dataclass
class _Chunk:
    """One pickle as it was sent, while its frames are held."""

    first: int  # the number of its first item
    data: bytes  # the pickled entries as written
    size: int  # the frames' bytes, as the tap counts them
    keys: list[int]  # each item's session key, in order
    others: list[tuple[int, Entry]]  # the items that are not frames, numbered

    @property
    def end(self) -> int:
        return self.first + len(self.keys)


@dataclass
class _Gone:
    """Every chunk let go, merged (they are the oldest, so they precede every chunk held): its
    size stays constant however long the writer cannot commit. Acknowledgements that stop
    inside it cannot say which of its frames they covered: should the writer then die, its
    frames all count as lost, the committed ones too."""

    end: int = 0  # the number after its last item
    size: int = 0  # its frames' bytes, not acknowledged yet
    frames: dict[int, int] = field(default_factory=dict)  # frames let go, by session key
    others: collections.deque[tuple[int, Entry]] = field(default_factory=collections.deque)


class Unacked:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._chunks: collections.deque[_Chunk] = collections.deque()  # held, oldest first
        self._gone = _Gone()
        self._held = 0  # bytes of the chunks held
        self._acked = 0  # every item numbered below this one is committed
        self._next = 0  # the number of the next item sent
        self.lock = threading.Lock()

    def sent(self, data: bytes, entries: list[Entry], size: int) -> None:
        """`entries`, pickled as `data`, were sent. What is kept of them once let go (their keys,
        the items that are not frames) is taken now, so that letting go costs no unpickling."""
        first = self._next
        keys = [entry[1] for entry in entries]
        others = [(first + at, entry) for at, entry in enumerate(entries) if entry[0] != FRAME]
        with self.lock:
            self._chunks.append(_Chunk(first, data, size, keys, others))
            self._next += len(entries)
            self._held += size
            while self._held > self.limit and self._chunks:
                self._let_go(self._chunks.popleft())

    def _let_go(self, chunk: _Chunk) -> None:
        """Its frames go (counted by session), its other items stay."""
        gone = self._gone
        gone.end = chunk.end
        gone.size += chunk.size
        gone.others.extend(chunk.others)
        places = {number - chunk.first for number, _ in chunk.others}
        for at, key in enumerate(chunk.keys):
            if at not in places:
                gone.frames[key] = gone.frames.get(key, 0) + 1
        self._held -= chunk.size

    def ack(self, upto: int) -> int:
        """Items below `upto` are committed; returns the frames' bytes of the batches now done."""
        done = 0
        with self.lock:
            self._acked = acked = max(self._acked, upto)
            gone = self._gone
            while gone.others and gone.others[0][0] < acked:
                gone.others.popleft()
            if gone.end <= acked and (gone.size or gone.frames):
                done += gone.size
                gone.size = 0
                gone.frames.clear()
            while self._chunks and self._chunks[0].end <= acked:
                chunk = self._chunks.popleft()
                done += chunk.size
                self._held -= chunk.size
        return done

    def restart(self, first: int) -> tuple[list[Entry], dict[int, int]]:
        """For a new writer, whose next item will be numbered `first`: the entries to send it
        again, in order, and the frames let go (by session key): lost. The caller sends them
        and hands them back with `sent`."""
        with self.lock:
            acked, gone = self._acked, self._gone
            again = [entry for number, entry in gone.others if number >= acked]
            lost = dict(gone.frames)
            for chunk in self._chunks:
                again += load(chunk.data)[max(0, acked - chunk.first) :]
            self._chunks.clear()
            self._gone = _Gone()
            self._held = self._acked = 0
            self._next = first
            return again, lost
