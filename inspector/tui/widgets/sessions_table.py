"""The table of sessions. Hundreds of rows at most: a DataTable is fine here (the event list
is the one that must be virtual). Updates in place so the cursor stays put while a tap records."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from inspector.store import SessionInfo, SessionStatus
from inspector.tui.sessions_model import COLUMNS, session_cells
from inspector.tui.widgets._keys import TABLE_BINDINGS

__all__ = ["SessionsTable"]


class SessionsTable(DataTable):
    # The table's own enter (hidden) would hide the screen's "enter Open" from the footer.
    BINDINGS = [*TABLE_BINDINGS, Binding("enter", "select_cursor", "Open")]

    DEFAULT_CSS = """
    SessionsTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._ids: list[int] = []

    def on_mount(self) -> None:
        for name in COLUMNS:
            # The mark column is empty until a mark is set, and update_cell keeps widths: give
            # it room for the ◆ from the start.
            self.add_column(name, key=name or "mark", width=1 if not name else None)

    @property
    def selected_id(self) -> int | None:
        if not self._ids or not 0 <= self.cursor_row < len(self._ids):
            return None
        return self._ids[self.cursor_row]

    def show(self, sessions: list[SessionInfo], marked: set[int]) -> None:
        ids = [s.id for s in sessions]
        if ids == self._ids:
            for info in sessions:
                for column, value in zip(COLUMNS, self._cells(info, info.id in marked)):
                    # update_width: a new label or a longer status ("closed (1000)") is
                    # cut to the column's old width otherwise
                    self.update_cell(str(info.id), column or "mark", value, update_width=True)
            return
        keep = self.selected_id
        self.clear()
        self._ids = ids
        for info in sessions:
            self.add_row(*self._cells(info, info.id in marked), key=str(info.id))
        if keep in ids:
            self.move_cursor(row=ids.index(keep), animate=False)

    @staticmethod
    def _cells(info: SessionInfo, marked: bool) -> list[Text]:
        cells = [Text(c) for c in session_cells(info, marked)]
        for i in (1, 3, 6, 7, 8):  # numbers read better right-aligned
            cells[i].justify = "right"
        if info.error_events:
            cells[8].stylize("bold red")
        if info.status == SessionStatus.OPEN:
            cells[9].stylize("bold green")
        elif info.status in (SessionStatus.FAILED, SessionStatus.INTERRUPTED):
            cells[9].stylize("red")
        if marked:
            cells[0].stylize("bold yellow")
        return cells
