"""Vim-style keys shared by the table widgets."""

from __future__ import annotations

from textual.binding import Binding

TABLE_BINDINGS = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
    Binding("g", "scroll_top", "First", show=False),
    Binding("G", "scroll_bottom", "Last", show=False),
]
