"""Conversation turns: which audio belongs to which response. Pure: no I/O, no frames needed.

A turn is one response (`response.created` … `response.done`) together with the user input
committed before it: the `input_audio_buffer.append` events whose audio was in the buffer when
the server said `input_audio_buffer.committed` (by client commit or server VAD), since the
previous response began. Audio still in the buffer when a response starts (not yet committed)
belongs to a later turn; audio discarded by `input_audio_buffer.cleared` belongs to none.

    turns = find_turns(store.events(session_id))     # rows only, no frames read
    turns[0].input_seqs, turns[0].output_seqs        # seqs of the audio events

The TUI's turns view and the WAV export both use this.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from inspector.protocol import AUDIO_FIELDS, Direction

__all__ = ["INPUT_AUDIO_TYPES", "OUTPUT_AUDIO_TYPES", "Turn", "TurnEvent", "find_turns"]

INPUT_AUDIO_TYPES = frozenset(t for t in AUDIO_FIELDS if t.startswith("input_audio_buffer."))
OUTPUT_AUDIO_TYPES = frozenset(t for t in AUDIO_FIELDS if t.startswith("response."))


class TurnEvent(Protocol):
    """What `find_turns` needs of an event (`inspector.store.Event` has it)."""

    seq: int
    direction: Direction
    type: str | None
    response_id: str | None


@dataclass
class Turn:
    number: int  # 1-based, in order of response.created
    response_id: str | None
    created_seq: int  # response.created
    done_seq: int | None = None  # response.done, None while running or if never finished
    commit_seqs: list[int] = field(default_factory=list)  # input_audio_buffer.committed events
    input_seqs: list[int] = field(default_factory=list)  # input_audio_buffer.append events
    output_seqs: list[int] = field(default_factory=list)  # output audio deltas

    @property
    def first_seq(self) -> int:
        return min([self.created_seq, *self.input_seqs[:1], *self.commit_seqs[:1]])


def find_turns(events: Iterable[TurnEvent]) -> list[Turn]:
    """The turns of a session, from its events in seq order."""
    turns: list[Turn] = []
    by_response: dict[str, Turn] = {}
    buffered: list[int] = []  # appended, not yet committed
    committed: list[int] = []  # committed, not yet answered
    commits: list[int] = []
    for ev in events:
        kind, client = ev.type, ev.direction == Direction.CLIENT
        if client:
            if kind in INPUT_AUDIO_TYPES:
                buffered.append(ev.seq)
            continue
        if kind == "input_audio_buffer.committed":
            committed += buffered
            commits.append(ev.seq)
            buffered = []
        elif kind == "input_audio_buffer.cleared":
            buffered = []
        elif kind == "response.created":
            turn = Turn(len(turns) + 1, ev.response_id, ev.seq, commit_seqs=commits, input_seqs=committed)
            turns.append(turn)
            if ev.response_id:
                by_response[ev.response_id] = turn
            committed, commits = [], []
        elif kind in OUTPUT_AUDIO_TYPES or kind == "response.done":
            turn = by_response.get(ev.response_id or "") or (turns[-1] if turns else None)
            if turn is None:
                continue
            if kind == "response.done":
                turn.done_seq = ev.seq
            else:
                turn.output_seqs.append(ev.seq)
    return turns
