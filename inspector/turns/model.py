"""The turn values (`Turn`, `Response`, `ToolCall`, `Trigger`) and the event types the builder
reads. Pure: no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

from inspector.protocol import AUDIO_FIELDS, PREVIEW_NAMES, Direction, EventInfo

__all__ = [
    "BOUNDARY_NEEDS_DATA",
    "BOUNDARY_TYPES",
    "INPUT_AUDIO_TYPES",
    "NEEDS_DATA",
    "OUTPUT_AUDIO_TYPES",
    "OUTPUT_DELTAS",
    "TEXT_DONES",
    "Response",
    "ToolCall",
    "Trigger",
    "Turn",
    "TurnEvent",
    "TurnRow",
]

INPUT_AUDIO_TYPES = frozenset(t for t in AUDIO_FIELDS if t.startswith("input_audio_buffer."))
OUTPUT_AUDIO_TYPES = frozenset(t for t in AUDIO_FIELDS if t.startswith("response."))

# Deltas a person perceives (text, speech, its transcript): the first one is "first output".
OUTPUT_DELTAS = frozenset(
    {"response.output_text.delta", "response.output_audio.delta", "response.output_audio_transcript.delta"}
)
TEXT_DONES = frozenset({"response.output_text.done", "response.output_audio_transcript.done"})

# Events whose row is not enough: the builder reads their parsed frame (GA names; the preview
# names of the same events are added below).
_NEEDS_DATA_GA = frozenset(
    {
        "conversation.item.create",
        "conversation.item.truncate",
        "conversation.item.input_audio_transcription.completed",
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
        *TEXT_DONES,
    }
)

# The events that decide where turns start and which turn a response belongs to. Building over
# only these (an indexed type filter: cheap on a million events) gives the same turns, numbers
# and `start_seq`s as building over all events; next/previous turn in the event list use it.
_BOUNDARY_GA = frozenset(
    {
        "conversation.item.create",
        "input_audio_buffer.commit",
        "input_audio_buffer.committed",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.speech_started",
        "response.create",
        "response.created",
        "response.done",
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "error",
    }
)


def _with_preview_names(ga_names: frozenset[str]) -> frozenset[str]:
    return ga_names | {old for old, new in PREVIEW_NAMES.items() if new in ga_names}


NEEDS_DATA = _with_preview_names(_NEEDS_DATA_GA)
BOUNDARY_TYPES = _with_preview_names(_BOUNDARY_GA)
# Of the boundary events, only a client's item create needs its frame to place turn starts (its
# role and item type decide whether it opens a turn); the rest go by their rows (ids, summary).
BOUNDARY_NEEDS_DATA = frozenset({"conversation.item.create"})


class Trigger(str, enum.Enum):
    """What started a turn."""

    USER_TEXT = "user_text"
    USER_AUDIO = "user_audio"
    IDLE_TIMEOUT = "idle_timeout"
    CLIENT = "client"  # a response.create with no new input (e.g. a greeting)


class TurnEvent(Protocol):
    """What the builder needs of an event (`inspector.store.Event` has it)."""

    @property
    def seq(self) -> int: ...
    @property
    def direction(self) -> Direction: ...
    @property
    def t_ns(self) -> int: ...
    @property
    def type(self) -> str | None: ...
    @property
    def item_id(self) -> str | None: ...
    @property
    def response_id(self) -> str | None: ...
    @property
    def call_id(self) -> str | None: ...
    @property
    def is_error(self) -> bool: ...
    @property
    def summary(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class TurnRow:
    """A `TurnEvent` made from a frame's description (`protocol.describe_frame`): how code that
    holds frames rather than store rows (the replay tracker, the mock's harness, tests) feeds
    the builder."""

    seq: int
    direction: Direction
    t_ns: int
    type: str | None
    item_id: str | None
    response_id: str | None
    call_id: str | None
    is_error: bool
    summary: str | None

    @classmethod
    def of(cls, seq: int, direction: Direction, t_ns: int, info: EventInfo) -> TurnRow:
        return cls(
            seq, direction, t_ns, info.type, info.item_id, info.response_id, info.call_id, info.is_error, info.summary
        )


@dataclass
class ToolCall:
    name: str
    call_id: str | None
    arguments: str = ""
    output: str | None = None  # what the client answered, None if it never did
    done_ns: int | None = None  # when the call was complete (its item done)
    output_ns: int | None = None  # when the client sent the output
    output_seq: int | None = None

    @property
    def answer_ms(self) -> float | None:
        """How long the client took to answer the call."""
        return _ms(self.done_ns, self.output_ns)


@dataclass
class Response:
    response_id: str
    created_seq: int
    created_ns: int | None
    done_seq: int | None = None
    done_ns: int | None = None
    status: str | None = None  # completed, cancelled, failed, incomplete; None while running
    reason: str | None = None  # status_details: turn_detected, client_cancelled, an error code
    first_output_ns: int | None = None


@dataclass
class Turn:
    """One exchange: its input and every response that answered it."""

    number: int  # 1-based, in order of start
    start_seq: int  # the event that opened it
    start_ns: int | None
    idle_timeout: bool = False
    inputs: list[str] = field(default_factory=list)  # the user's texts and transcripts
    context: list[str] = field(default_factory=list)  # seeded history: "role: text"
    trigger_ns: int | None = None  # when the input was complete: response.create or the commit
    responses: list[Response] = field(default_factory=list)
    text: str = ""  # the answer's text and transcripts
    tool_calls: list[ToolCall] = field(default_factory=list)
    interrupted: bool = False  # the user spoke over a response
    truncated_ms: int | None = None  # audio_end_ms of the client's truncate after a barge-in
    errors: list[str] = field(default_factory=list)
    commit_seqs: list[int] = field(default_factory=list)  # input_audio_buffer.committed
    input_seqs: list[int] = field(default_factory=list)  # the user's input_audio_buffer.append
    output_seqs: list[int] = field(default_factory=list)  # the responses' audio deltas
    _audio_items: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def trigger(self) -> Trigger:
        if self.idle_timeout:
            return Trigger.IDLE_TIMEOUT
        if self.commit_seqs:
            return Trigger.USER_AUDIO
        if self.inputs:
            return Trigger.USER_TEXT
        return Trigger.CLIENT

    @property
    def first_seq(self) -> int:
        """The turn's first event, its input audio included."""
        return min([self.start_seq, *self.input_seqs[:1]])

    @property
    def input_text(self) -> str:
        return " / ".join(text for text in self.inputs if text)

    @property
    def statuses(self) -> list[str]:
        """Each response's status, `status (reason)`; `running` for one not done."""
        return [(r.status or "running") + (f" ({r.reason})" if r.reason else "") for r in self.responses]

    @property
    def status(self) -> str:
        """The last response's status; `no response` when none came."""
        return self.statuses[-1] if self.responses else "no response"

    @property
    def first_output_ns(self) -> int | None:
        return next((r.first_output_ns for r in self.responses if r.first_output_ns is not None), None)

    @property
    def to_created_ms(self) -> float | None:
        """From the input (or the create) to the first `response.created`."""
        return _ms(self.trigger_ns, self.responses[0].created_ns if self.responses else None)

    @property
    def to_first_output_ms(self) -> float | None:
        """From the input to the first text or audio: what a user feels."""
        return _ms(self.trigger_ns, self.first_output_ns)

    @property
    def to_done_ms(self) -> float | None:
        """From the input to the last `response.done`: tool rounds included."""
        return _ms(self.trigger_ns, self.responses[-1].done_ns if self.responses else None)

    def to_dict(self) -> dict[str, Any]:
        """The `inspector turns --json` object."""
        return {
            "turn": self.number,
            "trigger": self.trigger.value,
            "start_seq": self.start_seq,
            "input_text": self.input_text,
            "context": self.context,
            "statuses": self.statuses,
            "text": self.text,
            "tool_calls": [
                {
                    "name": c.name,
                    "call_id": c.call_id,
                    "arguments": c.arguments,
                    "output": c.output,
                    "answer_ms": c.answer_ms,
                }
                for c in self.tool_calls
            ],
            "interrupted": self.interrupted,
            "errors": self.errors,
            "to_created_ms": self.to_created_ms,
            "to_first_output_ms": self.to_first_output_ms,
            "to_done_ms": self.to_done_ms,
        }


def _ms(a: int | None, b: int | None) -> float | None:
    return None if a is None or b is None else (b - a) / 1e6
