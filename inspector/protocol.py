"""What a Realtime event is: direction, type, locator ids, audio fields and problems.

Pure code: no I/O. The tap, the store's writer, import, diff and the TUI all describe frames
through these functions, so that every part agrees on what a frame means.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

from inspector.audio import bytes_per_ms

__all__ = [
    "AUDIO_FIELDS",
    "MAX_FRAME",
    "PREVIEW_NAMES",
    "Direction",
    "EventInfo",
    "Opcode",
    "audio_bytes",
    "audio_summary",
    "call_id_of",
    "content_text",
    "describe_frame",
    "ga_type",
    "locators",
    "model_from_query",
    "subprotocols_in",
]

# The largest frame the tap passes and an import accepts: input_audio_buffer.append may carry
# 15 MiB of base64 audio (websockets' default of 1 MiB would break real sessions).
MAX_FRAME = 16 * 1024 * 1024


class Direction(str, enum.Enum):
    CLIENT = "client"
    SERVER = "server"

    @property
    def arrow(self) -> str:
        return "→" if self is Direction.CLIENT else "←"


class Opcode(enum.IntEnum):
    """WebSocket data frame opcodes (RFC 6455)."""

    TEXT = 1
    BINARY = 2


class Problem(str, enum.Enum):
    """Why a frame is not a well-formed Realtime event."""

    BINARY = "binary"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    NO_TYPE = "no_type"


# The field holding base64 audio, per event type; GA and beta names alike.
AUDIO_FIELDS: dict[str, str] = {
    "input_audio_buffer.append": "audio",
    "response.output_audio.delta": "delta",
    "response.audio.delta": "delta",
}


# Preview (beta) event names and the GA names that mean the same. Some Azure endpoints still
# speak the preview protocol; whatever reasons about events (turns, audio, summaries) uses
# `ga_type` so that both vocabularies mean one thing.
PREVIEW_NAMES: dict[str, str] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "conversation.item.created": "conversation.item.added",
}


def ga_type(event_type: str) -> str:
    """The GA name of an event type (itself when it is one)."""
    return PREVIEW_NAMES.get(event_type, event_type)


@dataclass(frozen=True, slots=True)
class EventInfo:
    """What the store keeps about a frame besides its bytes."""

    type: str | None
    event_id: str | None = None
    item_id: str | None = None
    response_id: str | None = None
    call_id: str | None = None
    problem: Problem | None = None
    is_error: bool = False
    summary: str | None = None
    audio: str | None = None  # the base64 audio field's value, for compact storage


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    """A JSON object field, or {} when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def describe_frame(frame: str | bytes, opcode: Opcode = Opcode.TEXT) -> EventInfo:
    """Parse one frame and extract its type, locator ids, error flag and a one-line summary.

    Never raises: a frame that is not a JSON object with a string `type` is described by its
    problem, and flagged as an error so that it shows up under `is:error`.
    """
    if opcode == Opcode.BINARY:
        return EventInfo(None, problem=Problem.BINARY, is_error=True, summary=f"<binary {len(frame)} B>")
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        return EventInfo(None, problem=Problem.NOT_JSON, is_error=True, summary=f"not JSON: {exc}"[:120])
    if not isinstance(data, dict):
        return EventInfo(None, problem=Problem.NOT_OBJECT, is_error=True, summary="JSON but not an object")
    event_type = _str(data.get("type"))
    response = _dict(data.get("response"))
    is_error = event_type == "error" or (event_type == "response.done" and response.get("status") == "failed")
    event_id, item_id, response_id, call_id = locators(data)
    return EventInfo(
        type=event_type,
        event_id=event_id,
        item_id=item_id,
        response_id=response_id,
        call_id=call_id,
        problem=None if event_type else Problem.NO_TYPE,
        is_error=is_error or event_type is None,
        summary=summarize(data, event_type),
        audio=_str(data.get(AUDIO_FIELDS[event_type])) if event_type in AUDIO_FIELDS else None,
    )


def locators(data: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    """An event's event_id, item_id, response_id and call_id (from its item or response when
    they are not top-level fields)."""
    item = _dict(data.get("item"))
    return (
        _str(data.get("event_id")),
        _str(data.get("item_id")) or _str(item.get("id")),
        _str(data.get("response_id")) or _str(_dict(data.get("response")).get("id")),
        _str(data.get("call_id")) or _str(item.get("call_id")),
    )


def _clip(text: str, width: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def content_text(item: dict[str, Any]) -> str | None:
    """The readable text of an item: its text, transcript, arguments or output."""
    if item.get("type") == "function_call":
        return f"{item.get('name')}({item.get('arguments') or ''})"
    if item.get("type") == "function_call_output":
        return f"output {item.get('output')}"
    parts = []
    for part in item.get("content") or []:
        if isinstance(part, dict):
            text = part.get("text") or part.get("transcript")
            if isinstance(text, str):
                parts.append(text)
            elif part.get("type") in ("input_audio", "audio", "output_audio"):
                parts.append("<audio>")
    return " ".join(parts) if parts else None


def summarize(data: dict[str, Any], event_type: str | None) -> str | None:
    """A short human line for the event list: the delta text, the error message, the status."""
    if event_type is None:
        return "no type"
    if event_type in AUDIO_FIELDS:
        audio = data.get(AUDIO_FIELDS[event_type])
        return audio_summary(audio) if isinstance(audio, str) else None
    if event_type == "error":
        err = _dict(data.get("error"))
        return _clip(f"{err.get('code') or err.get('type')}: {err.get('message')}")
    if event_type.endswith(".delta") and isinstance(data.get("delta"), str):
        return _clip(data["delta"])
    if event_type.endswith((".done", ".completed", ".segment")):  # incl. input transcription
        for key in ("text", "transcript", "arguments"):
            if isinstance(data.get(key), str):
                return _clip(data[key])
    response = data.get("response")
    if isinstance(response, dict) and event_type.startswith("response."):
        status = response.get("status")
        details = response.get("status_details") or {}
        reason = details.get("reason") or (details.get("error") or {}).get("code")
        return _clip(f"{status}" + (f" ({reason})" if reason else "")) if status else None
    item = data.get("item")
    if isinstance(item, dict):
        who = item.get("role") or item.get("type")
        text = content_text(item)
        return _clip(f"{who}: {text}" if text else f"{who}")
    if event_type in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"):
        ms = data.get("audio_start_ms", data.get("audio_end_ms"))
        return f"at {ms} ms" if ms is not None else None
    session = data.get("session")
    if isinstance(session, dict):
        fields = [k for k in session if k not in ("object", "id", "expires_at")]
        return _clip(", ".join(fields)) if fields else None
    return None


def audio_bytes(b64: str) -> int:
    """Decoded length of a base64 string, without decoding it."""
    n = len(b64)
    if n == 0:
        return 0
    padding = b64.endswith("=") + b64.endswith("==")
    return n * 3 // 4 - padding


def audio_summary(b64: str, fmt: str = "audio/pcm") -> str:
    """`<audio 20 ms, 960 B>`: what to show instead of kilobytes of base64."""
    size = audio_bytes(b64)
    ms = size / bytes_per_ms(fmt)
    return f"<audio {ms:.0f} ms, {size} B>"


def subprotocols_in(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The subprotocols a handshake's `Sec-WebSocket-Protocol` headers list, in order."""
    return [
        proto.strip()
        for name, value in headers
        if name.lower() == "sec-websocket-protocol"
        for proto in value.split(",")
        if proto.strip()
    ]


def call_id_of(query: str | None) -> str | None:
    """The WebRTC/SIP call a session belongs to: the `call_id` of its URL's query (an attached
    sideband, or one the tap forwarded), so the two sessions of one call are linked."""
    values = parse_qs(query or "").get("call_id")
    return values[0] if values else None


def model_from_query(query: str) -> str | None:
    """The model a Realtime URL asks for: `model=` (OpenAI) or `deployment=` (Azure)."""
    params = parse_qs(query)
    for key in ("model", "deployment"):
        if params.get(key):
            return params[key][0]
    return None
