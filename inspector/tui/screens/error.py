"""Shown instead of a traceback when the database cannot be opened."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, Static

__all__ = ["ErrorScreen"]


class ErrorScreen(Screen[None]):
    BINDINGS = [Binding("q,escape", "app.quit", "Quit")]
    DEFAULT_CSS = """
    ErrorScreen #error-box {
        width: 80; height: auto; padding: 1 2; border: thick $error; background: $panel;
    }
    """

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            # The message holds a path: plain text, a `[` in it is not markup.
            text = Text.assemble(("Cannot open the recordings", "bold"), f"\n\n{self.message}\n\nq quits.")
            yield Static(text, id="error-box")
        yield Footer()
