"""What the event list's rows show: the map from rows to a session's events (all, or the seqs a
filter selected) and the runs of deltas collapsed into one row each, found at once in a small
session or in a worker in a large one (the list shows every event until then), opened and
closed with `z` / `Z`. The runs themselves are found by `inspector.tui.runs` (no Textual);
`EventList` adds the pages of events and the drawing."""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict

from textual import work
from textual.geometry import Size
from textual.worker import get_current_worker

from inspector.protocol import AUDIO_FIELDS
from inspector.store import Store
from inspector.tui.db import worker_store
from inspector.tui.model import RUN_TEXT, RowCells, delta_text, run_cells
from inspector.tui.runs import RunFinder, RunIndex
from inspector.tui.widgets._rows import CursorRows

__all__ = ["SYNC_EVENTS", "EventRows"]

log = logging.getLogger("inspector.tui")

SYNC_EVENTS = 5000  # runs are found on the UI thread up to this many events (a few ms), else in a worker
RUN_CACHE = 256  # collapsed rows whose text is kept


class EventRows(CursorRows):
    """Rows over a session's events, with runs of deltas collapsed (see the module docstring)."""

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.store: Store | None = None
        self.session_id = 0
        self.total = 0  # events in the session (seqs 1..total) when no filter is applied
        self.seqs: array | None = None  # the filter's matching seqs, sorted
        self._seq_width = 1
        self.collapse = True  # runs of deltas start collapsed (Z flips it for the session)
        self.filter_text = ""  # the filter that chose `seqs`: deltas are read through it
        self._finder: RunFinder | None = None
        self._runs: RunIndex | None = None  # None: not found yet, every event is a row
        self._runs_generation = 0  # a worker's runs for an older list are dropped
        self._run_cells: OrderedDict[tuple[int, int], RowCells | None] = OrderedDict()
        self._open_seq: int | None = None  # a jump's target: its run opens when the runs arrive

    def _update_size(self) -> None:
        last = self.total if self.seqs is None else (self.seqs[-1] if self.seqs else 0)
        self._seq_width = max(3, len(str(last)))
        self.virtual_size = Size(self.scrollable_content_region.width or 1, self.row_count)

    @property
    def event_count(self) -> int:
        """Events in the list: every event of the session, or those the filter selected."""
        return self.total if self.seqs is None else len(self.seqs)

    @property
    def row_count(self) -> int:
        """Rows shown: a collapsed run is one."""
        return self.event_count if self._runs is None else self._runs.count

    def _event_row(self, row: int) -> tuple[int, int | None]:
        """The event row a row shows (a collapsed run's first) and the collapsed run, if one."""
        return (row, None) if self._runs is None else self._runs.event_row(row)

    def _seq_of(self, event_row: int) -> int:
        return event_row + 1 if self.seqs is None else self.seqs[event_row]

    def seq_at(self, row: int) -> int | None:
        """The event on a row: a collapsed run's first."""
        if not 0 <= row < self.row_count:
            return None
        return self._seq_of(self._event_row(row)[0])

    def _event_row_of(self, seq: int) -> int:
        row = seq - 1 if self.seqs is None else bisect_left(self.seqs, seq)
        return max(0, min(row, self.event_count - 1))

    def row_of(self, seq: int) -> int:
        """The row showing `seq` (its run's, when collapsed), or the nearest following (clamped)."""
        if self.row_count == 0:
            return 0
        event_row = self._event_row_of(seq)
        return event_row if self._runs is None else self._runs.display_row(event_row)

    def contains(self, seq: int) -> bool:
        """`seq` is in the list (the filter selected it), shown or inside a collapsed run."""
        return self.event_count > 0 and self._seq_of(self._event_row_of(seq)) == seq

    @property
    def cursor_seq(self) -> int | None:
        return self.seq_at(self.cursor)

    def cursor_run(self) -> tuple[int, int, int] | None:
        """The collapsed run under the cursor: its first and last seq and its length."""
        event_row, run = self._event_row(self.cursor)
        if run is None or self._runs is None:
            return None
        length = self._runs.lengths[run]
        return self._seq_of(event_row), self._seq_of(event_row + length - 1), length

    # -- runs of deltas --------------------------------------------------------------------

    def _find_runs(self) -> None:
        """Group the list's deltas into runs: at once in a small session, else in a worker (the
        list shows every event meanwhile)."""
        self._runs = self._finder = None
        self._run_cells.clear()
        self._runs_generation += 1
        if self.store is None:
            return
        finder = RunFinder(self.filter_text)
        if self.total > SYNC_EVENTS:
            self._find_runs_in_worker(self._runs_generation, finder, self.total)
            return
        try:
            finder.read(self.store, self.session_id, self.seqs, self.total)
        except Exception as exc:  # a locked database, an odd filter: every event stays a row
            log.warning("cannot find the runs of deltas: %s", exc)
            return
        self._finder = finder
        self._runs = RunIndex(finder.starts, finder.lengths, self.event_count, collapsed=self.collapse)
        self._update_size()

    @work(thread=True, exclusive=True, group="runs")
    def _find_runs_in_worker(self, generation: int, finder: RunFinder, total: int) -> None:
        worker = get_current_worker()
        try:  # the filter's seqs only grow (on the UI thread) meanwhile: bisecting them is safe
            finder.read(worker_store(self.app), self.session_id, self.seqs, total, lambda: worker.is_cancelled)
        except Exception as exc:  # a worker's exception would end the app
            log.warning("cannot find the runs of deltas: %s", exc)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._runs_found, generation, finder, total)

    def _runs_found(self, generation: int, finder: RunFinder, total: int) -> None:
        if generation != self._runs_generation:
            return
        keep = self.cursor_seq
        rows = total if self.seqs is None else bisect_right(self.seqs, total)
        self._finder = finder
        self._runs = RunIndex(finder.starts, finder.lengths, rows, collapsed=self.collapse)
        if rows < self.event_count:  # a live session grew while the worker ran
            self._extend_runs()
        if self._open_seq is not None:  # a jump made before the runs were known
            self._open_run_of(self._open_seq)
            self._open_seq = None
        self._relayout(keep)

    def _extend_runs(self) -> None:
        """New event rows (live): feed their deltas to the runs."""
        runs, finder = self._runs, self._finder
        if runs is None or finder is None or self.store is None:
            return  # a worker is finding them, and will come back here
        if self.total - finder.through > SYNC_EVENTS:
            self._find_runs()
            return
        try:
            finder.read(self.store, self.session_id, self.seqs, self.total)
        except Exception as exc:
            log.warning("cannot find the runs of deltas: %s", exc)
            return
        runs.grew(self.event_count)  # a grown run's cells are cached under its new length

    def _run_row(self, run: int) -> RowCells | None:
        """The cells of a collapsed run: its events read (frames only for the text it shows)."""
        assert self._runs is not None and self.store is not None
        start, length = self._runs.starts[run], self._runs.lengths[run]
        key = (start, length)
        if key in self._run_cells:
            self._run_cells.move_to_end(key)
            return self._run_cells[key]
        seqs = [self._seq_of(row) for row in range(start, start + length)]
        try:
            events = self.store.events_at(self.session_id, seqs)
            texts: list[str] = []
            if events and events[0].type not in AUDIO_FIELDS:  # each delta adds at least a character
                framed = self.store.events_at(self.session_id, seqs[:RUN_TEXT], with_frames=True)
                texts = [delta_text(ev) for ev in framed]
            cells = run_cells(events, texts) if events else None
        except Exception as exc:
            log.warning("cannot read a run of deltas: %s", exc)
            cells = None
        self._run_cells[key] = cells
        while len(self._run_cells) > RUN_CACHE:
            self._run_cells.popitem(last=False)
        return cells

    def _open_run_of(self, seq: int) -> None:
        runs = self._runs
        if runs is None or not self.contains(seq):
            return
        run = runs.run_at(self._event_row_of(seq))
        if run is not None and runs.is_collapsed(run):
            runs.toggle(run)
            self._strips.clear()
            self._update_size()
            self.refresh()

    def _relayout(self, keep: int | None) -> None:
        """Rows moved (runs found, opened or closed): the cursor stays on its event."""
        self._strips.clear()
        self._update_size()
        self.refresh()
        if keep is None:
            return
        self.cursor = self.row_of(keep)
        self._scroll_to_cursor(center=True)
        self.cursor_moved()  # also on the same event: the detail pane says whether it is a run

    def action_toggle_run(self) -> None:
        """Open the collapsed run under the cursor, or close the open run the cursor is in."""
        runs = self._runs
        event_row, run = self._event_row(self.cursor)
        if runs is not None and run is None:
            run = runs.run_at(event_row)
        if runs is None or run is None:
            self.notify("no run of deltas here: z opens and closes consecutive deltas of one part", timeout=3)
            return
        runs.toggle(run)
        self._relayout(self._seq_of(runs.starts[run]))

    def action_toggle_all_runs(self) -> None:
        """Every run of deltas collapsed, or every one expanded, for this session."""
        self.collapse = not self.collapse
        self._open_seq = None
        if self._runs is not None:
            keep = self.cursor_seq
            self._runs.set_collapsed(self.collapse)
            self._relayout(keep)
        self.notify("runs of deltas collapsed" if self.collapse else "every delta on its own row", timeout=2)

    def go_to_seq(self, seq: int) -> None:
        """Move to an event, opening the collapsed run it is in."""
        if self._runs is None:
            self._open_seq = seq  # opened when the worker's runs arrive
        self._open_run_of(seq)
        self.move_cursor(self.row_of(seq), center=True)
