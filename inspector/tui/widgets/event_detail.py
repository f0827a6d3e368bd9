"""The detail pane: the highlighted event's JSON, pretty and highlighted, audio summarised;
or the raw frame exactly as it crossed the wire."""

from __future__ import annotations

from typing import Any

import orjson
from rich.json import JSON
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from inspector.display import format_bytes, format_offset
from inspector.store import Event
from inspector.tui.model import display_data

__all__ = ["EventDetail", "detail_renderable"]

MAX_RAW_CHARS = 256 * 1024  # the rest is a save (s) away


def detail_renderable(ev: Event, raw: bool) -> Any:
    """What the pane shows for one event (built in a worker thread: pure Rich objects)."""
    frame = ev.frame
    if isinstance(frame, bytes):
        shown = frame[:4096].hex(" ", 2)
        more = f"\n… {len(frame) - 4096} more bytes (s saves the frame)" if len(frame) > 4096 else ""
        return Text(f"binary frame, {len(frame)} B\n{shown}{more}")
    if frame is None:
        return Text("(no frame)")
    data = ev.data()
    if raw or data is None:
        shown_text = frame if len(frame) <= MAX_RAW_CHARS else frame[:MAX_RAW_CHARS]
        note = (
            ""
            if len(frame) <= MAX_RAW_CHARS
            else f"\n… {len(frame) - MAX_RAW_CHARS} more characters (s saves the frame)"
        )
        return Text(shown_text + note, no_wrap=False)
    pretty = orjson.dumps(display_data(data, ev.type), option=orjson.OPT_INDENT_2).decode()
    text = JSON(pretty, indent=2).text
    text.no_wrap = False
    text.overflow = "fold"
    return text


def detail_title(ev: Event, raw: bool) -> str:
    kind = "raw frame" if raw else "JSON"
    return (
        f"#{ev.seq} {ev.direction.arrow} {ev.type or ev.problem or '?'}  "
        f"{format_offset(ev.t_ns)}  {format_bytes(ev.size)}  ({kind}; r toggles)"
    )


class EventDetail(VerticalScroll, can_focus=True):
    """Shows one event; `show(ev, renderable)` is called with what `detail_renderable` built."""

    DEFAULT_CSS = """
    EventDetail {
        width: 40%;
        border-left: vkey $primary-background;
        padding: 0 1;
        background: $surface;
    }
    EventDetail > #detail-title { color: $text-accent; text-style: bold; }
    EventDetail > #detail-body { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.event: Event | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-title", markup=False)  # the type comes from the wire
        yield Static("select an event", id="detail-body")

    def show(self, ev: Event | None, renderable: Any, raw: bool, note: str = "") -> None:
        self.event = ev
        title = "" if ev is None else detail_title(ev, raw) + (f"\n{note}" if note else "")
        self.query_one("#detail-title", Static).update(title)
        self.query_one("#detail-body", Static).update(renderable)
        self.scroll_home(animate=False)
