"""A virtual list of a session's events: renders only the visible lines, read from SQLite in
pages of 128 rows addressed by seq (Line API, as Toolong does for log files). A million events
cost what a screenful costs.

Consecutive deltas of one content part show as one row (count, duration, joined text) until
expanded (`z` for the run under the cursor, `Z` for all of them). The runs are found from the
deltas' seqs, types and items (`inspector.tui.runs`): at once in a small session, in a worker in a
large one, where the list shows every event until the index is ready."""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.worker import get_current_worker

from inspector.display import fit_middle, short_id
from inspector.protocol import AUDIO_FIELDS
from inspector.store import Event, Store
from inspector.tui.db import worker_store
from inspector.tui.model import RUN_TEXT, RowCells, delta_text, row_cells, run_cells
from inspector.tui.runs import RunFinder, RunIndex
from inspector.tui.widgets._rows import ROW_BINDINGS, CursorRows, cached_page

__all__ = ["EventList"]

log = logging.getLogger("inspector.tui")

PAGE_ROWS = 128
MAX_PAGES = 64
TYPE_WIDTH = 32  # longer types lose their middle: the end (.delta, .done) tells them apart
IDS_WIDTH = 23  # two short ids and a … for a third: `item_…x9Qz resp_…Ab3d …`
WHOLE_IDS = 80  # room for three whole ids (`item_` and 21 characters, …), when the list is wide
MIN_SUMMARY = 10  # the ids column shows only when a summary this wide still fits
SUMMARY_FIRST = 40  # the ids column widens past IDS_WIDTH only when the summary keeps this much
SYNC_EVENTS = 5000  # runs are found on the UI thread up to this many events (a few ms), else in a worker
RUN_CACHE = 256  # collapsed rows whose text is kept


class EventList(CursorRows):
    """The events of one session (all, or the seqs a filter selected), one line each."""

    BINDINGS = [
        *ROW_BINDINGS,
        Binding("G", "last", "Last", show=False),
        # The scroll view's own `end` (scroll, cursor left behind) would win over the screen's
        # follow: End is "the last event, and follow a live session".
        Binding("end", "screen.follow", "Last event, follow", show=False),
        Binding("enter", "select", "Detail", show=False),
        Binding("z", "toggle_run", "Fold deltas"),
        Binding("Z", "toggle_all_runs", "Fold all deltas", show=False),
    ]

    COMPONENT_CLASSES = {
        "event-list--cursor",
        "event-list--client",
        "event-list--server",
        "event-list--error",
        "event-list--dim",
    }

    DEFAULT_CSS = """
    EventList {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: scroll;
        background: $surface;
    }
    EventList > .event-list--cursor { background: $block-cursor-blurred-background; }
    EventList:focus > .event-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    EventList > .event-list--client { color: $text-primary; }
    EventList > .event-list--server { color: $text-success; }
    EventList > .event-list--error { color: $text-error; text-style: bold; }
    EventList > .event-list--dim { color: $text-muted; }
    """

    class EventHighlighted(Message):
        """The cursor moved onto an event."""

        def __init__(self, event_list: EventList, seq: int | None) -> None:
            super().__init__()
            self.event_list = event_list
            self.seq = seq

    class EventSelected(Message):
        """Enter or a double click on an event."""

        def __init__(self, event_list: EventList, seq: int) -> None:
            super().__init__()
            self.event_list = event_list
            self.seq = seq

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.store: Store | None = None
        self.session_id = 0
        self.total = 0  # events in the session (seqs 1..total) when no filter is applied
        self.seqs: array | None = None  # the filter's matching seqs, sorted
        self._pages: OrderedDict[int, list[Event | None]] = OrderedDict()
        self._seq_width = 1
        self._read_error: str | None = None
        self.collapse = True  # runs of deltas start collapsed (Z flips it for the session)
        self.filter_text = ""  # the filter that chose `seqs`: deltas are read through it
        self._finder: RunFinder | None = None
        self._runs: RunIndex | None = None  # None: not found yet, every event is a row
        self._runs_generation = 0  # a worker's runs for an older list are dropped
        self._run_cells: OrderedDict[tuple[int, int], RowCells | None] = OrderedDict()
        self._open_seq: int | None = None  # a jump's target: its run opens when the runs arrive

    # -- data ------------------------------------------------------------------------------

    def set_session(self, store: Store, session_id: int, total: int) -> None:
        self.store, self.session_id = store, session_id
        self.seqs = None
        self.total = total
        self.cursor = 0
        self.filter_text = ""
        self._reset()
        self._find_runs()

    def set_filter(self, seqs: Sequence[int] | None, keep_seq: int | None = None, text: str = "") -> None:
        """Show only `seqs` (None: every event), which the filter `text` chose; keep the cursor
        on `keep_seq` or the nearest."""
        self.seqs = None if seqs is None else (seqs if isinstance(seqs, array) else array("q", seqs))
        self.filter_text = text if seqs is not None else ""
        self._reset()
        self._find_runs()
        self.cursor = self.row_of(keep_seq) if keep_seq is not None else 0
        self._scroll_to_cursor(center=True)
        self.cursor_moved()

    def append(self, total: int | None = None, seqs: Sequence[int] = ()) -> int:
        """New events arrived (live tail): the session now has `total` events, and `seqs`
        match the filter. Returns how many rows were added (a growing collapsed run adds none)."""
        before, before_rows = self.event_count, self.row_count
        if self.seqs is not None:
            self.seqs.extend(seqs)
        if total is not None:
            self.total = total
        if self.event_count > before:
            last_page = (before - 1) // PAGE_ROWS if before else 0
            for page in (last_page, last_page + 1):  # a partly filled page is stale now
                self._pages.pop(page, None)
            self._extend_runs()
            self._strips.clear()
            self._update_size()
            self.refresh()
        return self.row_count - before_rows

    def _reset(self) -> None:
        self._pages.clear()
        self._strips.clear()
        self._read_error = None
        self._update_size()
        self.refresh()

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

    def event_at(self, event_row: int) -> Event | None:
        """The event on an event row (not a display row: see `_event_row`)."""
        page_no = event_row // PAGE_ROWS
        page = cached_page(self._pages, page_no, self._load_page, MAX_PAGES)
        index = event_row - page_no * PAGE_ROWS
        return page[index] if index < len(page) else None

    def _load_page(self, page_no: int) -> list[Event | None]:
        first_row = page_no * PAGE_ROWS
        wanted = [self._seq_of(row) for row in range(first_row, min(first_row + PAGE_ROWS, self.event_count))]
        if not wanted or self.store is None:
            return []
        try:
            found = {ev.seq: ev for ev in self.store.events_at(self.session_id, wanted)}
        except Exception as exc:  # a locked or vanished database must not kill the UI
            log.warning("cannot read events: %s", exc)
            if self._read_error is None:
                self._read_error = str(exc)
                self.notify(f"cannot read events: {exc}", severity="error", markup=False)
            return [None] * len(wanted)
        return [found.get(seq) for seq in wanted]

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

    # -- rendering -------------------------------------------------------------------------

    def _render_row(self, row: int, width: int, is_cursor: bool) -> Strip:
        event_row, run = self._event_row(row)
        # The cursor's style goes on last, over each column's own: a component style carries the
        # widget's background too, which would otherwise hide the cursor's on every column.
        cursor = self.get_component_rich_style("event-list--cursor") if is_cursor else Style()
        base = self.rich_style + cursor
        if run is not None:
            cells, fold = self._run_row(run), "▸"
        else:
            ev = self.event_at(event_row)
            cells = row_cells(ev) if ev is not None else None
            fold = "▾" if self._runs is not None and self._runs.opens_at(event_row) else " "
        if cells is None:
            text = f"{self._seq_of(event_row):>{self._seq_width}}  …"
            segments = [Segment(text, self._style("event-list--dim", cursor))]
        else:
            segments = self._segments(cells, base, cursor, width, fold)
        return Strip(segments).crop_extend(0, width, base)

    def _style(self, component: str, cursor: Style) -> Style:
        return self.rich_style + self.get_component_rich_style(component) + cursor

    def _segments(self, cells: RowCells, base: Style, cursor: Style, width: int, fold: str) -> list[Segment]:
        dim = self._style("event-list--dim", cursor)
        side = self._style("event-list--client" if cells.client else "event-list--server", cursor)
        strong = self._style("event-list--error", cursor) if cells.error else side
        mark = "!" if cells.error else fold  # ▸ a collapsed run, ▾ the first row of an open one
        fixed = self._seq_width + 1 + 11 + 2 + 1 + 8
        # The type before the summary: on a narrow list, types cut alike would look the same.
        type_width = max(12, min(TYPE_WIDTH, width - fixed))
        segments = [
            Segment(f"{cells.seq:>{self._seq_width}} ", dim),
            Segment(f"{cells.offset:>10} ", dim),
            Segment(f"{cells.arrow}{mark}", strong),
            Segment(f"{fit_middle(cells.type, type_width)} ", strong),
            Segment(f"{cells.size:>7} ", dim),
        ]
        room = width - fixed - type_width
        if room >= IDS_WIDTH + 1 + MIN_SUMMARY:  # ids only when there is room
            ids_width = max(IDS_WIDTH, min(WHOLE_IDS, room - 1 - SUMMARY_FIRST))
            segments.append(Segment(f"{_fit_ids(cells.ids, ids_width)} ", dim))
        segments.append(Segment(cells.summary, strong if cells.error else base))
        return segments

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self._update_size()
        self._scroll_to_cursor()

    # -- cursor ----------------------------------------------------------------------------

    def go_to_seq(self, seq: int) -> None:
        """Move to an event, opening the collapsed run it is in."""
        if self._runs is None:
            self._open_seq = seq  # opened when the worker's runs arrive
        self._open_run_of(seq)
        self.move_cursor(self.row_of(seq), center=True)

    def cursor_moved(self) -> None:
        self.post_message(self.EventHighlighted(self, self.cursor_seq))

    def action_select(self) -> None:
        if (seq := self.cursor_seq) is not None:
            self.post_message(self.EventSelected(self, seq))

    def row_clicked(self, row: int, chain: int) -> None:
        if chain >= 2:
            self.action_select()


def _fit_ids(whole: tuple[str, ...], width: int) -> str:
    """The ids whole when they fit; else the first ones whole and the rest in 10 characters
    (`item_…x9Qz`: the tail is what tells a session's ids apart), as many as fit, then … for
    those left out."""
    for keep in range(len(whole), -1, -1):
        ids = " ".join([*whole[:keep], *(short_id(v, 10) for v in whole[keep:])])
        if len(ids) <= width:
            break
    if len(ids) > width:
        words = ids.split(" ")
        while words and len(" ".join(words)) + 2 > width:
            words.pop()
        ids = " ".join([*words, "…"])
    return ids.ljust(width)
