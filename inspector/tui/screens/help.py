"""The help screen: every key binding of every screen, read from the bindings themselves, and
the filter language; it opens scrolled to the section of the screen it was asked from."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen", "bindings_table", "section_id"]

_KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "escape": "esc",
    "enter": "enter",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "space": "space",
}


def key_label(keys: str) -> str:
    return " ".join(_KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


def section_id(title: str) -> str:
    return "help-" + "-".join(title.lower().split())


def bindings_table(sections: list[tuple[str, list[BindingType]]]) -> Table:
    table = Table.grid(padding=(0, 2))
    # One width for every section's keys (each section is its own table): the columns line up.
    table.add_column(justify="right", style="bold", min_width=18)
    table.add_column()
    for title, bindings in sections:
        table.add_row(Text(title, style="bold underline"), "")
        for binding in bindings:
            if not isinstance(binding, Binding):
                binding = Binding(*binding)
            table.add_row(key_label(binding.key), binding.description or binding.action)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 84; max-width: 100%; height: 90%; border: thick $primary; background: $panel; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close help")]

    def __init__(
        self,
        sections: list[tuple[str, list[BindingType]]],
        notes: Sequence[tuple[str, str]] = (),
        current: str | None = None,
    ) -> None:
        super().__init__()
        self.sections = sections
        self.notes = list(notes)
        self.current = current  # the section to show first: the screen help was asked from

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys (esc closes; ctrl+p opens the command palette)"
            for section in self.sections:
                yield Static(bindings_table([section]), id=section_id(section[0]))
            for title, text in self.notes:
                yield Static(Text(title, style="bold underline"))
                yield Static(Text(text), id=section_id(title))

    def on_mount(self) -> None:
        if self.current is not None:
            # after the first layout: before it, the sections have no place to scroll to
            self.call_after_refresh(self._scroll_to_current)

    def _scroll_to_current(self) -> None:
        section = self.query_one("#" + section_id(self.current or ""))
        self.query_one(VerticalScroll).scroll_to_widget(section, animate=False, top=True, immediate=True)

    def action_close(self) -> None:
        self.dismiss(None)
