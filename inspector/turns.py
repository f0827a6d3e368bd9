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

import enum
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from inspector.protocol import AUDIO_FIELDS, Direction, content_text, ga_type

__all__ = [
    "BOUNDARY_TYPES",
    "INPUT_AUDIO_TYPES",
    "NEEDS_DATA",
    "OUTPUT_AUDIO_TYPES",
    "ToolCall",
    "Trigger",
    "Turn",
    "TurnEvent",
    "build_turns",
    "is_slow",
    "read_turns",
    "slow_threshold",
]

INPUT_AUDIO_TYPES = frozenset(t for t in AUDIO_FIELDS if t.startswith("input_audio_buffer."))
OUTPUT_AUDIO_TYPES = frozenset(t for t in AUDIO_FIELDS if t.startswith("response."))

# Deltas a person perceives (text, speech, its transcript): the first one is "first output".
_OUTPUT_DELTAS = frozenset(
    {"response.output_text.delta", "response.output_audio.delta", "response.output_audio_transcript.delta"}
)
_TEXT_DONES = frozenset({"response.output_text.done", "response.output_audio_transcript.done"})

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
        *_TEXT_DONES,
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
    from inspector.protocol import PREVIEW_NAMES

    return ga_names | {old for old, new in PREVIEW_NAMES.items() if new in ga_names}


NEEDS_DATA = _with_preview_names(_NEEDS_DATA_GA)
BOUNDARY_TYPES = _with_preview_names(_BOUNDARY_GA)


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


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _item(data: Any) -> dict[str, Any]:
    return _dict(data.get("item") if isinstance(data, dict) else None)


class _Builder:
    """Feeds events one at a time; `turns` is the result so far."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.next_turn: Turn | None = None  # where the next response goes
        self.by_response: dict[str, tuple[Turn, Response]] = {}
        self.by_call: dict[str, Turn] = {}
        self.by_item: dict[str, Turn] = {}
        self.active: tuple[Turn, Response] | None = None  # the response running now
        self.buffered: list[int] = []  # audio appended and not yet committed
        self.commit: TurnEvent | None = None  # a client commit not yet answered
        self.idle: Turn | None = None  # opened by timeout_triggered, waiting for its commit
        self.context: list[str] = []  # seeded history not yet in a turn
        self.timed = False

    # -- turns ----------------------------------------------------------------------------------

    def open(self, ev: TurnEvent) -> Turn:
        turn = Turn(number=len(self.turns) + 1, start_seq=ev.seq, start_ns=ev.t_ns)
        turn.context, self.context = self.context, []
        self.turns.append(turn)
        self.next_turn = turn
        return turn

    def collecting(self, ev: TurnEvent) -> Turn:
        """The turn gathering input: the one waiting for its first response, else a new one."""
        turn = self.next_turn
        if turn is not None and not turn.responses and not turn.idle_timeout:
            return turn
        return self.open(ev)

    def latest(self) -> Turn | None:
        return self.next_turn if self.next_turn is not None else (self.turns[-1] if self.turns else None)

    # -- events ---------------------------------------------------------------------------------

    def feed(self, ev: TurnEvent, data: Any) -> None:
        self.timed = self.timed or ev.t_ns != 0
        kind = ga_type(ev.type or "")
        handler = (_CLIENT if ev.direction == Direction.CLIENT else _SERVER).get(kind)
        if handler is not None:
            handler(self, ev, data)
        elif ev.direction == Direction.CLIENT and kind in INPUT_AUDIO_TYPES:
            self.buffered.append(ev.seq)
        elif kind in OUTPUT_AUDIO_TYPES or kind in _OUTPUT_DELTAS:
            self.output(ev, kind)
        elif kind in _TEXT_DONES:
            self.text_done(ev, data)
        elif ev.is_error:  # a problem frame (not JSON, no type...) in the flow of a turn
            self.error(ev, ev.summary or "problem frame")

    def item_create(self, ev: TurnEvent, data: Any) -> None:
        item = _item(data)
        kind, role = item.get("type"), item.get("role")
        text = content_text(item) or ev.summary or ""
        if kind == "function_call_output":
            self.tool_output(ev, item)
        elif role == "user" and kind in ("message", None):
            self.collecting(ev).inputs.append(text)
        else:
            # Seeded history: an assistant or system message (or a call): context, and the user
            # items before it were history too.
            line = f"{role or kind}: {text}"
            turn = self.next_turn if self.next_turn is not None and not self.next_turn.responses else None
            if turn is None:
                self.context.append(line)
            else:
                turn.context += [f"user: {t}" for t in turn.inputs] + [line]
                turn.inputs.clear()

    def tool_output(self, ev: TurnEvent, item: dict[str, Any]) -> None:
        call_id = item.get("call_id") if isinstance(item.get("call_id"), str) else ev.call_id
        turn = self.by_call.get(call_id or "")
        if turn is None:  # an output for a call we never saw: context of the turn to come
            self.context.append(f"tool output: {item.get('output')}")
            return
        call = next(c for c in turn.tool_calls if c.call_id == call_id)
        output = item.get("output")
        call.output = output if isinstance(output, str) else str(output)
        call.output_ns, call.output_seq = ev.t_ns, ev.seq
        self.next_turn = turn  # the response.create that follows continues this turn

    def response_create(self, ev: TurnEvent, data: Any) -> None:
        if self.next_turn is not None:  # new input, or a tool output: that turn goes on
            turn = self.next_turn
        elif self.active is not None:  # refused while one runs: the error joins that turn
            return
        else:
            turn = self.open(ev)
        if turn.trigger_ns is None:
            turn.trigger_ns = ev.t_ns

    def client_commit(self, ev: TurnEvent, data: Any) -> None:
        self.commit = ev

    def truncate(self, ev: TurnEvent, data: Any) -> None:
        turn = self.by_item.get(ev.item_id or "") or self.latest()
        ms = data.get("audio_end_ms") if isinstance(data, dict) else None
        if turn is not None and isinstance(ms, int):
            turn.truncated_ms = ms

    def committed(self, ev: TurnEvent, data: Any) -> None:
        if self.idle is not None:  # the silent buffer of an idle-timeout nudge
            turn, self.idle = self.idle, None
            self.buffered = []
        else:
            opener = self.commit if self.commit is not None else ev
            turn = self.collecting(opener)
            turn.input_seqs += self.buffered
            self.buffered = []
            if ev.item_id:
                turn.inputs.append("<audio>")
                turn._audio_items[ev.item_id] = len(turn.inputs) - 1
        self.commit = None
        turn.commit_seqs.append(ev.seq)
        if ev.item_id:
            self.by_item[ev.item_id] = turn
        if turn.trigger_ns is None:
            turn.trigger_ns = ev.t_ns

    def cleared(self, ev: TurnEvent, data: Any) -> None:
        self.buffered = []

    def timeout_triggered(self, ev: TurnEvent, data: Any) -> None:
        turn = self.open(ev)
        turn.idle_timeout = True
        turn.trigger_ns = ev.t_ns
        self.idle = turn

    def speech_started(self, ev: TurnEvent, data: Any) -> None:
        if self.active is not None:
            self.active[0].interrupted = True

    def transcription(self, ev: TurnEvent, data: Any) -> None:
        turn = self.by_item.get(ev.item_id or "")
        transcript = data.get("transcript") if isinstance(data, dict) else None
        if turn is not None and isinstance(transcript, str) and ev.item_id in turn._audio_items:
            turn.inputs[turn._audio_items[ev.item_id or ""]] = transcript.strip() or "<audio>"

    def response_created(self, ev: TurnEvent, data: Any) -> None:
        turn = self.next_turn if self.next_turn is not None else self.open(ev)
        if self.idle is turn:  # answered before the commit arrived
            self.idle = None
        response = Response(ev.response_id or f"#{ev.seq}", ev.seq, ev.t_ns)
        turn.responses.append(response)
        self.by_response[response.response_id] = (turn, response)
        self.active = (turn, response)
        if turn.trigger_ns is None:
            turn.trigger_ns = ev.t_ns
        self.next_turn = None

    def owner(self, ev: TurnEvent) -> tuple[Turn, Response] | None:
        found = self.by_response.get(ev.response_id or "")
        return found if found is not None else self.active

    def response_done(self, ev: TurnEvent, data: Any) -> None:
        found = self.owner(ev)
        if found is None:
            return
        turn, response = found
        body = _dict(data.get("response") if isinstance(data, dict) else None)
        details = _dict(body.get("status_details"))
        error = _dict(details.get("error"))
        status = body.get("status") if isinstance(body.get("status"), str) else None
        response.status = status or (ev.summary or "done").split(" ")[0]
        response.reason = details.get("reason") or error.get("code") or None
        response.done_seq, response.done_ns = ev.seq, ev.t_ns
        if ev.is_error:
            turn.errors.append(response.status + (f" ({response.reason})" if response.reason else ""))
        if self.active is not None and self.active[1] is response:
            self.active = None

    def call_event(self, ev: TurnEvent, data: Any) -> None:
        """A function call announced, its arguments done or its item done: the client may answer
        after any of them (the service lets it answer before the item is done)."""
        found = self.owner(ev)
        if found is None or ev.call_id is None:  # not a call (a message item)
            return
        turn = found[0]
        call = next((c for c in turn.tool_calls if c.call_id == ev.call_id), None)
        if call is None:
            call = ToolCall(name="?", call_id=ev.call_id)
            turn.tool_calls.append(call)
            self.by_call[ev.call_id] = turn
        source = _item(data) or (data if isinstance(data, dict) else {})
        if isinstance(source.get("name"), str):
            call.name = source["name"]
        if isinstance(source.get("arguments"), str) and source["arguments"]:
            call.arguments = source["arguments"]
        if ga_type(ev.type or "").endswith(".done") and call.done_ns is None:
            call.done_ns = ev.t_ns

    def output(self, ev: TurnEvent, kind: str) -> None:
        found = self.owner(ev)
        if found is None:
            return
        turn, response = found
        if kind in OUTPUT_AUDIO_TYPES:
            turn.output_seqs.append(ev.seq)
        if kind in _OUTPUT_DELTAS and response.first_output_ns is None:
            response.first_output_ns = ev.t_ns

    def text_done(self, ev: TurnEvent, data: Any) -> None:
        found = self.owner(ev)
        if found is None:
            return
        text = None
        if isinstance(data, dict):
            text = data.get("text") if isinstance(data.get("text"), str) else data.get("transcript")
        found[0].text = (found[0].text + " " + (text if isinstance(text, str) else ev.summary or "")).strip()

    def error(self, ev: TurnEvent, message: str) -> None:
        turn = self.latest()
        if turn is not None:
            turn.errors.append(message)
        self.commit = None  # a refused commit starts no turn

    def server_error(self, ev: TurnEvent, data: Any) -> None:
        self.error(ev, ev.summary or "error")

    def finish(self) -> list[Turn]:
        if not self.timed:
            for turn in self.turns:
                _forget_times(turn)
        return self.turns


def _forget_times(turn: Turn) -> None:
    """An untimed session: every offset is 0, which means "unknown", not "instant"."""
    turn.start_ns = turn.trigger_ns = None
    for response in turn.responses:
        response.created_ns = response.done_ns = response.first_output_ns = None
    for call in turn.tool_calls:
        call.done_ns = call.output_ns = None


_CLIENT = {
    "conversation.item.create": _Builder.item_create,
    "conversation.item.truncate": _Builder.truncate,
    "input_audio_buffer.commit": _Builder.client_commit,
    "response.create": _Builder.response_create,
}
_SERVER = {
    "input_audio_buffer.committed": _Builder.committed,
    "input_audio_buffer.cleared": _Builder.cleared,
    "input_audio_buffer.timeout_triggered": _Builder.timeout_triggered,
    "input_audio_buffer.speech_started": _Builder.speech_started,
    "conversation.item.input_audio_transcription.completed": _Builder.transcription,
    "response.created": _Builder.response_created,
    "response.done": _Builder.response_done,
    "response.output_item.added": _Builder.call_event,
    "response.function_call_arguments.done": _Builder.call_event,
    "response.output_item.done": _Builder.call_event,
    "error": _Builder.server_error,
}


def build_turns(events: Iterable[tuple[TurnEvent, Any]]) -> list[Turn]:
    """The turns of a session from (event, parsed frame or None) pairs in seq order; the frame
    matters only for the types in `NEEDS_DATA`."""
    builder = _Builder()
    for ev, data in events:
        builder.feed(ev, data)
    return builder.finish()


class _TurnStore(Protocol):
    def events(self, session_id: int) -> Iterable[Any]: ...
    def frame(self, session_id: int, seq: int) -> str | bytes: ...


def read_turns(store: _TurnStore, session_id: int, events: Iterable[Any] | None = None) -> list[Turn]:
    """The turns of a recorded session, through the Store API it is given: rows for every event
    (or for `events`, e.g. only those of `BOUNDARY_TYPES`), frames only for `NEEDS_DATA`."""
    import orjson

    def pairs() -> Iterator[tuple[Any, Any]]:
        for ev in store.events(session_id) if events is None else events:
            data = None
            if ev.type in NEEDS_DATA:
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
