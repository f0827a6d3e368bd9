"""What the virtual row lists (the event list, the diff list) share: a cursor row, keeping it on
screen, the keys that move it, a click that selects a row, and the cache of rendered strips
that focus changes invalidate. Each list says how many rows it has and what a move announces."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from textual import events
from textual.binding import Binding
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["MAX_STRIPS", "ROW_BINDINGS", "CursorRows", "cached_page"]

_P = TypeVar("_P")


def cached_page(pages: OrderedDict[int, _P], page_no: int, load: Callable[[int], _P], limit: int) -> _P:
    """A page of rows from an LRU cache of at most `limit` pages, loaded when missing: how both
    lists read only what is on screen and keep a few screens around."""
    page = pages.get(page_no)
    if page is None:
        page = pages[page_no] = load(page_no)
        while len(pages) > limit:
            pages.popitem(last=False)
    else:
        pages.move_to_end(page_no)
    return page


MAX_STRIPS = 1024  # rendered lines kept: a few screens' worth at any width

# Shared by both lists; each adds its own (enter, End, z…).
ROW_BINDINGS = [
    Binding("up,k", "cursor_up", "Up", show=False),
    Binding("down,j", "cursor_down", "Down", show=False),
    Binding("pageup,ctrl+b", "page_up", "Page up", show=False),
    Binding("pagedown,ctrl+f,space", "page_down", "Page down", show=False),
    Binding("home,g", "first", "First", show=False),
]


class CursorRows(ScrollView, can_focus=True):
    """A ScrollView of `row_count` one-line rows with a cursor, under `HEADER` fixed lines
    (`_render_header` draws them; they stay put while the rows scroll)."""

    HEADER = 0

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.cursor = 0
        # Rendered rows, keyed by (row, width, is cursor, has focus): a repaint costs a lookup.
        self._strips: OrderedDict[tuple[int, int, bool, bool], Strip] = OrderedDict()

    @property
    def row_count(self) -> int:
        raise NotImplementedError

    def _render_row(self, row: int, width: int, is_cursor: bool) -> Strip:
        """One row's line (rendered once per row, width, cursor and focus; then cached)."""
        raise NotImplementedError

    def _render_header(self, y: int, width: int) -> Strip:
        raise NotImplementedError

    @property
    def rows_on_screen(self) -> int:
        return self.scrollable_content_region.height - self.HEADER

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y < self.HEADER:
            return self._render_header(y, width)
        row = self.scroll_offset.y + y - self.HEADER
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

    def cursor_moved(self) -> None:
        """Announce the cursor's row (each list posts its own message)."""

    def row_clicked(self, row: int, chain: int) -> None:
        """A click on `row` (the cursor is there already); `chain` 2 is a double click."""

    def header_clicked(self, x: int) -> None:
        """A click on the header, `x` cells from its left."""

    def move_cursor(self, row: int, *, center: bool = False) -> None:
        row = max(0, min(row, self.row_count - 1)) if self.row_count else 0
        old, self.cursor = self.cursor, row
        if old != row:
            self.refresh_line(old + self.HEADER)
            self.refresh_line(row + self.HEADER)
        self._scroll_to_cursor(center=center)
        self.cursor_moved()

    def _scroll_to_cursor(self, center: bool = False) -> None:
        height = self.rows_on_screen
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
        self.move_cursor(self.cursor - max(1, self.rows_on_screen - 1))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + max(1, self.rows_on_screen - 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self.row_count - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y < self.HEADER:
            self.header_clicked(offset.x)
            return
        row = self.scroll_offset.y + offset.y - self.HEADER
        if row < self.row_count:
            self.focus()
            self.move_cursor(row)
            self.row_clicked(row, event.chain)

    def on_focus(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()
