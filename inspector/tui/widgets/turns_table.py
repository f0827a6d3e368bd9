"""The turns of a session as a table: user input, answer, tools, the latencies (named as
everywhere: `display.LATENCIES`), a bar that makes slow turns stand out, and the status. The
texts share what the numbers leave of the width, so the latencies are on screen at 80 columns;
the bar shows from 120."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from inspector.display import LATENCIES
from inspector.tui.widgets._keys import TABLE_BINDINGS
from inspector.turns import Trigger, Turn, is_slow, slow_threshold

__all__ = ["TurnsTable", "latency_bar"]

BAR_WIDTH = 16
BAR_MIN_TEXTS = 30  # the bar (and its " slow") shows only when the two texts keep this much
STATUS_WIDTH = 24


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _segments(turn: Turn) -> list[tuple[float | None, str]]:
    """The three stretches of a turn's wait: input → created, → first output, → last done."""
    created, first, done = turn.to_created_ms, turn.to_first_output_ms, turn.to_done_ms
    to_first = None if first is None else first - (created or 0)
    to_done = None if done is None else done - (first if first is not None else created or 0)
    return [(created, "░"), (to_first, "▒"), (to_done, "█")]


def latency_bar(turn: Turn, scale_ms: float, slow_ms: float) -> Text:
    """░ input → created, ▒ → first text or audio, █ → last response.done; red when slow."""
    if scale_ms <= 0:
        return Text("")
    slow = is_slow(turn, slow_ms)
    bar = Text()
    for value, char in _segments(turn):
        if value:
            bar.append(char * max(1, round(value / scale_ms * BAR_WIDTH)))
    bar.truncate(BAR_WIDTH)
    bar.stylize("bold red" if slow else "green")
    if slow:
        bar.append(" slow", style="bold red")
    return bar


_NO_INPUT = {Trigger.IDLE_TIMEOUT: "(idle timeout: no speech)", Trigger.CLIENT: "(response.create)"}


class TurnsTable(DataTable):
    # The table's own enter (hidden) would hide the screen's "enter Go to turn" from the footer.
    BINDINGS = [*TABLE_BINDINGS, Binding("enter", "select_cursor", "Go to turn")]

    DEFAULT_CSS = "TurnsTable { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.turns: list[Turn] = []
        self._laid_out_for = -1  # the width the columns were fitted to

    def on_resize(self) -> None:
        if self.size.width != self._laid_out_for:
            self.show(self.turns)

    def _texts_width(self, turns: list[Turn], with_bar: bool, status_width: int) -> int:
        """What the user and response columns share: the width less the other columns (each
        column has one cell of padding on either side; 2 more for a scroll bar)."""
        numbers = len(str(len(turns))) + max(3, len(str(max((t.start_seq for t in turns), default=0))))
        numbers += sum(max(len(name), 5) for _, name, _ in LATENCIES)
        columns = 9 if with_bar else 8
        bar = BAR_WIDTH + 5 if with_bar else 0
        scroll_bar = 2 if len(turns) + 1 > self.size.height else 0
        return self.size.width - 2 * columns - numbers - status_width - bar - scroll_bar

    def show(self, turns: list[Turn]) -> None:
        """Fill the table (again, as a live session grows or the width changes): the cursor
        stays on its turn."""
        row = self.cursor_row
        self.clear(columns=True)
        self.turns = turns
        self._laid_out_for = self.size.width
        statuses = [_status(turn, STATUS_WIDTH if self.size.width >= 120 else 12) for turn in turns]
        status_width = max((len(status) for status in statuses), default=6)
        with_bar = self._texts_width(turns, True, status_width) >= BAR_MIN_TEXTS
        texts = max(20, self._texts_width(turns, with_bar, status_width))
        user_width = min(60, texts * 5 // 11)
        answer_width = min(100, texts - user_width)
        names = ["#", "Seq", "User", "Response", *(name for _, name, _ in LATENCIES)]
        for name in [*names, *(["░▒█"] if with_bar else []), "Status"]:
            self.add_column(name)
        slow_ms = slow_threshold(turns)
        scale = max((t.to_done_ms or 0 for t in turns), default=0)
        for turn, status in zip(turns, statuses):
            latencies = [Text(_ms(getattr(turn, attribute)), justify="right") for attribute, _, _ in LATENCIES]
            self.add_row(
                Text(str(turn.number)),
                Text(str(turn.start_seq)),
                _clip(_user_text(turn) or "—", user_width),
                _clip(_answer_text(turn) or "—", answer_width),
                *latencies,
                *([latency_bar(turn, scale, slow_ms)] if with_bar else []),
                status,
            )
        if turns and row > 0:
            self.move_cursor(row=min(row, len(turns) - 1), animate=False)

    @property
    def selected(self) -> Turn | None:
        if not self.turns or not 0 <= self.cursor_row < len(self.turns):
            return None
        return self.turns[self.cursor_row]


def _clip(text: str, width: int) -> Text:
    """A cell of user or model text: a Text, because a str cell is parsed as markup (`[/b]` in
    a transcript would raise, `[docs](url)` would lose its brackets)."""
    text = " ".join(text.split())
    return Text(text if len(text) <= width else text[: width - 1] + "…")


def _user_text(turn: Turn) -> str:
    user = turn.input_text or _NO_INPUT.get(turn.trigger, "")
    outputs = [c.output for c in turn.tool_calls if c.output is not None]
    return " / ".join(filter(None, [user, *("tool output: " + o for o in outputs)]))


def _answer_text(turn: Turn) -> str:
    parts = [
        turn.text.strip(),
        *(f"call {c.name}({c.arguments})" for c in turn.tool_calls),
        *("error " + e for e in turn.errors),
    ]
    return " / ".join(filter(None, parts))


def _status(turn: Turn, width: int) -> Text:
    text = ", ".join(turn.statuses) or "no response"
    if turn.interrupted:
        text += ", interrupted"
    status = _clip(text, width)
    if turn.errors or "failed" in text:
        status.stylize("bold red")
    elif "cancelled" in text or turn.interrupted:
        status.stylize("yellow")
    return status
