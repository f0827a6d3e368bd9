"""The turns of a session as a table: user input, answer, tools, status, latencies and a bar
that makes slow turns stand out."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from inspector.tui.turns import Turn, slow_threshold
from inspector.tui.widgets._keys import TABLE_BINDINGS

__all__ = ["TurnsTable", "latency_bar"]

BAR_WIDTH = 16
USER_WIDTH = 30
ANSWER_WIDTH = 36
STATUS_WIDTH = 24


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def latency_bar(turn: Turn, scale_ms: float, slow_ms: float) -> Text:
    """░ input → created, ▒ created → first delta, █ first delta → done; red when slow."""
    if scale_ms <= 0:
        return Text("")
    slow = (turn.first_output_ms or 0) > slow_ms
    parts = [(turn.to_created_ms, "░"), (turn.to_first_delta_ms, "▒"), (turn.to_done_ms, "█")]
    bar = Text()
    for value, char in parts:
        if value:
            bar.append(char * max(1, round(value / scale_ms * BAR_WIDTH)))
    bar.truncate(BAR_WIDTH)
    bar.stylize("bold red" if slow else "green")
    if slow:
        bar.append(" slow", style="bold red")
    return bar


class TurnsTable(DataTable):
    # The table's own enter (hidden) would hide the screen's "enter Go to turn" from the footer.
    BINDINGS = [*TABLE_BINDINGS, Binding("enter", "select_cursor", "Go to turn")]

    DEFAULT_CSS = "TurnsTable { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.turns: list[Turn] = []

    def on_mount(self) -> None:
        # The latency bar right after the texts, which are clipped, so that it is on screen
        # from 120 columns; the three partial latencies, for a closer look, come last.
        for name in ("#", "Seq", "User", "Response", "ms to first output", "Status", "→created", "→1st delta", "→done"):
            self.add_column(name)

    def show(self, turns: list[Turn]) -> None:
        self.clear()
        self.turns = turns
        slow_ms = slow_threshold(turns)
        scale = max((t.total_ms or 0 for t in turns), default=0)
        for turn in turns:
            user = " / ".join(u for u in turn.user if u)
            if turn.tool_outputs:
                user = " / ".join(filter(None, [user, *("tool output: " + o for o in turn.tool_outputs)]))
            answer = turn.text.strip()
            if turn.tool_calls:
                answer = " / ".join(filter(None, [answer, *("call " + c for c in turn.tool_calls)]))
            if turn.errors:
                answer = " / ".join(filter(None, [answer, *("error " + e for e in turn.errors)]))
            status = _clip(turn.status or ("no response" if turn.response_id is None else "open"), STATUS_WIDTH)
            if turn.errors or turn.status.startswith("failed"):
                status.stylize("bold red")
            elif turn.status.startswith("cancelled"):
                status.stylize("yellow")
            bar = latency_bar(turn, scale, slow_ms)
            first = Text(_ms(turn.first_output_ms), justify="right")
            self.add_row(
                Text(str(turn.index)),
                Text(str(turn.start_seq)),
                _clip(user or "—", USER_WIDTH),
                _clip(answer or "—", ANSWER_WIDTH),
                Text.assemble(first, " ", bar),
                status,
                Text(_ms(turn.to_created_ms), justify="right"),
                Text(_ms(turn.to_first_delta_ms), justify="right"),
                Text(_ms(turn.to_done_ms), justify="right"),
            )

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
