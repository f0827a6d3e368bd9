"""Runs of deltas: consecutive rows of the event list that are deltas of one content part (same
type, same item), and the map between the list's rows and its events while runs are collapsed.
The client's `input_audio_buffer.append` chunks count as deltas too (of the input buffer): in an
audio session they are the longest runs of all.
No Textual; the store only through `read_deltas`.

Two levels of rows: *event rows* (every event of the session, or those a filter selected, in
seq order) and *display rows* (what the list shows: a collapsed run is one display row). A run
is consecutive in event rows, so a filter that hides the audio deltas joins the transcript
deltas between them into one run. Content indexes are not compared: two parts of one item are
never adjacent (a `content_part.added` lies between them), unless a filter hides it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from itertools import accumulate

from inspector.store import Event, Store
from inspector.store.filter import compile_filter

__all__ = ["DeltaKeys", "RunIndex", "find_runs", "read_deltas"]

APPEND = "input_audio_buffer.append"


class DeltaKeys:
    """The session's delta events in seq order: their seqs, and their (type, item) interned as
    small ints. Compact: 12 bytes a delta, so a million-event session costs a few MB."""

    def __init__(self) -> None:
        self.seqs = array("q")
        self.codes = array("i")
        self._codes: dict[tuple[str, str | None], int] = {}
        self.through = 0  # every delta up to this seq is here

    def __len__(self) -> int:
        return len(self.seqs)

    def add(self, ev: Event) -> None:
        if ev.type is None or not (ev.type.endswith(".delta") or ev.type == APPEND):
            return
        if self.seqs and ev.seq <= self.seqs[-1]:
            return  # already known (a live page read twice)
        key = (ev.type, ev.item_id or ev.call_id or ev.response_id)
        self.seqs.append(ev.seq)
        self.codes.append(self._codes.setdefault(key, len(self._codes)))


def read_deltas(
    store: Store, session_id: int, deltas: DeltaKeys, upto: int, cancelled: Callable[[], bool] = lambda: False
) -> DeltaKeys:
    """Add the session's deltas after `deltas.through`, up to seq `upto` (one indexed query)."""
    if upto <= deltas.through:
        return deltas
    compiled = compile_filter(f"(type:*.delta OR type:{APPEND}) seq>{deltas.through} seq<={upto}")
    for ev in store.events_matching(session_id, compiled):
        if cancelled():
            return deltas
        deltas.add(ev)
    deltas.through = upto
    return deltas


def find_runs(deltas: DeltaKeys, rows: array | None, from_row: int = 0) -> tuple[array, array]:
    """The runs (≥ 2 event rows) starting at or after `from_row`: their first event rows and
    lengths. `rows`: the filter's seqs (event row i shows seq rows[i]), or None for every event
    (row i shows seq i + 1). Iterates the shorter of the two lists, bisecting the other."""
    pairs = _row_codes(deltas, rows, from_row)
    starts, lengths = array("i"), array("i")
    run_start, run_len, prev_row, prev_code = -1, 0, -2, -1
    for row, code in pairs:
        if row == prev_row + 1 and code == prev_code:
            run_len += 1
        else:
            if run_len >= 2:
                starts.append(run_start)
                lengths.append(run_len)
            run_start, run_len = row, 1
        prev_row, prev_code = row, code
    if run_len >= 2:
        starts.append(run_start)
        lengths.append(run_len)
    return starts, lengths


def _row_codes(deltas: DeltaKeys, rows: array | None, from_row: int) -> Iterator[tuple[int, int]]:
    """(event row, code) of every delta shown, in row order."""
    dseqs, codes = deltas.seqs, deltas.codes
    if rows is None:
        first = bisect_left(dseqs, from_row + 1)
        return ((dseqs[i] - 1, codes[i]) for i in range(first, len(dseqs)))
    if len(rows) - from_row < len(dseqs):
        return _rows_bisecting_deltas(dseqs, codes, rows, from_row)
    return _deltas_bisecting_rows(dseqs, codes, rows, from_row)


def _rows_bisecting_deltas(dseqs: array, codes: array, rows: array, from_row: int) -> Iterator[tuple[int, int]]:
    for row in range(from_row, len(rows)):
        i = bisect_left(dseqs, rows[row])
        if i < len(dseqs) and dseqs[i] == rows[row]:
            yield row, codes[i]


def _deltas_bisecting_rows(dseqs: array, codes: array, rows: array, from_row: int) -> Iterator[tuple[int, int]]:
    first = bisect_left(dseqs, rows[from_row]) if from_row < len(rows) else len(dseqs)
    for i in range(first, len(dseqs)):
        row = bisect_left(rows, dseqs[i])
        if row < len(rows) and rows[row] == dseqs[i]:
            yield row, codes[i]


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

    def replace_tail(self, from_row: int, starts: array, lengths: array, rows: int) -> None:
        """A live session grew to `rows` event rows: the runs from `from_row` on are these."""
        keep = bisect_left(self.starts, from_row)
        del self.starts[keep:], self.lengths[keep:]
        self.starts.extend(starts)
        self.lengths.extend(lengths)
        self.rows = rows
        self._layout()
