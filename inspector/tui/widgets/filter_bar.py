"""The filter bar: an input for the filter language, with the error shown under it and a status
line (how many events match) that says when it no longer describes the text typed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from inspector.store.filter import CompiledFilter, FilterError, compile_filter

__all__ = ["FilterBar"]

# A hint, not an example filter: a full example in the input's colour read as a filter applied.
PLACEHOLDER = "/ filter: type:… dir:… is:error text …  · ? lists the language"


class FilterBar(Vertical):
    """Posts `FilterChanged` with a compiled filter when the user presses enter on a good one."""

    DEFAULT_CSS = """
    FilterBar { height: auto; }
    FilterBar > Input { border: tall $border-blurred; height: 3; }
    FilterBar > Input:focus { border: tall $border; }
    FilterBar > #filter-error { color: $text-error; height: auto; padding: 0 1; display: none; }
    FilterBar.-error > #filter-error { display: block; }
    FilterBar > Input > .input--placeholder { color: $text-disabled; text-style: italic; }
    FilterBar > #filter-status { color: $text-muted; height: 1; padding: 0 1; }
    FilterBar.-stale > #filter-status { color: $text-warning; }
    """

    class FilterChanged(Message):
        def __init__(self, compiled: CompiledFilter) -> None:
            super().__init__()
            self.compiled = compiled

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.applied = ""  # the text of the filter the list shows
        self._status = ""

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
        self._status = text
        self._show_status()

    def _show_status(self) -> None:
        """The count is the applied filter's: once the text differs, say so (an invalid text
        would otherwise seem to match what the last good one matched)."""
        stale = self.input.value.strip() != self.applied.strip()
        self.set_class(stale, "-stale")
        text = self._status
        if stale:
            text += f" · for {self.applied.strip() or 'no filter'}; enter applies the text above"
        self.query_one("#filter-status", Static).update(text)

    def mark_applied(self, text: str) -> None:
        """The list now shows this filter (also when a jump cleared it)."""
        self.applied = text
        self._show_status()

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
        self._show_status()
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
