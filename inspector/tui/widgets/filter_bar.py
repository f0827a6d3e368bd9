"""The filter bar: an input for the filter language, with the error shown under it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from inspector.store.filter import CompiledFilter, FilterError, compile_filter

__all__ = ["FilterBar"]

PLACEHOLDER = (
    "/ filter: type:response.* -type:*.delta dir:client is:error size>10kb t<1m $.response.status=failed words"
)


class FilterBar(Vertical):
    """Posts `FilterChanged` with a compiled filter when the user presses enter on a good one."""

    DEFAULT_CSS = """
    FilterBar { height: auto; }
    FilterBar > Input { border: tall $border-blurred; height: 3; }
    FilterBar > Input:focus { border: tall $border; }
    FilterBar > #filter-error { color: $text-error; height: auto; padding: 0 1; display: none; }
    FilterBar.-error > #filter-error { display: block; }
    FilterBar > #filter-status { color: $text-muted; height: 1; padding: 0 1; }
    """

    class FilterChanged(Message):
        def __init__(self, compiled: CompiledFilter) -> None:
            super().__init__()
            self.compiled = compiled

    def compose(self) -> ComposeResult:
        yield Input(placeholder=PLACEHOLDER, id="filter-input")
        yield Static("", id="filter-error", markup=False)
        yield Static("", id="filter-status", markup=False)

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    @property
    def value(self) -> str:
        return self.input.value

    def set_status(self, text: str) -> None:
        self.query_one("#filter-status", Static).update(text)

    def check(self, text: str) -> CompiledFilter | None:
        """Compile and show the error if any; the compiled filter or None."""
        try:
            compiled = compile_filter(text)
        except FilterError as exc:
            caret = "  " + " " * exc.position + "^"  # under the input's border and padding
            self.query_one("#filter-error", Static).update(f"{caret} {exc.message}")
            self.add_class("-error")
            return None
        self.remove_class("-error")
        return compiled

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if not event.value.strip():
            self.remove_class("-error")
            return
        self.check(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply(event.value)

    def apply(self, text: str) -> None:
        if self.input.value != text:
            with self.input.prevent(Input.Changed):
                self.input.value = text
        compiled = self.check(text)
        if compiled is not None:
            self.post_message(self.FilterChanged(compiled))
