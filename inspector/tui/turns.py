"""The session as a conversation: user turns and responses with their latencies.

Pure code: `build_turns` takes events in seq order (with the parsed frame for the few types
listed in `NEEDS_DATA`, None otherwise) and returns `Turn`s. Works with the GA and the beta
vocabularies.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from inspector.formats.turns import USER_INPUT_TYPES
from inspector.protocol import Direction
from inspector.protocol import _content_text as item_text  # the list's summary wording
from inspector.store import Event

__all__ = ["NEEDS_DATA", "TURN_EVENTS_FILTER", "Turn", "build_turns", "slow_threshold"]

# Events whose summary is not enough: the builder wants their parsed frame.
NEEDS_DATA = frozenset(
    {
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.create",
        "response.output_text.done",
        "response.output_audio_transcript.done",
        "response.text.done",
        "response.audio_transcript.done",
    }
)

# Every event that can open a turn in `inspector.formats.turns.find_turns` (errors only open one
# before the first turn): `find_turns` over just these (an indexed filter, cheap on 1M events)
# finds the same turn starts as over all events. Next/previous turn in the event list use it.
TURN_EVENTS_FILTER = (
    "(dir:client (" + " OR ".join(f"type:{t}" for t in sorted(USER_INPUT_TYPES)) + ")) OR "
    "type:input_audio_buffer.committed OR type:response.created OR type:error OR is:error"
)

_TEXT_DONES = frozenset(
    {
        "response.output_text.done",
        "response.output_audio_transcript.done",
        "response.text.done",
        "response.audio_transcript.done",
    }
)
_MAX_TEXT = 4000


@dataclass
class Turn:
    """One user turn and the response(s) it started."""

    index: int
    start_seq: int
    start_ns: int
    trigger: str = ""  # what started the response: commit, create, vad
    trigger_ns: int | None = None
    user: list[str] = field(default_factory=list)
    tool_outputs: list[str] = field(default_factory=list)
    response_id: str | None = None
    response_seq: int | None = None
    created_ns: int | None = None
    first_delta_ns: int | None = None
    done_ns: int | None = None
    status: str = ""
    text: str = ""
    tool_calls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _items: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def to_created_ms(self) -> float | None:
        return _ms(self.trigger_ns, self.created_ns)

    @property
    def to_first_delta_ms(self) -> float | None:
        return _ms(self.created_ns, self.first_delta_ns)

    @property
    def to_done_ms(self) -> float | None:
        return _ms(self.first_delta_ns or self.created_ns, self.done_ns)

    @property
    def total_ms(self) -> float | None:
        return _ms(self.trigger_ns if self.trigger_ns is not None else self.created_ns, self.done_ns)

    @property
    def first_output_ms(self) -> float | None:
        """What a user feels: from their input (or the create) to the first delta."""
        start = self.trigger_ns if self.trigger_ns is not None else self.created_ns
        return _ms(start, self.first_delta_ns)


def _ms(a: int | None, b: int | None) -> float | None:
    return None if a is None or b is None else (b - a) / 1e6


def _content_text(data: Any) -> str | None:
    item = data.get("item") if isinstance(data, dict) else None
    return item_text(item) if isinstance(item, dict) else None


class _Builder:
    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.by_response: dict[str, Turn] = {}
        self.by_item: dict[str, Turn] = {}

    def open_turn(self, ev: Event) -> Turn:
        """The turn collecting input: the last one if its response has not started yet."""
        if self.turns and self.turns[-1].response_id is None:
            return self.turns[-1]
        turn = Turn(index=len(self.turns) + 1, start_seq=ev.seq, start_ns=ev.t_ns)
        self.turns.append(turn)
        return turn

    def feed(self, ev: Event, data: Any) -> None:
        t = ev.type or ""
        client = ev.direction == Direction.CLIENT
        if client and t == "conversation.item.create":
            item = data.get("item") if isinstance(data, dict) else None
            turn = self.open_turn(ev)
            if isinstance(item, dict) and item.get("type") == "function_call_output":
                turn.tool_outputs.append(str(item.get("output"))[:200])
            else:
                turn.user.append(_content_text(data) or (ev.summary or ""))
        elif t == "input_audio_buffer.committed" or (client and t == "input_audio_buffer.commit"):
            turn = self.open_turn(ev)
            if turn.trigger_ns is None:
                turn.trigger, turn.trigger_ns = "commit", ev.t_ns
            if t == "input_audio_buffer.committed" and ev.item_id:
                turn.user.append("<audio>")
                turn._items[ev.item_id] = len(turn.user) - 1
                self.by_item[ev.item_id] = turn
        elif t == "conversation.item.input_audio_transcription.completed":
            turn = self.by_item.get(ev.item_id or "")
            transcript = data.get("transcript") if isinstance(data, dict) else None
            if turn is not None and isinstance(transcript, str):
                turn.user[turn._items[ev.item_id or ""]] = transcript.strip() or "<audio>"
        elif client and t == "response.create":
            turn = self.open_turn(ev)
            turn.trigger, turn.trigger_ns = "create", ev.t_ns
        elif t == "response.created":
            turn = self.open_turn(ev)
            if turn.response_id is not None:  # a second response without new input
                turn = Turn(index=len(self.turns) + 1, start_seq=ev.seq, start_ns=ev.t_ns)
                self.turns.append(turn)
            if turn.trigger_ns is None:
                turn.trigger = "vad"
            turn.response_id = ev.response_id or f"#{ev.seq}"
            turn.response_seq = ev.seq
            turn.created_ns = ev.t_ns
            self.by_response[turn.response_id] = turn
        elif ev.response_id and ev.response_id in self.by_response:
            self.feed_response(self.by_response[ev.response_id], ev, t, data)
        elif t == "error" or ev.is_error:
            target = self.turns[-1] if self.turns else self.open_turn(ev)
            target.errors.append(ev.summary or t or "problem frame")

    @staticmethod
    def feed_response(turn: Turn, ev: Event, t: str, data: Any) -> None:
        if t.endswith(".delta") and turn.first_delta_ns is None:
            turn.first_delta_ns = ev.t_ns
        if t in _TEXT_DONES:
            text = data.get("text") or data.get("transcript") if isinstance(data, dict) else None
            text = text if isinstance(text, str) else ev.summary or ""
            turn.text = (turn.text + " " + text).strip()[:_MAX_TEXT]
        elif t == "response.output_item.done" and (ev.summary or "").startswith("function_call:"):
            turn.tool_calls.append(ev.summary.partition(": ")[2])  # type: ignore[union-attr]
        elif t == "response.done":
            turn.done_ns = ev.t_ns
            turn.status = (ev.summary or "").strip() or "done"
            if ev.is_error:
                turn.errors.append(turn.status)


def build_turns(events: Iterable[tuple[Event, Any]]) -> list[Turn]:
    """Turns from (event, parsed frame or None) pairs in seq order."""
    builder = _Builder()
    for ev, data in events:
        builder.feed(ev, data)
    return builder.turns


def slow_threshold(turns: list[Turn]) -> float:
    """Milliseconds to first output above which a turn is called slow: twice the median,
    and at least one second."""
    values = [t.first_output_ms for t in turns if t.first_output_ms is not None]
    if not values:
        return 1000.0
    return max(1000.0, 2 * statistics.median(values))
