"""Runs of deltas: consecutive rows of the event list that are deltas of one content part (same
type, same item), and the map between the list's rows and its events while runs are collapsed.
The client's `input_audio_buffer.append` chunks count as deltas too (of the input buffer): in an
audio session they are the longest runs of all.
No Textual; the store only through `RunFinder.read`.

Two levels of rows: *event rows* (every event of the session, or those a filter selected, in
seq order) and *display rows* (what the list shows: a collapsed run is one display row). A run
is consecutive in event rows, so a filter that hides the audio deltas joins the transcript
deltas between them into one run. Content indexes are not compared: two parts of one item are
never adjacent (a `content_part.added` lies between them), unless a filter hides it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from itertools import accumulate

from inspector.store import Event, Store
from inspector.store.filter import compile_filter

__all__ = ["RunFinder", "RunIndex", "chunk_key"]

APPEND = "input_audio_buffer.append"
CHUNKS = f"type:*.delta OR type:{APPEND}"


def chunk_key(ev: Event) -> tuple[str, str | None] | None:
    """What a run's events share (type and item), or None for an event that is no delta."""
    if ev.type is None or not (ev.type.endswith(".delta") or ev.type == APPEND):
        return None
    return ev.type, ev.item_id or ev.call_id or ev.response_id


class RunFinder:
    """Finds the runs (≥ 2 event rows) as a list's deltas arrive in seq order, keeping only the
    runs and the last delta (memory grows with the runs, not with the deltas): a live session's
    new events continue where the last read stopped."""

    def __init__(self, filter_text: str = "") -> None:
        self.filter_text = filter_text  # the list's filter: deltas are read through it
        self.starts = array("i")  # first event row of each run
        self.lengths = array("i")
        self.through = 0  # the deltas up to this seq have been fed
        self._row, self._open = -2, False
        self._key: tuple[str, str | None] | None = None

    def feed(self, row: int, key: tuple[str, str | None]) -> None:
        if row == self._row + 1 and key == self._key:
            if self._open:
                self.lengths[-1] += 1
            else:
                self.starts.append(row - 1)
                self.lengths.append(2)
                self._open = True
        else:
            self._open = False
        self._row, self._key = row, key

    def read(
        self,
        store: Store,
        session_id: int,
        rows: array | None,
        upto: int,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        """Feed the deltas after `through` up to seq `upto` that the filter keeps: one query for
        the filter and the delta types together. `rows`: the filter's seqs (event row i shows
        seq rows[i]), or None for every event (row i shows seq i + 1)."""
        if upto <= self.through:
            return
        text = f"({CHUNKS}) seq>{self.through} seq<={upto}"
        if self.filter_text.strip():
            text = f"({self.filter_text}) {text}"
        for ev in store.events_matching(session_id, compile_filter(text)):
            if cancelled():
                return
            key = chunk_key(ev)
            row = ev.seq - 1 if rows is None else bisect_left(rows, ev.seq)
            if key is not None and (rows is None or (row < len(rows) and rows[row] == ev.seq)):
                self.feed(row, key)
        self.through = upto


class RunIndex:
    """Maps display rows ↔ event rows. Runs are collapsed by default (`collapsed`); `toggled`
    holds the first event rows of the runs the user flipped (start rows stay stable as a live
    session grows, run numbers would not)."""

    def __init__(self, starts: array, lengths: array, rows: int, *, collapsed: bool = True) -> None:
        self.starts, self.lengths, self.rows = starts, lengths, rows
        self.collapsed = collapsed
        self.toggled: set[int] = set()
        self._layout()

    def is_collapsed(self, run: int) -> bool:
        return (self.starts[run] in self.toggled) != self.collapsed

    def _layout(self) -> None:
        """Where each collapsed run sits in display rows: O(runs), redone after a toggle."""
        n = len(self.starts)
        if not self.toggled:
            folded: range | list[int] = range(n) if self.collapsed else []
        else:
            folded = [k for k in range(n) if self.is_collapsed(k)]
        self._runs = array("i", folded)
        self._starts = array("i", (self.starts[k] for k in folded))
        # hidden[i]: event rows hidden by the collapsed runs before the i-th (hidden[-1]: all)
        self._hidden = array("q", accumulate((self.lengths[k] - 1 for k in folded), initial=0))
        self._display = array("i", (start - hidden for start, hidden in zip(self._starts, self._hidden)))

    @property
    def count(self) -> int:
        """Display rows."""
        return self.rows - self._hidden[-1]

    def event_row(self, row: int) -> tuple[int, int | None]:
        """The event row a display row shows (a run's first), and the collapsed run or None."""
        i = bisect_right(self._display, row) - 1
        if i < 0:
            return row, None
        if row == self._display[i]:
            return self._starts[i], self._runs[i]
        return row + self._hidden[i + 1], None

    def display_row(self, event_row: int) -> int:
        """The display row showing an event row (its run's, when the run is collapsed)."""
        i = bisect_right(self._starts, event_row) - 1
        if i < 0:
            return event_row
        if event_row < self._starts[i] + self.lengths[self._runs[i]]:
            return self._display[i]
        return event_row - self._hidden[i + 1]

    def run_at(self, event_row: int) -> int | None:
        """The run (collapsed or not) that holds an event row."""
        k = bisect_right(self.starts, event_row) - 1
        return k if k >= 0 and event_row < self.starts[k] + self.lengths[k] else None

    def opens_at(self, event_row: int) -> bool:
        """An expanded run starts on this event row (it shows ▾)."""
        run = self.run_at(event_row)
        return run is not None and self.starts[run] == event_row and not self.is_collapsed(run)

    def toggle(self, run: int) -> None:
        self.toggled ^= {self.starts[run]}
        self._layout()

    def set_collapsed(self, collapsed: bool) -> None:
        """Every run collapsed, or every run expanded."""
        self.collapsed = collapsed
        self.toggled.clear()
        self._layout()

    def grew(self, rows: int) -> None:
        """A live session grew to `rows` event rows (its finder extended the shared arrays)."""
        self.rows = rows
        self._layout()
