"""A virtual list of a session's events: renders only the visible lines, read from SQLite in
pages of 128 rows addressed by seq (Line API, as Toolong does for log files). A million events
cost what a screenful costs.

Consecutive deltas of one content part show as one row (count, duration, joined text) until
expanded (`z` for the run under the cursor, `Z` for all of them): which rows show which events is
`_event_rows.EventRows`'s business, this module reads the pages and draws the rows."""

from __future__ import annotations

import logging
from array import array
from collections import OrderedDict
from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip

from inspector.display import fit_middle, short_id
from inspector.store import Event, Store
from inspector.tui.model import RowCells, row_cells
from inspector.tui.widgets._event_rows import EventRows
from inspector.tui.widgets._rows import ROW_BINDINGS, cached_page

__all__ = ["EventList"]

log = logging.getLogger("inspector.tui")

PAGE_ROWS = 128
MAX_PAGES = 64
TYPE_WIDTH = 32  # longer types lose their middle: the end (.delta, .done) tells them apart
IDS_WIDTH = 23  # two short ids and a … for a third: `item_…x9Qz resp_…Ab3d …`
WHOLE_IDS = 80  # room for three whole ids (`item_` and 21 characters, …), when the list is wide
MIN_SUMMARY = 10  # the ids column shows only when a summary this wide still fits
SUMMARY_FIRST = 40  # the ids column widens past IDS_WIDTH only when the summary keeps this much


class EventList(EventRows):
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
        self._pages: OrderedDict[int, list[Event | None]] = OrderedDict()
        self._read_error: str | None = None

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
