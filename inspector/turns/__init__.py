"""What a turn is: the one model every part that speaks of turns uses.

A turn is one exchange: what started it (the user's text or speech, the server's idle-timeout
nudge, or a bare client `response.create`) and every response that answered it, tool rounds
included. The TUI's turns view and `t`/`T`, `inspector turns`, `export --turn N`, the WAV
export, the demo summary, diff and replay all take their turns from `build_turns`, so turn N
is the same turn everywhere.

The rules (each has a test in tests/test_turns.py):

1. A turn starts with user input: a user message item (`conversation.item.create`, role
   `user`) followed by `response.create`, a committed audio buffer (client commit or server
   VAD: the server's `input_audio_buffer.committed`), or a client `response.create` with no new
   input (a greeting). A commit the server refused (an `error`) starts nothing.
2. Idle timeout: `input_audio_buffer.timeout_triggered`, then the server's `system` item, the
   commit of the silent buffer and a response: a turn the server started (trigger
   `idle_timeout`). Its buffer is not user speech (no input audio), and it is left out of
   user-latency figures (`slow_threshold`).
3. A tool round stays in the turn that asked for it: the `function_call_output` for a call of
   that turn and the `response.create` after it continue the turn, whose `tool_calls` list each
   call with its arguments, output and how long the client took to answer.
4. `assistant` and `system` items a client seeds with `conversation.item.create` are context,
   never user input; user items before them are history too (context), so a turn's input is
   what the user said after the last seeded reply.
5. A response with several output items is one response.
6. Barge-in: speech that starts while a response runs marks that turn interrupted (with the
   client's `conversation.item.truncate`, if one follows); the speech opens the next turn.
7. Preview (beta) event names count as their GA names (`protocol.ga_type`).
8. Unknown timing is unknown: when every event of the session is at offset 0 (an import
   without timestamps), times and latencies are None, never 0.

Pure: no I/O. `build_turns` takes (event, parsed frame or None) pairs in seq order; the frame is
needed only for the types in `NEEDS_DATA`. `read_turns` feeds it from a `Store`.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from inspector.turns.builder import TurnBuilder
from inspector.turns.model import (
    BOUNDARY_NEEDS_DATA,
    BOUNDARY_TYPES,
    INPUT_AUDIO_TYPES,
    NEEDS_DATA,
    OUTPUT_AUDIO_TYPES,
    Response,
    ToolCall,
    Trigger,
    Turn,
    TurnEvent,
    TurnRow,
)

__all__ = [
    "BOUNDARY_NEEDS_DATA",
    "BOUNDARY_TYPES",
    "INPUT_AUDIO_TYPES",
    "NEEDS_DATA",
    "OUTPUT_AUDIO_TYPES",
    "Response",
    "ToolCall",
    "Trigger",
    "Turn",
    "TurnEvent",
    "TurnRow",
    "build_turns",
    "is_slow",
    "read_turns",
    "slow_threshold",
]


def build_turns(events: Iterable[tuple[TurnEvent, Any]]) -> list[Turn]:
    """The turns of a session from (event, parsed frame or None) pairs in seq order; the frame
    matters only for the types in `NEEDS_DATA`."""
    builder = TurnBuilder()
    for ev, data in events:
        builder.feed(ev, data)
    return builder.finish()


class _TurnStore(Protocol):
    def events(self, session_id: int) -> Iterable[Any]: ...
    def frame(self, session_id: int, seq: int) -> str | bytes: ...


def read_turns(
    store: _TurnStore,
    session_id: int,
    events: Iterable[Any] | None = None,
    *,
    needs_data: frozenset[str] = NEEDS_DATA,
) -> list[Turn]:
    """The turns of a recorded session, through the Store API it is given: rows for every event
    (or for `events`), frames only for `needs_data`. Over the rows of `BOUNDARY_TYPES` with
    `needs_data=BOUNDARY_NEEDS_DATA` the turns start where they do over everything (their
    texts and statuses are not all filled in): what next/previous turn on 1M events need."""
    import orjson

    def pairs() -> Iterator[tuple[Any, Any]]:
        for ev in store.events(session_id) if events is None else events:
            data = None
            if ev.type in needs_data:
                try:
                    data = orjson.loads(store.frame(session_id, ev.seq))
                except orjson.JSONDecodeError:
                    data = None
            yield ev, data

    return build_turns(pairs())


def slow_threshold(turns: list[Turn]) -> float:
    """Milliseconds to first output above which a turn is called slow: twice the median of the
    user's turns (idle-timeout nudges are the server's, not the user's), at least one second."""
    values = [
        t.to_first_output_ms for t in turns if t.to_first_output_ms is not None and t.trigger != Trigger.IDLE_TIMEOUT
    ]
    if not values:
        return 1000.0
    return max(1000.0, 2 * statistics.median(values))


def is_slow(turn: Turn, threshold_ms: float) -> bool:
    """Whether the user waited longer than `threshold_ms` (see `slow_threshold`) for output."""
    return turn.trigger != Trigger.IDLE_TIMEOUT and (turn.to_first_output_ms or 0) > threshold_ms
