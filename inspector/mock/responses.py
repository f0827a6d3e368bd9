"""One response's events, in the order and shapes of the recordings.

`plan_response` lays out every event of a response with its offset from the `response.create`;
the session puts them in its outbox. What the response becomes while it is sent, and how it is
cancelled, is `active.ActiveResponse`; the event shapes are in `response_events`.
"""

from __future__ import annotations

import base64
import copy
import math
from dataclasses import dataclass, field
from typing import Any

from inspector.audio import bytes_per_ms
from inspector.mock.active import ActiveResponse, OutputState
from inspector.mock.audio import tone
from inspector.mock.ids import IdFactory
from inspector.mock.response_events import (
    arguments_done,
    audio_tokens,
    delta_event,
    item_event,
    locator,
    output_item_done,
    part_done_events,
    response_event,
    tokens,
    usage,
)
from inspector.mock.script import Answer

__all__ = ["NO_LATENCY", "REALISTIC", "Timing", "plan_response"]


@dataclass(frozen=True, slots=True)
class Timing:
    """Delays in seconds, from the client event that caused them (see realtime-protocol.md §5)."""

    ack: float = 0.0  # item, commit, clear, delete... replies
    session_updated: float = 0.0
    response_created: float = 0.0
    first_delta: float = 0.0  # from response.created
    text_delta: float = 0.0
    audio_chunk: float = 0.0  # per 100 ms chunk: the service streams faster than real time
    done_step: float = 0.0
    rate_limits: float = 0.0
    transcription: float = 0.0


NO_LATENCY = Timing()
REALISTIC = Timing(
    ack=0.03,
    session_updated=0.25,
    response_created=0.28,
    first_delta=0.2,
    text_delta=0.004,
    audio_chunk=0.04,
    done_step=0.002,
    rate_limits=0.035,
    transcription=0.3,
)

AUDIO_CHUNK_MS = 100
MS_PER_CHARACTER = 60  # speaking rate of the synthesized answer
# Tone per voice, so two voices sound different; each divides 8000 and 24000 (exact periods).
_VOICE_HZ = {"alloy": 200, "ash": 160, "ballad": 250, "coral": 320, "echo": 100, "sage": 400}


@dataclass
class _Plan:
    """Events with their offsets from the triggering client event."""

    timing: Timing
    clock: float = 0.0
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def add(self, event: dict[str, Any], step: float = 0.0) -> None:
        self.clock += step
        self.events.append((self.clock, event))


@dataclass
class _Output:
    """What the answer becomes: the finished item, its deltas, and how the response ends."""

    kind: str  # "text", "audio" or "function_call"
    item: dict[str, Any]
    pieces: list[str]
    status: str = "completed"
    details: dict[str, Any] | None = None


def plan_response(
    *,
    ids: IdFactory,
    timing: Timing,
    config: dict[str, Any],
    answer: Answer,
    previous_item_id: str | None,
    first_item_is_previous: bool,
    conversation_id: str | None,
    input_tokens: tuple[int, int],
) -> tuple[ActiveResponse, list[tuple[float, dict[str, Any]]]]:
    """All the events of one response, its output items one after the other (each with its one
    content part). `config` holds the effective `output_modalities`, `max_output_tokens`,
    `audio.output.{format, voice}` and `metadata` for this response."""
    response_id = ids.response()
    fmt, voice = config["audio"]["output"]["format"], config["audio"]["output"]["voice"]
    body = _response_body(response_id, config, conversation_id)
    outputs: list[_Output] = []
    states: list[OutputState] = []
    previous, budget = previous_item_id, config["max_output_tokens"]
    for index, part in enumerate(answer.outputs):
        output = _output(ids, part, config, budget)
        if isinstance(budget, int):
            budget = max(0, budget - len(output.pieces))
        # Recorded quirk: a response item's conversation.item.done names no previous item when
        # that previous item is the conversation's first one (its .added does name it).
        done_previous = None if index == 0 and first_item_is_previous else previous
        state = OutputState(output.kind, output.item, index, previous, done_previous)
        if output.kind == "audio":
            state.audio = _speech(output.item, fmt["type"], voice)
        outputs.append(output)
        states.append(state)
        previous = output.item["id"]
    spoken = sum(audio_tokens(len(s.audio), fmt["type"]) for s in states)
    pieces = sum(len(o.pieces) for o in outputs)
    resp = ActiveResponse(response_id, body, states, conversation_id is not None, usage(*input_tokens, pieces, spoken))
    plan = _Plan(timing)
    plan.add(
        {"type": "response.created", "event_id": ids.event(), "response": copy.deepcopy(body)},
        timing.response_created,
    )
    for output, state in zip(outputs, states):
        _plan_output(plan, resp, state, output.pieces, fmt["type"], ids)
    final = next((o for o in outputs if o.status != "completed"), outputs[-1])
    plan.add(
        response_event(
            "response.done",
            ids,
            resp.response,
            status=final.status,
            details=final.details,
            output=[o.item for o in outputs],
            usage=resp.usage,
        ),
        timing.done_step,
    )
    return resp, plan.events


def _output(ids: IdFactory, answer: Answer, config: dict[str, Any], budget: Any) -> _Output:
    item_id = ids.item()
    if answer.call_name is not None:
        return _function_call_output(item_id, ids.call(), answer.call_name, answer.call_arguments)
    kind = "audio" if config["output_modalities"] == ["audio"] else "text"
    return _message_output(item_id, kind, answer.text or "", budget)


def _response_body(response_id: str, config: dict[str, Any], conversation_id: str | None) -> dict[str, Any]:
    """The response object of `response.created`."""
    output = config["audio"]["output"]
    return {
        "object": "realtime.response",
        "id": response_id,
        "status": "in_progress",
        "status_details": None,
        "output": [],
        "conversation_id": conversation_id,
        "output_modalities": list(config["output_modalities"]),
        "max_output_tokens": config["max_output_tokens"],
        "audio": {"output": {"format": output["format"], "voice": output["voice"]}},
        "usage": None,
        "metadata": config.get("metadata"),
    }


def _function_call_output(item_id: str, call_id: str, name: str, arguments: str | None) -> _Output:
    item = {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "name": name,
        "call_id": call_id,
        "arguments": arguments,
    }
    return _Output("function_call", item, tokens(arguments or ""))


def _message_output(item_id: str, kind: str, text: str, limit: Any) -> _Output:
    """An assistant message, written ("text") or spoken ("audio"), cut at `limit` tokens."""
    pieces = tokens(text)
    status, details = "completed", None
    if isinstance(limit, int) and len(pieces) > limit:
        pieces = pieces[:limit]
        status, details = "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
    said = "".join(pieces)
    content = {"type": "output_text", "text": said} if kind == "text" else {"type": "output_audio", "transcript": said}
    item = {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": [content]}
    return _Output(kind, item, pieces, status, details)


def _speech(item: dict[str, Any], fmt: str, voice: Any) -> bytes:
    """A tone as long as the transcript takes to say, in whole 20 ms frames."""
    ms = max(400, MS_PER_CHARACTER * len(item["content"][0]["transcript"]))
    return tone(fmt, ms - ms % 20, _VOICE_HZ.get(voice if isinstance(voice, str) else "", 200))


def _plan_output(
    plan: _Plan, resp: ActiveResponse, out: OutputState, pieces: list[str], fmt: str, ids: IdFactory
) -> None:
    """One output item, from its announcement to its end."""
    _plan_item_added(plan, resp, out, ids)
    loc = locator(resp.id, out.item["id"], out.output_index)
    if out.kind == "function_call":
        _plan_function_call(plan, resp, out, pieces, ids)
    elif out.kind == "text":
        _plan_text_message(plan, loc, pieces, ids)
    else:
        _plan_audio_message(plan, loc, pieces, out.audio, fmt, ids)
    if resp.in_conversation:
        plan.add(
            item_event("conversation.item.done", ids, out.done_previous_item_id, out.item),
            plan.timing.done_step,
        )
    plan.add(output_item_done(ids, resp.id, out.output_index, out.item), plan.timing.done_step)


def _plan_item_added(plan: _Plan, resp: ActiveResponse, out: OutputState, ids: IdFactory) -> None:
    """`response.output_item.added` (and `conversation.item.added`) with the item still empty."""
    started = dict(out.item)
    started["status"] = "in_progress"
    if out.kind == "function_call":
        started["arguments"] = ""
    else:
        started["content"] = []
    plan.add(
        {
            "type": "response.output_item.added",
            "event_id": ids.event(),
            "response_id": resp.id,
            "output_index": out.output_index,
            "item": started,
        },
        plan.timing.first_delta / 2,
    )
    if resp.in_conversation:
        plan.add(item_event("conversation.item.added", ids, out.previous_item_id, copy.deepcopy(started)))


def _plan_function_call(plan: _Plan, resp: ActiveResponse, out: OutputState, pieces: list[str], ids: IdFactory) -> None:
    item = out.item
    call = {
        "response_id": resp.id,
        "item_id": item["id"],
        "output_index": out.output_index,
        "call_id": item["call_id"],
    }
    step = plan.timing.first_delta / 2
    for piece in pieces:
        plan.add(delta_event("response.function_call_arguments.delta", ids, call, piece), step)
        step = plan.timing.text_delta
    plan.add(arguments_done(ids, call, item["name"], item["arguments"]), plan.timing.done_step)


def _plan_text_message(plan: _Plan, loc: dict[str, Any], pieces: list[str], ids: IdFactory) -> None:
    part = {"type": "text", "text": ""}
    plan.add({"type": "response.content_part.added", "event_id": ids.event(), **loc, "part": part})
    step = plan.timing.first_delta / 2
    for piece in pieces:
        plan.add(delta_event("response.output_text.delta", ids, loc, piece), step)
        step = plan.timing.text_delta
    for event in part_done_events("text", loc, "".join(pieces), ids):
        plan.add(event, plan.timing.done_step)


def _plan_audio_message(
    plan: _Plan, loc: dict[str, Any], pieces: list[str], audio: bytes, fmt: str, ids: IdFactory
) -> None:
    part = {"type": "audio", "transcript": ""}
    plan.add({"type": "response.content_part.added", "event_id": ids.event(), **loc, "part": part})
    chunk = int(bytes_per_ms(fmt) * AUDIO_CHUNK_MS)
    chunks = max(1, math.ceil(len(audio) / chunk))
    said, step = 0, plan.timing.first_delta / 2
    for j in range(chunks):
        # The transcript runs a little ahead of the audio, as recorded.
        while said < math.ceil((j + 1) * len(pieces) / chunks):
            plan.add(delta_event("response.output_audio_transcript.delta", ids, loc, pieces[said]), step)
            said, step = said + 1, 0.0
        data = base64.b64encode(audio[j * chunk : (j + 1) * chunk]).decode()
        plan.add({"type": "response.output_audio.delta", "event_id": ids.event(), **loc, "delta": data}, step)
        step = plan.timing.audio_chunk
    for event in part_done_events("audio", loc, "".join(pieces), ids):
        plan.add(event, plan.timing.done_step)
