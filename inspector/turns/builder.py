"""The rules of `inspector.turns` as a state machine fed one event at a time. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from inspector.protocol import Direction, content_text, ga_type
from inspector.turns.model import (
    INPUT_AUDIO_TYPES,
    OUTPUT_AUDIO_TYPES,
    OUTPUT_DELTAS,
    TEXT_DONES,
    Response,
    ToolCall,
    Turn,
    TurnEvent,
)

__all__ = ["TurnBuilder"]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _item(data: Any) -> dict[str, Any]:
    return _dict(data.get("item") if isinstance(data, dict) else None)


class TurnBuilder:
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
        elif kind in OUTPUT_AUDIO_TYPES or kind in OUTPUT_DELTAS:
            self.output(ev, kind)
        elif kind in TEXT_DONES:
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
        if kind in OUTPUT_DELTAS and response.first_output_ns is None:
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
    "conversation.item.create": TurnBuilder.item_create,
    "conversation.item.truncate": TurnBuilder.truncate,
    "input_audio_buffer.commit": TurnBuilder.client_commit,
    "response.create": TurnBuilder.response_create,
}
_SERVER = {
    "input_audio_buffer.committed": TurnBuilder.committed,
    "input_audio_buffer.cleared": TurnBuilder.cleared,
    "input_audio_buffer.timeout_triggered": TurnBuilder.timeout_triggered,
    "input_audio_buffer.speech_started": TurnBuilder.speech_started,
    "conversation.item.input_audio_transcription.completed": TurnBuilder.transcription,
    "response.created": TurnBuilder.response_created,
    "response.done": TurnBuilder.response_done,
    "response.output_item.added": TurnBuilder.call_event,
    "response.function_call_arguments.done": TurnBuilder.call_event,
    "response.output_item.done": TurnBuilder.call_event,
    "error": TurnBuilder.server_error,
}
