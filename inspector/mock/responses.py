"""One response's events, in the order and shapes of the recordings, and its cancellation.

`plan_response` lays out every event of a response with its offset from the `response.create`;
the session puts them in its outbox. `ActiveResponse.mark_sent` follows what the client has
actually received, so that `close_out` can end exactly the parts that were opened, as the real
service does on `response.cancel` (there is no `response.cancelled` event on the wire).
"""

from __future__ import annotations

import base64
import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

from inspector.mock.audio import bytes_per_ms, tone
from inspector.mock.ids import IdFactory
from inspector.mock.script import Answer

__all__ = [
    "NO_LATENCY",
    "REALISTIC",
    "ActiveResponse",
    "Timing",
    "plan_response",
    "tokens",
    "usage",
]


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

_TOKEN = re.compile(r"\s*[A-Za-z]{1,6}|\s*\d{1,3}|\s*[^\sA-Za-z\d]|\s+")


def tokens(text: str) -> list[str]:
    """Split text into word-piece deltas ("It", " is", " fog", "gy") that join back exactly."""
    return _TOKEN.findall(text)


def usage(in_text: int, in_audio: int, out_text: int, out_audio: int) -> dict[str, Any]:
    """The `usage` object of `response.done`, in the recorded shape."""
    return {
        "total_tokens": in_text + in_audio + out_text + out_audio,
        "input_tokens": in_text + in_audio,
        "output_tokens": out_text + out_audio,
        "input_token_details": {
            "text_tokens": in_text,
            "audio_tokens": in_audio,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }


@dataclass
class OutputState:
    """One output item of a response, and how much of it the client has received."""

    kind: str  # "text", "audio" or "function_call"
    item: dict[str, Any]  # the finished item
    output_index: int
    previous_item_id: str | None
    done_previous_item_id: str | None
    announced: bool = False
    part_open: bool = False
    part_done: bool = False
    args_done: bool = False
    done: bool = False
    sent: str = ""  # text, transcript or arguments received so far


@dataclass
class ActiveResponse:
    id: str
    response: dict[str, Any]  # as in response.created
    outputs: list[OutputState]
    in_conversation: bool
    usage: dict[str, Any]
    created_sent: bool = False
    done: bool = False
    audio_sent: bool = False
    # What the client has received, for the usage of a cancelled response.
    pieces_sent: int = 0  # text, transcript and argument deltas: one token each, as planned
    audio_bytes_sent: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def mark_sent(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "response.created":
            self.created_sent = True
            return
        if kind == "response.done":
            self.done = True
            return
        output = self.outputs[event["output_index"]] if "output_index" in event else None
        if output is None:
            return
        if kind == "response.output_item.added":
            output.announced = True
        elif kind == "response.content_part.added":
            output.part_open = True
        elif kind.endswith(".delta") and kind != "response.output_audio.delta":
            output.sent += event["delta"]
            self.pieces_sent += 1
        elif kind == "response.output_audio.delta":
            self.audio_sent = True
            self.audio_bytes_sent += len(base64.b64decode(event["delta"]))
        elif kind == "response.function_call_arguments.done":
            output.args_done = True
        elif kind == "response.content_part.done":
            output.part_done = True
        elif kind == "response.output_item.done":
            output.done = True

    def close_out(self, reason: str, ids: IdFactory) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Cancel: the events that end the opened parts and the response, and the final items
        (those the client saw, now `incomplete`; the others never existed). The usage becomes
        what was streamed: the rest was never generated, as far as the client can tell."""
        inputs = self.usage["input_token_details"]
        fmt = self.response["audio"]["output"]["format"]["type"]
        self.usage = usage(
            inputs["text_tokens"],
            inputs["audio_tokens"],
            self.pieces_sent,
            _audio_tokens(self.audio_bytes_sent, fmt),
        )
        events: list[dict[str, Any]] = []
        finals = []
        for out in self.outputs:
            if not out.announced:
                continue
            item = out.item
            if not out.done:
                item = _partial_item(out)
                events.extend(_closing_events(self, out, item, ids))
            finals.append(item)
        events.append(
            _response_event(
                "response.done",
                ids,
                self,
                status="cancelled",
                details={"type": "cancelled", "reason": reason},
                output=finals,
                usage=self.usage,
            )
        )
        return events, finals


def _audio_tokens(size: int, fmt: str) -> int:
    return math.ceil(size / bytes_per_ms(fmt) / 50)  # one token per 50 ms


def _partial_item(out: OutputState) -> dict[str, Any]:
    item = copy.deepcopy(out.item)
    item["status"] = "incomplete"
    if out.kind == "function_call":
        item["arguments"] = out.sent
    elif not out.part_open:
        item["content"] = []
    elif out.kind == "text":
        item["content"] = [{"type": "output_text", "text": out.sent}]
    else:
        item["content"] = [{"type": "output_audio", "transcript": out.sent}]
    return item


def _closing_events(
    resp: ActiveResponse, out: OutputState, item: dict[str, Any], ids: IdFactory
) -> list[dict[str, Any]]:
    loc = _locator(resp.id, item["id"], out.output_index)
    events = []
    if out.kind == "function_call" and not out.args_done:
        events.append(
            {
                "type": "response.function_call_arguments.done",
                "event_id": ids.event(),
                "response_id": resp.id,
                "item_id": item["id"],
                "output_index": out.output_index,
                "call_id": item["call_id"],
                "name": item["name"],
                "arguments": out.sent,
            }
        )
    elif out.kind != "function_call" and out.part_open and not out.part_done:
        events.extend(_part_done_events(out.kind, loc, out.sent, ids))
    if resp.in_conversation:
        events.append(_item_event("conversation.item.done", ids, out.done_previous_item_id, item))
    events.append(
        {
            "type": "response.output_item.done",
            "event_id": ids.event(),
            "response_id": resp.id,
            "output_index": out.output_index,
            "item": item,
        }
    )
    return events


def _locator(response_id: str, item_id: str, output_index: int) -> dict[str, Any]:
    return {
        "response_id": response_id,
        "item_id": item_id,
        "output_index": output_index,
        "content_index": 0,
    }


def _part_done_events(kind: str, loc: dict[str, Any], text: str, ids: IdFactory) -> list[dict[str, Any]]:
    if kind == "text":
        return [
            {"type": "response.output_text.done", "event_id": ids.event(), **loc, "text": text},
            {
                "type": "response.content_part.done",
                "event_id": ids.event(),
                **loc,
                "part": {"type": "text", "text": text},
            },
        ]
    return [
        {"type": "response.output_audio.done", "event_id": ids.event(), **loc},
        {
            "type": "response.output_audio_transcript.done",
            "event_id": ids.event(),
            **loc,
            "transcript": text,
        },
        {
            "type": "response.content_part.done",
            "event_id": ids.event(),
            **loc,
            "part": {"type": "audio", "transcript": text},
        },
    ]


def _item_event(kind: str, ids: IdFactory, previous: str | None, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "event_id": ids.event(), "previous_item_id": previous, "item": item}


def _response_event(
    kind: str,
    ids: IdFactory,
    resp: ActiveResponse,
    *,
    status: str,
    details: dict[str, Any] | None,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    body = copy.deepcopy(resp.response)
    body.update(status=status, status_details=details, output=copy.deepcopy(output), usage=usage)
    return {"type": kind, "event_id": ids.event(), "response": body}


# --- planning ----------------------------------------------------------------------------------


@dataclass
class _Plan:
    """Events with their offsets from the triggering client event."""

    timing: Timing
    clock: float = 0.0
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def add(self, event: dict[str, Any], step: float = 0.0) -> None:
        self.clock += step
        self.events.append((self.clock, event))


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
    """All the events of one response. `config` holds the effective `output_modalities`,
    `max_output_tokens`, `audio.output.{format, voice}` and `metadata` for this response."""
    response_id = ids.response()
    in_conversation = conversation_id is not None
    fmt, voice = config["audio"]["output"]["format"], config["audio"]["output"]["voice"]
    body = {
        "object": "realtime.response",
        "id": response_id,
        "status": "in_progress",
        "status_details": None,
        "output": [],
        "conversation_id": conversation_id,
        "output_modalities": list(config["output_modalities"]),
        "max_output_tokens": config["max_output_tokens"],
        "audio": {"output": {"format": fmt, "voice": voice}},
        "usage": None,
        "metadata": config.get("metadata"),
    }
    item_id = ids.item()
    limit = config["max_output_tokens"]
    status, details = "completed", None
    if answer.call_name is not None:
        kind = "function_call"
        pieces = tokens(answer.call_arguments or "")
        item = {
            "id": item_id,
            "type": "function_call",
            "status": "completed",
            "name": answer.call_name,
            "call_id": ids.call(),
            "arguments": answer.call_arguments,
        }
    else:
        kind = "audio" if config["output_modalities"] == ["audio"] else "text"
        pieces = tokens(answer.text or "")
        if isinstance(limit, int) and len(pieces) > limit:
            pieces = pieces[:limit]
            status, details = "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
        text = "".join(pieces)
        content = (
            {"type": "output_text", "text": text} if kind == "text" else {"type": "output_audio", "transcript": text}
        )
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [content],
        }
    if status == "incomplete":
        item["status"] = "incomplete"
    # Recorded quirk: a response item's conversation.item.done names no previous item when
    # that previous item is the conversation's first one (its .added does name it).
    done_previous = None if first_item_is_previous else previous_item_id
    out = OutputState(kind, item, 0, previous_item_id, done_previous)
    audio = b""
    if kind == "audio":
        ms = max(400, MS_PER_CHARACTER * len(item["content"][0]["transcript"]))
        audio = tone(fmt["type"], ms - ms % 20, _VOICE_HZ.get(voice if isinstance(voice, str) else "", 200))
    out_audio_tokens = _audio_tokens(len(audio), fmt["type"])
    resp = ActiveResponse(
        response_id,
        body,
        [out],
        in_conversation,
        usage(input_tokens[0], input_tokens[1], len(pieces), out_audio_tokens),
    )
    resp.extra["audio"] = audio
    plan = _Plan(timing)
    plan.add(
        {"type": "response.created", "event_id": ids.event(), "response": copy.deepcopy(body)},
        timing.response_created,
    )
    _plan_output(plan, resp, out, pieces, audio, fmt["type"], ids)
    plan.add(
        _response_event(
            "response.done",
            ids,
            resp,
            status=status,
            details=details,
            output=[item],
            usage=resp.usage,
        ),
        timing.done_step,
    )
    return resp, plan.events


def _plan_output(
    plan: _Plan,
    resp: ActiveResponse,
    out: OutputState,
    pieces: list[str],
    audio: bytes,
    fmt: str,
    ids: IdFactory,
) -> None:
    timing, item = plan.timing, out.item
    started = {k: v for k, v in item.items()}
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
        timing.first_delta / 2,
    )
    if resp.in_conversation:
        plan.add(_item_event("conversation.item.added", ids, out.previous_item_id, copy.deepcopy(started)))
    loc = _locator(resp.id, item["id"], out.output_index)
    if out.kind == "function_call":
        fc = {
            "response_id": resp.id,
            "item_id": item["id"],
            "output_index": out.output_index,
            "call_id": item["call_id"],
        }
        step = timing.first_delta / 2
        for piece in pieces:
            plan.add(
                {
                    "type": "response.function_call_arguments.delta",
                    "event_id": ids.event(),
                    **fc,
                    "delta": piece,
                    "obfuscation": ids.obfuscation(piece),
                },
                step,
            )
            step = timing.text_delta
        plan.add(
            {
                "type": "response.function_call_arguments.done",
                "event_id": ids.event(),
                **fc,
                "name": item["name"],
                "arguments": item["arguments"],
            },
            timing.done_step,
        )
    else:
        part = {"type": "text", "text": ""} if out.kind == "text" else {"type": "audio", "transcript": ""}
        plan.add({"type": "response.content_part.added", "event_id": ids.event(), **loc, "part": part})
        delta_type = "response.output_text.delta" if out.kind == "text" else "response.output_audio_transcript.delta"

        def text_delta(piece: str, step: float) -> None:
            plan.add(
                {
                    "type": delta_type,
                    "event_id": ids.event(),
                    **loc,
                    "delta": piece,
                    "obfuscation": ids.obfuscation(piece),
                },
                step,
            )

        step = timing.first_delta / 2
        if out.kind == "text":
            for piece in pieces:
                text_delta(piece, step)
                step = timing.text_delta
        else:
            chunk = int(bytes_per_ms(fmt) * AUDIO_CHUNK_MS)
            chunks = max(1, math.ceil(len(audio) / chunk))
            said = 0
            for j in range(chunks):
                # The transcript runs a little ahead of the audio, as recorded.
                while said < math.ceil((j + 1) * len(pieces) / chunks):
                    text_delta(pieces[said], step)
                    said, step = said + 1, 0.0
                data = base64.b64encode(audio[j * chunk : (j + 1) * chunk]).decode()
                plan.add(
                    {
                        "type": "response.output_audio.delta",
                        "event_id": ids.event(),
                        **loc,
                        "delta": data,
                    },
                    step,
                )
                step = timing.audio_chunk
        text = "".join(pieces)
        for event in _part_done_events(out.kind, loc, text, ids):
            plan.add(event, timing.done_step)
    if resp.in_conversation:
        plan.add(
            _item_event("conversation.item.done", ids, out.done_previous_item_id, item),
            timing.done_step,
        )
    plan.add(
        {
            "type": "response.output_item.done",
            "event_id": ids.event(),
            "response_id": resp.id,
            "output_index": out.output_index,
            "item": item,
        },
        timing.done_step,
    )
