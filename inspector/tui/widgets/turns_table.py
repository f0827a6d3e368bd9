"""The turns of a session as a table: user input, answer, tools, status, latencies and a bar
that makes slow turns stand out."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from inspector.tui.widgets._keys import TABLE_BINDINGS
from inspector.turns import Trigger, Turn, is_slow, slow_threshold

__all__ = ["TurnsTable", "latency_bar"]

BAR_WIDTH = 16
USER_WIDTH = 30
ANSWER_WIDTH = 36
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

    def on_mount(self) -> None:
        # The latency bar right after the texts, which are clipped, so that it is on screen
        # from 120 columns; the other two latencies (from the same input), for a closer look, last.
        for name in ("#", "Seq", "User", "Response", "ms to first output", "Status", "→created", "→done"):
            self.add_column(name)

    def show(self, turns: list[Turn]) -> None:
        """Fill the table (again, as a live session grows): the cursor stays on its turn."""
        row = self.cursor_row
        self.clear()
        self.turns = turns
        slow_ms = slow_threshold(turns)
        scale = max((t.to_done_ms or 0 for t in turns), default=0)
        for turn in turns:
            user = turn.input_text or _NO_INPUT.get(turn.trigger, "")
            outputs = [c.output for c in turn.tool_calls if c.output is not None]
            if outputs:
                user = " / ".join(filter(None, [user, *("tool output: " + o for o in outputs)]))
            answer = " / ".join(
                filter(
                    None,
                    [
                        turn.text.strip(),
                        *(f"call {c.name}({c.arguments})" for c in turn.tool_calls),
                        *("error " + e for e in turn.errors),
                    ],
                )
            )
            status_text = ", ".join(turn.statuses) or "no response"
            if turn.interrupted:
                status_text += ", interrupted"
            status = _clip(status_text, STATUS_WIDTH)
            if turn.errors or "failed" in status_text:
                status.stylize("bold red")
            elif "cancelled" in status_text or turn.interrupted:
                status.stylize("yellow")
            bar = latency_bar(turn, scale, slow_ms)
            first = Text(_ms(turn.to_first_output_ms), justify="right")
            self.add_row(
                Text(str(turn.number)),
                Text(str(turn.start_seq)),
                _clip(user or "—", USER_WIDTH),
                _clip(answer or "—", ANSWER_WIDTH),
                Text.assemble(first, " ", bar),
                status,
                Text(_ms(turn.to_created_ms), justify="right"),
                Text(_ms(turn.to_done_ms), justify="right"),
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
