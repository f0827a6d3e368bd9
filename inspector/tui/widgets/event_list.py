"""A virtual list of a session's events: renders only the visible lines, read from SQLite in
pages of 128 rows addressed by seq (Line API, as Toolong does for log files). A million events
cost what a screenful costs."""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from inspector.store import Event, Store
from inspector.tui.model import RowCells, row_cells

__all__ = ["EventList"]

log = logging.getLogger("inspector.tui")

PAGE_ROWS = 128
MAX_PAGES = 64
MAX_STRIPS = 1024
TYPE_WIDTH = 32  # longer types lose their middle: the end (.delta, .done) tells them apart
IDS_WIDTH = 23  # two short ids (model.row_cells) and a … for a third: `item_…x9Qz resp_…Ab3d …`
MIN_SUMMARY = 10  # the ids column shows only when a summary this wide still fits


class EventList(ScrollView, can_focus=True):
    """The events of one session (all, or the seqs a filter selected), one line each."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False),
        Binding("pagedown,ctrl+f,space", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("G", "last", "Last", show=False),
        # The scroll view's own `end` (scroll, cursor left behind) would win over the screen's
        # follow: End is "the last event, and follow a live session".
        Binding("end", "screen.follow", "Last event, follow", show=False),
        Binding("enter", "select", "Detail", show=False),
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
        self.cursor = 0
        self._pages: OrderedDict[int, list[Event | None]] = OrderedDict()
        self._strips: OrderedDict[tuple[int, int, bool, bool], Strip] = OrderedDict()
        self._seq_width = 1
        self.first_paint_done = False  # for the benchmark
        self._read_error: str | None = None

    # -- data ------------------------------------------------------------------------------

    def set_session(self, store: Store, session_id: int, total: int) -> None:
        self.store, self.session_id = store, session_id
        self.seqs = None
        self.total = total
        self.cursor = 0
        self._reset()

    def set_filter(self, seqs: Sequence[int] | None, keep_seq: int | None = None) -> None:
        """Show only `seqs` (None: every event); keep the cursor on `keep_seq` or the nearest."""
        self.seqs = None if seqs is None else (seqs if isinstance(seqs, array) else array("q", seqs))
        self._reset()
        self.cursor = self.row_of(keep_seq) if keep_seq is not None else 0
        self._scroll_to_cursor(center=True)
        self._post_highlight()

    def append(self, total: int | None = None, seqs: Sequence[int] = ()) -> int:
        """New events arrived (live tail): the session now has `total` events, and `seqs`
        match the filter. Returns how many rows were added."""
        before = self.row_count
        if self.seqs is not None:
            self.seqs.extend(seqs)
        if total is not None:
            self.total = total
        added = self.row_count - before
        if added:
            last_page = (before - 1) // PAGE_ROWS if before else 0
            for page in (last_page, last_page + 1):  # a partly filled page is stale now
                self._pages.pop(page, None)
            self._strips.clear()
            self._update_size()
            self.refresh()
        return added

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
    def row_count(self) -> int:
        return self.total if self.seqs is None else len(self.seqs)

    def seq_at(self, row: int) -> int | None:
        if not 0 <= row < self.row_count:
            return None
        return row + 1 if self.seqs is None else self.seqs[row]

    def row_of(self, seq: int) -> int:
        """The row showing `seq`, or the row of the nearest following event (clamped)."""
        if self.row_count == 0:
            return 0
        row = seq - 1 if self.seqs is None else bisect_left(self.seqs, seq)
        return max(0, min(row, self.row_count - 1))

    @property
    def cursor_seq(self) -> int | None:
        return self.seq_at(self.cursor)

    def event_at(self, row: int) -> Event | None:
        page_no = row // PAGE_ROWS
        page = self._pages.get(page_no)
        if page is None:
            page = self._load_page(page_no)
            self._pages[page_no] = page
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        index = row - page_no * PAGE_ROWS
        return page[index] if index < len(page) else None

    def _load_page(self, page_no: int) -> list[Event | None]:
        first_row = page_no * PAGE_ROWS
        rows = range(first_row, min(first_row + PAGE_ROWS, self.row_count))
        wanted = [seq for seq in map(self.seq_at, rows) if seq is not None]
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

    def render_line(self, y: int) -> Strip:
        self.first_paint_done = True
        row = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if row >= self.row_count:
            return Strip.blank(width, self.rich_style)
        key = (row, width, row == self.cursor, self.has_focus)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._render_row(row, width, row == self.cursor)
            self._strips[key] = strip
            while len(self._strips) > MAX_STRIPS:
                self._strips.popitem(last=False)
        return strip

    def _render_row(self, row: int, width: int, is_cursor: bool) -> Strip:
        ev = self.event_at(row)
        # The cursor's style goes on last, over each column's own: a component style carries the
        # widget's background too, which would otherwise hide the cursor's on every column.
        cursor = self.get_component_rich_style("event-list--cursor") if is_cursor else Style()
        base = self.rich_style + cursor
        if ev is None:
            text = f"{self.seq_at(row) or '':>{self._seq_width}}  …"
            segments = [Segment(text, self._style("event-list--dim", cursor))]
        else:
            segments = self._segments(row_cells(ev), base, cursor, width)
        return Strip(segments).crop_extend(0, width, base)

    def _style(self, component: str, cursor: Style) -> Style:
        return self.rich_style + self.get_component_rich_style(component) + cursor

    def _segments(self, cells: RowCells, base: Style, cursor: Style, width: int) -> list[Segment]:
        dim = self._style("event-list--dim", cursor)
        side = self._style("event-list--client" if cells.client else "event-list--server", cursor)
        strong = self._style("event-list--error", cursor) if cells.error else side
        mark = "!" if cells.error else " "
        fixed = self._seq_width + 1 + 11 + 2 + 1 + 8
        # The type before the summary: on a narrow list, types cut alike would look the same.
        type_width = max(12, min(TYPE_WIDTH, width - fixed))
        segments = [
            Segment(f"{cells.seq:>{self._seq_width}} ", dim),
            Segment(f"{cells.offset:>10} ", dim),
            Segment(f"{cells.arrow}{mark}", strong),
            Segment(f"{_fit_middle(cells.type, type_width)} ", strong),
            Segment(f"{cells.size:>7} ", dim),
        ]
        if width - fixed - type_width >= IDS_WIDTH + 1 + MIN_SUMMARY:  # ids only when there is room
            segments.append(Segment(f"{_fit_ids(cells.ids, IDS_WIDTH)} ", dim))
        segments.append(Segment(cells.summary, strong if cells.error else base))
        return segments

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self._update_size()
        self._scroll_to_cursor()

    def on_focus(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()

    # -- cursor ----------------------------------------------------------------------------

    def move_cursor(self, row: int, *, center: bool = False) -> None:
        if self.row_count == 0:
            row = 0
        else:
            row = max(0, min(row, self.row_count - 1))
        old, self.cursor = self.cursor, row
        if old != row:
            self.refresh_line(old)
            self.refresh_line(row)
        self._scroll_to_cursor(center=center)
        self._post_highlight()

    def go_to_seq(self, seq: int) -> None:
        self.move_cursor(self.row_of(seq), center=True)

    def _post_highlight(self) -> None:
        self.post_message(self.EventHighlighted(self, self.cursor_seq))

    def _scroll_to_cursor(self, center: bool = False) -> None:
        height = self.scrollable_content_region.height
        if height <= 0:
            self.call_after_refresh(self._scroll_to_cursor, center)
            return
        top = self.scroll_offset.y
        if center and not top <= self.cursor < top + height:
            self.scroll_to(y=max(0, self.cursor - height // 2), animate=False, immediate=True)
        elif self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self.row_count - 1)

    def action_select(self) -> None:
        if (seq := self.cursor_seq) is not None:
            self.post_message(self.EventSelected(self, seq))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = self.scroll_offset.y + offset.y
        if row < self.row_count:
            self.focus()
            self.move_cursor(row)
            if event.chain >= 2:
                self.action_select()


def _fit_ids(ids: str, width: int) -> str:
    """Whole ids only (the tail is what tells ids apart), then … for those left out."""
    if len(ids) > width:
        words = ids.split(" ")
        while words and len(" ".join(words)) + 2 > width:
            words.pop()
        ids = " ".join([*words, "…"])
    return ids.ljust(width)


def _fit_middle(text: str, width: int) -> str:
    """Cut in the middle: `response.output_audio_transcript.delta` and `….done` stay apart."""
    if len(text) <= width:
        return text.ljust(width)
    head = (width - 1) // 3
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]
