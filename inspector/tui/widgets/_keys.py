"""Keys shared by several widgets and screens."""

from __future__ import annotations

from textual.binding import Binding

TABLE_BINDINGS = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
    Binding("g", "scroll_top", "First", show=False),
    Binding("G", "scroll_bottom", "Last", show=False),
]

# First in each screen's bindings, so that the footer shows "? Help" before the screen's own
# keys: at 80 columns the app's bindings, listed last, fall off the footer's end.
HELP_BINDING = Binding("question_mark", "app.help", "Help")
