"""The table of sessions: a virtual list, as the event list is. It holds the ordered ids of the
sessions shown (100k ints are a few MB) and reads the sessions themselves a page at a time, only
for the rows on screen, so that 100,000 sessions paint as fast as ten. Columns share the width
(`sessions_model.fit_columns`): at 80 columns status and errors are still on screen."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from inspector.store import SessionInfo, SessionStatus
from inspector.tui.db import DB_ERRORS
from inspector.tui.sessions_model import COLUMNS, fit_columns, header_cells, session_cells, shown
from inspector.tui.widgets._rows import ROW_BINDINGS, CursorRows, cached_page

__all__ = ["SessionsTable"]

PAGE = 100  # sessions read at a time
MAX_PAGES = 16
LoadSessions = Callable[[Sequence[int]], list[SessionInfo]]


class SessionsTable(CursorRows):
    BINDINGS = [*ROW_BINDINGS, Binding("G,end", "last", "Last", show=False)]
    HEADER = 1
    COMPONENT_CLASSES = {
        "sessions-table--cursor",
        "sessions-table--header",
        "sessions-table--error",
        "sessions-table--open",
        "sessions-table--failed",
        "sessions-table--mark",
        "sessions-table--odd",
    }
    DEFAULT_CSS = """
    SessionsTable { height: 1fr; overflow-x: hidden; overflow-y: auto; background: $surface; }
    SessionsTable > .sessions-table--header { text-style: bold; color: $primary; background: $panel; }
    SessionsTable > .sessions-table--odd { background: $surface-lighten-1; }
    SessionsTable > .sessions-table--cursor { background: $block-cursor-blurred-background; }
    SessionsTable:focus > .sessions-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    SessionsTable > .sessions-table--error { color: $text-error; text-style: bold; }
    SessionsTable > .sessions-table--open { color: $text-success; text-style: bold; }
    SessionsTable > .sessions-table--failed { color: $text-error; }
    SessionsTable > .sessions-table--mark { color: $text-warning; text-style: bold; }
    """

    class Opened(Message):
        """A double click on a session."""

    class SortPicked(Message):
        """A click on a column's header: sort by it."""

        def __init__(self, sort: str) -> None:
            super().__init__()
            self.sort = sort

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ids: list[int] = []
        self.marked: set[int] = set()
        self._load: LoadSessions = lambda ids: []
        self._pages: OrderedDict[int, list[SessionInfo]] = OrderedDict()
        self._id_width = 2
        self.hosts = False  # a column for the host (sessions of several hosts are here)

    @property
    def row_count(self) -> int:
        return len(self.ids)

    @property
    def selected_id(self) -> int | None:
        return self.ids[self.cursor] if 0 <= self.cursor < len(self.ids) else None

    @property
    def selected(self) -> SessionInfo | None:
        return self.info(self.cursor) if self.ids else None

    def info(self, row: int) -> SessionInfo | None:
        """The session on a row (read with its page), None if it was deleted meanwhile."""
        page = cached_page(self._pages, row // PAGE, self._read_page, MAX_PAGES)
        return next((s for s in page if s.id == self.ids[row]), None)

    def _read_page(self, page_no: int) -> list[SessionInfo]:
        return self._load(self.ids[page_no * PAGE : (page_no + 1) * PAGE])

    def show(self, ids: list[int], marked: set[int], load: LoadSessions) -> None:
        """Show these sessions (read again: a tap may have changed them); the cursor stays on
        its session."""
        keep = self.selected_id
        self.ids, self.marked, self._load = ids, marked, load
        self._pages.clear()
        self._strips.clear()
        self._id_width = len(str(max(ids, default=0)))
        self.virtual_size = Size(self.scrollable_content_region.width or 1, len(ids) + self.HEADER)
        row = ids.index(keep) if keep is not None and keep in ids else 0
        self.move_cursor(row)
        self.refresh()

    def _widths(self, width: int) -> list[int]:
        return fit_columns(width, self._id_width, hosts=self.hosts)

    def _render_header(self, y: int, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("sessions-table--header")
        widths = self._widths(width)
        return Strip([Segment(shown(header_cells(widths), widths), style)]).crop_extend(0, width, style)

    def _render_row(self, row: int, width: int, is_cursor: bool) -> Strip:
        cursor = self.get_component_rich_style("sessions-table--cursor") if is_cursor else Style()
        base = self.rich_style + (self.get_component_rich_style("sessions-table--odd") if row % 2 else Style())
        try:
            info = self.info(row)
        except DB_ERRORS as exc:  # a database gone or a connection lost: the row says so, read again later
            return Strip([Segment(f"{self.ids[row]:>{self._id_width + 2}}  (cannot read: {exc})", base + cursor)])
        if info is None:
            return Strip([Segment(f"{self.ids[row]:>{self._id_width + 2}}  (deleted)", base + cursor)])
        widths = self._widths(width)
        cells = session_cells(info, info.id in self.marked, widths)
        segments = []
        for column, cell, column_width in zip(COLUMNS, cells, widths):
            if not column_width:
                continue
            style = base + self._cell_style(column.name, info) + cursor
            segments += [Segment(cell, style), Segment(" ", base + cursor)]
        return Strip(segments).crop_extend(0, width, base + cursor)

    def _cell_style(self, column: str, info: SessionInfo) -> Style:
        component = None
        if column == "Errors" and info.error_events:
            component = "error"
        elif column == "Status" and info.status == SessionStatus.OPEN:
            component = "open"
        elif column == "Status" and info.status in (SessionStatus.FAILED, SessionStatus.INTERRUPTED):
            component = "failed"
        elif column == "" and info.id in self.marked:
            component = "mark"
        return self.get_component_rich_style(f"sessions-table--{component}") if component else Style()

    def row_clicked(self, row: int, chain: int) -> None:
        if chain == 2:
            self.post_message(self.Opened())

    def header_clicked(self, x: int) -> None:
        left = 0
        for column, width in zip(COLUMNS, self._widths(self.scrollable_content_region.width)):
            if not width:
                continue
            if left <= x < left + width and column.sort:
                self.post_message(self.SortPicked(column.sort))
                return
            left += width + 1

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self.virtual_size = Size(self.scrollable_content_region.width or 1, len(self.ids) + self.HEADER)
        self._scroll_to_cursor()
