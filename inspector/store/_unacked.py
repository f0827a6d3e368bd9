"""What the tap sent its writer process and the writer has not acknowledged (committed) yet.

Kept so that a writer that dies (OOM, a bug, kill -9) costs no frames: a new writer gets it all
again. Bounded: past `limit` bytes the oldest frames are let go (their session rows' creations
and updates, a few hundred bytes each, are always kept, and of the frames a count per session
in runs of 16 MB); should the writer then die, those are counted as lost on their sessions. A
writer acknowledges after each commit, within a few ms when few sessions send and up to 1 s
when many do (`writer.MAX_LINGER`): under load this holds as much as its limit allows.

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
    """Chunks let go, merged into one run of about `SEGMENT_BYTES` of frames: what is kept of
    its frames is a count per session, whatever their number. An acknowledgement releases a run
    once it passes its end; one that stops inside it cannot say which of its frames it covered:
    should the writer then die, they all count as lost, the committed ones too."""

    end: int = 0  # the number after its last item
    size: int = 0  # its frames' bytes
    frames: dict[int, int] = field(default_factory=dict)  # by session key


# A run of frames let go is closed at this size; past `MAX_RUNS` runs (a writer that has not
# committed for a long while) the two oldest are merged, so memory stays bounded.
SEGMENT_BYTES = 16 * 1024 * 1024
MAX_RUNS = 64


class Unacked:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._chunks: collections.deque[_Chunk] = collections.deque()  # held, oldest first
        # What was let go, oldest first (it precedes every chunk held): its frames in runs, the
        # items that are not frames, numbered.
        self._gone: collections.deque[_Gone] = collections.deque()
        self._kept: collections.deque[tuple[int, Entry]] = collections.deque()
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
        if not self._gone or self._gone[-1].size >= SEGMENT_BYTES:
            self._gone.append(_Gone())
            if len(self._gone) > MAX_RUNS:
                older, old = self._gone.popleft(), self._gone.popleft()
                for key, count in older.frames.items():
                    old.frames[key] = old.frames.get(key, 0) + count
                old.size += older.size
                self._gone.appendleft(old)
        run = self._gone[-1]
        run.end = chunk.end
        run.size += chunk.size
        self._kept.extend(chunk.others)
        places = {number - chunk.first for number, _ in chunk.others}
        for at, key in enumerate(chunk.keys):
            if at not in places:
                run.frames[key] = run.frames.get(key, 0) + 1
        self._held -= chunk.size

    def ack(self, upto: int) -> int:
        """Items below `upto` are committed; returns the frames' bytes of the batches now done."""
        done = 0
        with self.lock:
            self._acked = acked = max(self._acked, upto)
            while self._kept and self._kept[0][0] < acked:
                self._kept.popleft()
            while self._gone and self._gone[0].end <= acked:
                done += self._gone.popleft().size
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
            acked = self._acked
            again = [entry for number, entry in self._kept if number >= acked]
            lost: dict[int, int] = {}
            for run in self._gone:
                for key, count in run.frames.items():
                    lost[key] = lost.get(key, 0) + count
            for chunk in self._chunks:
                again += load(chunk.data)[max(0, acked - chunk.first) :]
            self._chunks.clear()
            self._gone.clear()
            self._kept.clear()
            self._held = self._acked = 0
            self._next = first
            return again, lost
