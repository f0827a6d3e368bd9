"""Conversation turns: which audio belongs to which response. Pure: no I/O, no frames needed.

A turn is what the user did (audio committed, items created, response.create sent) and the
response that answered it (`response.created` … `response.done`), if any. A new turn starts at
the first user input after a response has started, or at a second response without new input:
the same boundaries as the TUI's turns view (`inspector.tui.turns`), so that turn N of
`inspector export --turn N` is row N there. The turn's input audio is the
`input_audio_buffer.append` events whose audio was in the buffer when the server said
`input_audio_buffer.committed` (by client commit or server VAD). Audio still in the buffer when
a response starts (not yet committed) belongs to a later turn; audio discarded by
`input_audio_buffer.cleared` belongs to none.

    turns = find_turns(store.events(session_id))     # rows only, no frames read
    turns[0].input_seqs, turns[0].output_seqs        # seqs of the audio events
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from inspector.protocol import AUDIO_FIELDS, Direction

__all__ = ["INPUT_AUDIO_TYPES", "OUTPUT_AUDIO_TYPES", "USER_INPUT_TYPES", "Turn", "TurnEvent", "find_turns"]

INPUT_AUDIO_TYPES = frozenset(t for t in AUDIO_FIELDS if t.startswith("input_audio_buffer."))
OUTPUT_AUDIO_TYPES = frozenset(t for t in AUDIO_FIELDS if t.startswith("response."))


# Client events that are user input: each joins the open turn or starts the next one.
USER_INPUT_TYPES = frozenset({"conversation.item.create", "input_audio_buffer.commit", "response.create"})


class TurnEvent(Protocol):
    """What `find_turns` needs of an event (`inspector.store.Event` has it)."""

    seq: int
    direction: Direction
    type: str | None
    response_id: str | None
    is_error: bool


@dataclass
class Turn:
    number: int  # 1-based
    start_seq: int  # the event that opened the turn
    response_id: str | None = None
    created_seq: int | None = None  # response.created; None for input that got no response
    done_seq: int | None = None  # response.done, None while running or if never finished
    commit_seqs: list[int] = field(default_factory=list)  # input_audio_buffer.committed events
    input_seqs: list[int] = field(default_factory=list)  # input_audio_buffer.append events
    output_seqs: list[int] = field(default_factory=list)  # output audio deltas

    @property
    def first_seq(self) -> int:
        return min([self.start_seq, *self.input_seqs[:1]])


def find_turns(events: Iterable[TurnEvent]) -> list[Turn]:
    """The turns of a session, from its events in seq order."""
    turns: list[Turn] = []
    by_response: dict[str, Turn] = {}
    buffered: list[int] = []  # appended, not yet committed

    def open_turn(seq: int) -> Turn:
        """The turn collecting input: the last one if its response has not started yet."""
        if not turns or turns[-1].created_seq is not None:
            turns.append(Turn(len(turns) + 1, seq))
        return turns[-1]

    for ev in events:
        kind, client = ev.type, ev.direction == Direction.CLIENT
        if client and kind in INPUT_AUDIO_TYPES:
            buffered.append(ev.seq)
        elif client and kind in USER_INPUT_TYPES:
            open_turn(ev.seq)
        elif client:
            if ev.is_error and not turns:
                open_turn(ev.seq)
        elif kind == "input_audio_buffer.committed":
            turn = open_turn(ev.seq)
            turn.commit_seqs.append(ev.seq)
            turn.input_seqs += buffered
            buffered = []
        elif kind == "input_audio_buffer.cleared":
            buffered = []
        elif kind == "response.created":
            turn = open_turn(ev.seq)
            turn.response_id, turn.created_seq = ev.response_id, ev.seq
            if ev.response_id:
                by_response[ev.response_id] = turn
        elif kind in OUTPUT_AUDIO_TYPES or kind == "response.done":
            turn = by_response.get(ev.response_id or "")
            if turn is None:  # no id to go by: the latest response
                turn = next((t for t in reversed(turns) if t.created_seq is not None), None)
            if turn is None:
                continue
            if kind == "response.done":
                turn.done_seq = ev.seq
            else:
                turn.output_seqs.append(ev.seq)
        elif (kind == "error" or ev.is_error) and not turns:
            open_turn(ev.seq)
    return turns
