"""One side of a session followed as it happens: its turns, the server events it has seen per
turn, and the ids its server generated. Pure: no I/O.

The planner runs the recorded session through a `SessionTracker` once, ahead of time, and the
target's live events through another; because both follow the same rules, "the 2nd
`response.done` of turn 3" or "the 1st call id of turn 3" mean the same thing on both sides.

A turn here is `inspector.turns`' turn: the index of an event is the number of turns the
incremental `TurnBuilder` knows right after it was fed (0 before the first turn: the session's
`session.created`/`session.updated` are turn 0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from inspector.protocol import Direction, EventInfo, Opcode, describe_frame, ga_type
from inspector.replay.ids import IdKey, IdNamer
from inspector.turns import NEEDS_DATA, TurnRow
from inspector.turns.builder import TurnBuilder

__all__ = ["WAIT_TYPES", "SessionTracker", "parse_frame", "types_per_turn"]

# The server events a wait matches, by GA name. Deltas are left out (their number varies with
# the text and the audio, never with what the client may do next), as are the events that
# arrive whenever they like: input transcriptions, `rate_limits.updated`, WebRTC's
# `output_audio_buffer.*`.
WAIT_TYPES = frozenset(
    {
        "session.created",
        "session.updated",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.timeout_triggered",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.retrieved",
        "conversation.item.deleted",
        "conversation.item.truncated",
        "response.created",
        "response.output_item.added",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.done",
        "error",
    }
)


def parse_frame(frame: str | bytes) -> tuple[EventInfo, Any]:
    """A frame's description and its parsed JSON (None when it is not a JSON text frame)."""
    opcode = Opcode.BINARY if isinstance(frame, bytes) else Opcode.TEXT
    info = describe_frame(frame, opcode)
    if info.problem is not None:
        return info, None
    return info, orjson.loads(frame)


class SessionTracker:
    """Feed it every event in the order this side saw them (`client`, `server`)."""

    def __init__(self) -> None:
        self._builder = TurnBuilder()
        self._seq = 0
        self.counts: Counter[tuple[int, str]] = Counter()  # (turn, GA type) of WAIT_TYPES
        self.ids = IdNamer()

    @property
    def turn(self) -> int:
        return len(self._builder.turns)

    def _feed(self, direction: Direction, info: EventInfo, data: Any, t_ns: int) -> int:
        self._seq += 1
        self._builder.feed(TurnRow.of(self._seq, direction, t_ns, info), data if info.type in NEEDS_DATA else None)
        return self.turn

    def client(self, info: EventInfo, data: Any, t_ns: int = 0) -> int:
        """A client event (as sent, ids remapped); returns its turn."""
        self.ids.client_sent(data)
        return self._feed(Direction.CLIENT, info, data, t_ns)

    def server(self, info: EventInfo, data: Any, t_ns: int = 0) -> tuple[int, str | None, list[tuple[IdKey, str]]]:
        """A server event; returns its turn, its GA type when a wait can match it, and the
        generated ids it shows for the first time."""
        turn = self._feed(Direction.SERVER, info, data, t_ns)
        kind = ga_type(info.type or "")
        waitable = kind if kind in WAIT_TYPES else None
        if waitable is not None:
            self.counts[(turn, waitable)] += 1
        return turn, waitable, self.ids.server_sent(turn, data)


def types_per_turn(events: Iterable[tuple[Direction, str | bytes]]) -> list[Counter[str]]:
    """How many server events of each `WAIT_TYPES` type each turn holds (index 0: before the
    first turn): the shape a replay is compared on until the diff lands."""
    tracker = SessionTracker()
    for direction, frame in events:
        info, data = parse_frame(frame)
        if direction == Direction.CLIENT:
            tracker.client(info, data)
        else:
            tracker.server(info, data)
    turns: list[Counter[str]] = [Counter() for _ in range(tracker.turn + 1)]
    for (turn, kind), count in tracker.counts.items():
        turns[turn][kind] = count
    return turns
