"""Pure helpers behind the event list and the detail pane: row cells, JSON for display with
audio summarised, and which event another one refers to. No Textual here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from inspector.audio import bytes_per_ms
from inspector.display import format_bytes, format_duration, format_offset
from inspector.protocol import AUDIO_FIELDS, Direction, audio_summary
from inspector.store import Event

__all__ = ["RowCells", "delta_text", "display_data", "quote_value", "references", "row_cells", "run_cells"]

_BASE64 = re.compile(r"^[A-Za-z0-9+/]{16,}={0,2}$")
_AUDIO_SUMMARY = re.compile(r"^<audio [0-9.]+ ms, ([0-9]+) B>$")
RUN_TEXT = 240  # characters of a run's joined text: more than any row shows


@dataclass(frozen=True, slots=True)
class RowCells:
    """The text of one event-list row, column by column."""

    seq: str
    offset: str
    arrow: str
    type: str
    ids: tuple[str, ...]  # item, response and call id, whole (the list shortens them if it must)
    size: str
    summary: str
    client: bool
    error: bool


def row_cells(ev: Event) -> RowCells:
    ids = tuple(v for v in (ev.item_id, ev.response_id, ev.call_id) if v)
    return RowCells(
        seq=str(ev.seq),
        offset=format_offset(ev.t_ns),
        arrow=ev.direction.arrow,
        type=ev.type or f"<{ev.problem or '?'}>",
        ids=ids,
        size=format_bytes(ev.size),
        summary=ev.summary or "",
        client=ev.direction == Direction.CLIENT,
        error=ev.is_error,
    )


def delta_text(ev: Event) -> str:
    """The text a delta adds, spaces kept (the stored summary trims them: joined summaries
    would run the words together). Needs the frame."""
    data = ev.data()
    delta = data.get("delta") if isinstance(data, dict) else None
    return delta if isinstance(delta, str) else ""


def run_cells(events: Sequence[Event], texts: Sequence[str]) -> RowCells:
    """One row for a collapsed run of deltas: the first event's columns with the run's total
    size, the count before the type (so that it shows in a narrow list, where the summary
    column does not), and as summary the time from the first delta to the last and the joined
    text (`texts`, the deltas' text in order), or for audio its total length."""
    first, last = events[0], events[-1]
    cells = row_cells(first)
    if first.type in AUDIO_FIELDS:
        # The stored summaries give each chunk's decoded size (at the store's default format).
        total = sum(int(m.group(1)) for ev in events if (m := _AUDIO_SUMMARY.match(ev.summary or "")))
        text = f"<audio {total / bytes_per_ms('audio/pcm'):.0f} ms, {format_bytes(total)}>"
    else:
        text = " ".join("".join(texts).split())[:RUN_TEXT]
    duration = format_duration((last.t_ns - first.t_ns) / 1e9)
    return replace(
        cells,
        type=f"{len(events)}× {cells.type}",
        size=format_bytes(sum(ev.size for ev in events)),
        summary=f"in {duration}: {text}",
        error=any(ev.is_error for ev in events),
    )


def _audio_fmt(data: dict[str, Any]) -> str:
    fmt = data.get("format")
    if isinstance(fmt, dict) and isinstance(fmt.get("type"), str):
        return fmt["type"]
    return "audio/pcm"


def display_data(data: Any, event_type: str | None = None) -> Any:
    """A copy of an event for display: the event's audio field (and any base64 `audio` value
    nested in items) replaced by `<audio 20 ms, 960 B>`."""
    audio_key = AUDIO_FIELDS.get(event_type or "")

    def walk(value: Any, top: bool) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if isinstance(item, str) and ((top and key == audio_key) or (key == "audio" and _BASE64.match(item))):
                    out[key] = audio_summary(item, _audio_fmt(value))
                else:
                    out[key] = walk(item, False)
            return out
        if isinstance(value, list):
            return [walk(item, False) for item in value]
        return value

    return walk(data, True)


def quote_value(value: str) -> str:
    """A filter value quoted so that any text survives the filter parser."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def references(ev: Event, data: Any) -> list[tuple[str, str]]:
    """(what, filter) pairs naming the events this one refers to, best first: the client event
    an error answers, the `response.created` of a response's events, the item an event is
    about, the item it follows. The caller takes the first match that is not `ev` itself."""
    data = data if isinstance(data, dict) else {}
    out: list[tuple[str, str]] = []
    error = data.get("error")
    if ev.type == "error" and isinstance(error, dict) and isinstance(error.get("event_id"), str):
        eid = error["event_id"]
        out.append((f"client event {eid}", f"dir:client event:{quote_value(eid)}"))
    if ev.response_id and ev.type != "response.created":
        out.append(
            (f"response.created of {ev.response_id}", f"type:response.created response:{quote_value(ev.response_id)}")
        )
    if ev.call_id:
        out.append((f"function call {ev.call_id}", f"call:{quote_value(ev.call_id)}"))
    if ev.item_id:
        out.append((f"item {ev.item_id}", f"item:{quote_value(ev.item_id)}"))
    previous = data.get("previous_item_id")
    if isinstance(previous, str) and previous:
        out.append((f"previous item {previous}", f"item:{quote_value(previous)}"))
    return out
