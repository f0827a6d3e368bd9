"""Two sessions side by side, one aligned row of a `DiffReport` a line: A's event on the left,
B's on the right, a gap where one side has nothing. Virtual like the event list: only the
visible lines are rendered, from the report's row columns, and each side's events are read
from its store a page of rows at a time, so a million-row diff paints what a screenful costs."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from inspector.diff import DiffReport, RowKind
from inspector.store import Event
from inspector.tui.widgets._rows import ROW_BINDINGS, CursorRows, cached_page

__all__ = ["DiffList", "EventReader"]

log = logging.getLogger("inspector.tui")

PAGE_ROWS = 128
MAX_PAGES = 32
MARKS = {RowKind.EQUAL: " ", RowKind.CHANGED: "~", RowKind.ONLY_A: "-", RowKind.ONLY_B: "+"}

# Reads the events with these seqs (ascending) of one side: `Store.events_at` of that side's store.
EventReader = Callable[[list[int]], list[Event]]


class DiffList(CursorRows):
    """The aligned rows of a diff; `cursor` is a row index into `report.rows`."""

    BINDINGS = [*ROW_BINDINGS, Binding("end,G", "last", "Last", show=False)]

    COMPONENT_CLASSES = {
        "diff-list--cursor",
        "diff-list--changed",
        "diff-list--only-a",
        "diff-list--only-b",
        "diff-list--dim",
        "diff-list--turn",
    }

    DEFAULT_CSS = """
    DiffList { height: 1fr; overflow-x: hidden; overflow-y: scroll; background: $surface; }
    DiffList > .diff-list--cursor { background: $block-cursor-blurred-background; }
    DiffList:focus > .diff-list--cursor { background: $block-cursor-background; }
    DiffList > .diff-list--changed { color: $text-warning; }
    DiffList > .diff-list--only-a { color: $text-error; }
    DiffList > .diff-list--only-b { color: $text-success; }
    DiffList > .diff-list--dim { color: $text-muted; }
    DiffList > .diff-list--turn { color: $text-accent; text-style: bold; }
    """

    class RowHighlighted(Message):
        """The cursor moved onto a row (None: the diff has no rows)."""

        def __init__(self, diff_list: DiffList, row: int | None) -> None:
            super().__init__()
            self.diff_list = diff_list
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.report: DiffReport | None = None
        self._readers: tuple[EventReader, EventReader] | None = None
        self._pages: OrderedDict[int, tuple[dict[int, Event], dict[int, Event]]] = OrderedDict()
        self._turn_starts: set[int] = set()
        self._read_error: str | None = None

    # -- data ------------------------------------------------------------------------------

    def show(self, report: DiffReport, read_a: EventReader, read_b: EventReader, *, row: int = 0) -> None:
        self.report, self._readers = report, (read_a, read_b)
        self._turn_starts = {t.first_row for t in report.turns if t.end_row > t.first_row}
        self._pages.clear()
        self._strips.clear()
        self._read_error = None
        self.virtual_size = Size(self.scrollable_content_region.width or 1, self.row_count)
        self.move_cursor(row, center=True)
        self.refresh()

    @property
    def row_count(self) -> int:
        return 0 if self.report is None else len(self.report.rows)

    def events_at(self, row: int) -> tuple[Event | None, Event | None]:
        """The A and B events of a row (None for a gap, or one that cannot be read)."""
        if self.report is None:
            return None, None
        page = cached_page(self._pages, row // PAGE_ROWS, self._load_page, MAX_PAGES)
        rows = self.report.rows
        return page[0].get(rows.a_seqs[row]), page[1].get(rows.b_seqs[row])

    def _load_page(self, page_no: int) -> tuple[dict[int, Event], dict[int, Event]]:
        assert self.report is not None and self._readers is not None
        rows = self.report.rows
        span = range(page_no * PAGE_ROWS, min((page_no + 1) * PAGE_ROWS, self.row_count))
        found: list[dict[int, Event]] = []
        for seqs, read in ((rows.a_seqs, self._readers[0]), (rows.b_seqs, self._readers[1])):
            wanted = sorted({seqs[i] for i in span if seqs[i]})
            try:
                found.append({ev.seq: ev for ev in read(wanted)} if wanted else {})
            except Exception as exc:  # a vanished database must not kill the UI
                log.warning("cannot read events: %s", exc)
                if self._read_error is None:
                    self._read_error = str(exc)
                    self.notify(f"cannot read events: {exc}", severity="error", markup=False)
                found.append({})
        return found[0], found[1]

    # -- rendering -------------------------------------------------------------------------

    def _render_row(self, row: int, width: int, is_cursor: bool) -> Strip:
        assert self.report is not None
        kind = RowKind(self.report.rows.kinds[row])
        # The cursor's style last, over each column's own (whose background would hide it).
        cursor = self.get_component_rich_style("diff-list--cursor") if is_cursor else Style()
        base = self.rich_style + cursor
        tone = self.rich_style + self._tone(kind) + cursor
        dim = self.rich_style + self.get_component_rich_style("diff-list--dim") + cursor
        a, b = self.events_at(row)
        rows = self.report.rows
        mark = MARKS[kind]
        turn = self.report.turns[rows.turns[row]]
        label = turn.label if row in self._turn_starts else ""
        label_width = 10
        side = max(10, (width - label_width - 3) // 2)
        turn_style = self.rich_style + self.get_component_rich_style("diff-list--turn") + cursor
        segments = [Segment(f"{label[:label_width]:<{label_width}}", turn_style)]
        segments += self._side(a, rows.a_seqs[row], side, tone if kind != RowKind.ONLY_B else dim)
        segments.append(Segment(f" {mark} ", tone))
        segments += self._side(b, rows.b_seqs[row], side, tone if kind != RowKind.ONLY_A else dim)
        return Strip(segments).crop_extend(0, width, base)

    def _tone(self, kind: RowKind) -> Style:
        name = {
            RowKind.CHANGED: "diff-list--changed",
            RowKind.ONLY_A: "diff-list--only-a",
            RowKind.ONLY_B: "diff-list--only-b",
        }.get(kind)
        return self.get_component_rich_style(name) if name else Style()

    @staticmethod
    def _side(ev: Event | None, seq: int, width: int, style: Style) -> list[Segment]:
        if not seq:
            return [Segment(" " * width, style)]  # the gap: this side has no such event
        if ev is None:
            return [Segment(f"{seq:>7} …".ljust(width)[:width], style)]
        arrow = ev.direction.arrow
        text = f"{seq:>7} {arrow} {ev.type or '<' + (ev.problem or '?') + '>'}"
        if ev.summary:
            text += f"  {' '.join(ev.summary.split())}"
        return [Segment(text[:width].ljust(width), style)]

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self.virtual_size = Size(self.scrollable_content_region.width or 1, self.row_count)

    # -- cursor ----------------------------------------------------------------------------

    def cursor_moved(self) -> None:
        self.post_message(self.RowHighlighted(self, self.cursor if self.row_count else None))
