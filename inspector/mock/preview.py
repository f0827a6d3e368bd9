"""The preview (beta) Realtime protocol at the mock's edges: pure translation, both ways.

Some Azure endpoints still speak the preview protocol (realtime-protocol.md §2, §3, §6, §8):
session fields at the top level without `session.type`, `pcm16`-style audio format names,
`text`/`audio` assistant content, `object: "realtime.item"`, and the older event names. The state
machine stays GA; a preview session's client events are turned into GA ones on the way in
(`client_event_to_ga`) and its server events back into preview ones on the way out
(`server_event_to_preview`). Errors name the preview fields the client sent.

Where the protocol page is silent, the choices are listed in README ("where the mock differs").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inspector.mock.validation import Enum, ListOf, MockError, Num, unknown
from inspector.protocol import PREVIEW_NAMES

__all__ = [
    "DEFAULT_TEMPERATURE",
    "Inbound",
    "client_event_to_ga",
    "is_preview_update",
    "item_to_preview",
    "server_event_to_preview",
    "session_to_preview",
]

DEFAULT_TEMPERATURE = 0.8  # the preview API reference's default (GA has no temperature)
_TEMPERATURE = Num(0.6, 1.2)  # the preview API reference's range
_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT = Enum(*_FORMATS)
_FORMAT_NAMES = {ga["type"]: name for name, ga in _FORMATS.items()}
_MODALITIES = ListOf(Enum("text", "audio"))
_GA_NAMES = {ga: preview for preview, ga in PREVIEW_NAMES.items()}
_CONTENT_TO_GA = {"text": "output_text", "audio": "output_audio"}  # assistant content only
_CONTENT_TO_PREVIEW = {ga: preview for preview, ga in _CONTENT_TO_GA.items()}

# Each preview field and where its GA counterpart lives (a path under `session`/`response`).
_SESSION_PATHS: dict[str, tuple[str, ...]] = {
    "model": ("model",),
    "instructions": ("instructions",),
    "modalities": ("output_modalities",),
    "voice": ("audio", "output", "voice"),
    "speed": ("audio", "output", "speed"),
    "input_audio_format": ("audio", "input", "format"),
    "output_audio_format": ("audio", "output", "format"),
    "input_audio_transcription": ("audio", "input", "transcription"),
    "input_audio_noise_reduction": ("audio", "input", "noise_reduction"),
    "turn_detection": ("audio", "input", "turn_detection"),
    "tools": ("tools",),
    "tool_choice": ("tool_choice",),
    "max_response_output_tokens": ("max_output_tokens",),
    "tracing": ("tracing",),
}
_RESPONSE_PATHS: dict[str, tuple[str, ...]] = {
    "conversation": ("conversation",),
    "input": ("input",),
    "instructions": ("instructions",),
    "modalities": ("output_modalities",),
    "voice": ("audio", "output", "voice"),
    "output_audio_format": ("audio", "output", "format"),
    "tools": ("tools",),
    "tool_choice": ("tool_choice",),
    "max_response_output_tokens": ("max_output_tokens",),
    "metadata": ("metadata",),
}
# Fields only the preview shape has at the top of `session`: any of them (and no `type`) in a
# first `session.update` says the client speaks preview. `instructions`, `tools`... do not.
_PREVIEW_ONLY = frozenset(_SESSION_PATHS) - {"model", "instructions", "tools", "tool_choice", "tracing"} | {
    "temperature"
}
# GA parameter paths in errors -> the preview ones, longest first so the deepest match wins.
_PARAMS = sorted(
    [(f"session.{'.'.join(p)}", f"session.{k}") for k, p in _SESSION_PATHS.items()]
    + [(f"response.{'.'.join(p)}", f"response.{k}") for k, p in _RESPONSE_PATHS.items()],
    key=lambda pair: -len(pair[0]),
)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A preview client event made GA: the event (the same object when nothing changed), or the
    error that refuses it; `temperature` is the one a valid `session.update` sets."""

    event: dict[str, Any] | None
    error: MockError | None = None
    temperature: float | None = None


def is_preview_update(event: Mapping[str, Any]) -> bool:
    """A `session.update` in the preview shape: no `session.type`, some preview-only field."""
    session = event.get("session")
    return (
        event.get("type") == "session.update"
        and isinstance(session, dict)
        and "type" not in session
        and not _PREVIEW_ONLY.isdisjoint(session)
    )


# --- client events: preview -> GA -------------------------------------------------------------


def client_event_to_ga(event: dict[str, Any]) -> Inbound:
    kind = event.get("type")
    if kind == "session.update" and isinstance(event.get("session"), dict):
        body, error, temperature = _fields_to_ga(event["session"], _SESSION_PATHS, "session")
        if error is not None:
            return Inbound(None, error)
        return Inbound({**event, "session": {"type": "realtime", **body}}, temperature=temperature)
    if kind == "response.create" and isinstance(event.get("response"), dict):
        body, error, _ = _fields_to_ga(event["response"], _RESPONSE_PATHS, "response")
        return Inbound(None, error) if error is not None else Inbound({**event, "response": body})
    if kind == "conversation.item.create" and isinstance(event.get("item"), dict):
        item = _item_to_ga(event["item"])
        return Inbound(event if item is event["item"] else {**event, "item": item})
    return Inbound(event)


def _fields_to_ga(
    fields: dict[str, Any], paths: Mapping[str, tuple[str, ...]], where: str
) -> tuple[dict[str, Any], MockError | None, float | None]:
    """The GA object for preview `fields`; the GA validation then checks what was not checked
    here (only what has no GA counterpart, or another spelling, is)."""
    out: dict[str, Any] = {}
    temperature = None
    for key, value in fields.items():
        param = f"{where}.{key}"
        if key == "temperature":
            if error := _TEMPERATURE.check(value, param):
                return {}, error, None
            temperature = value
            continue
        if key not in paths:
            return {}, unknown(param), None
        if key in ("input_audio_format", "output_audio_format") and value is not None:
            if error := _FORMAT.check(value, param):
                return {}, error, None
            value = dict(_FORMATS[value])
        elif key == "modalities":
            value, error = _modalities_to_ga(value, param)
            if error is not None:
                return {}, error, None
        elif key == "input" and isinstance(value, list):
            value = [_item_to_ga(v) if isinstance(v, dict) else v for v in value]
        _put(out, paths[key], value)
    return out, None, temperature


def _modalities_to_ga(value: Any, param: str) -> tuple[list[str], MockError | None]:
    if error := _MODALITIES.check(value, param):
        return [], error
    if sorted(set(value)) == ["text"]:
        return ["text"], None
    if sorted(set(value)) == ["audio", "text"]:
        return ["audio"], None  # GA's audio comes with its transcript: preview's text+audio
    # Wording unsure: the preview service refused audio without text.
    return [], MockError(
        "invalid_value",
        f"Invalid modalities: {value}. Supported combinations are: ['text'] and ['audio', 'text'].",
        param,
    )


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _item_to_ga(item: dict[str, Any]) -> dict[str, Any]:
    """Preview assistant content (`text`, `audio`) in GA names; the GA rules then apply (a client
    still cannot create assistant audio)."""
    content = item.get("content")
    if item.get("role") != "assistant" or not isinstance(content, list):
        return item
    return {**item, "content": [_part_to_ga(p) for p in content]}


def _part_to_ga(part: Any) -> Any:
    kind = part.get("type") if isinstance(part, dict) else None
    return {**part, "type": _CONTENT_TO_GA[kind]} if isinstance(kind, str) and kind in _CONTENT_TO_GA else part


# --- server events: GA -> preview -------------------------------------------------------------


def server_event_to_preview(event: dict[str, Any], temperature: float) -> dict[str, Any] | None:
    """The preview form of a GA server event; None for those the preview protocol does not send
    (`conversation.item.done`: preview announces an item once, `conversation.item.created`)."""
    kind = event["type"]
    if kind == "conversation.item.done":
        return None
    out = {**event, "type": _GA_NAMES.get(kind, kind)}
    out.pop("obfuscation", None)  # GA's padding of deltas; preview deltas have none
    if "item" in out:
        out["item"] = item_to_preview(out["item"])
    if "session" in out:
        out["session"] = session_to_preview(out["session"], temperature)
    if "response" in out:
        out["response"] = _response_to_preview(out["response"], temperature)
    if kind == "error":
        out["error"] = _error_to_preview(out["error"])
    return out


def session_to_preview(session: dict[str, Any], temperature: float) -> dict[str, Any]:
    """A GA session object in the preview shape: top-level fields, no `type`."""
    audio_in, audio_out = session["audio"]["input"], session["audio"]["output"]
    return {
        "id": session["id"],
        "object": "realtime.session",
        "model": session["model"],
        "expires_at": session["expires_at"],
        "modalities": _modalities_to_preview(session["output_modalities"]),
        "instructions": session["instructions"],
        "voice": audio_out["voice"],
        "input_audio_format": _FORMAT_NAMES[audio_in["format"]["type"]],
        "output_audio_format": _FORMAT_NAMES[audio_out["format"]["type"]],
        "input_audio_transcription": audio_in["transcription"],
        "input_audio_noise_reduction": audio_in["noise_reduction"],
        "turn_detection": _turn_detection_to_preview(audio_in["turn_detection"]),
        "speed": audio_out["speed"],
        "tools": session["tools"],
        "tool_choice": session["tool_choice"],
        "temperature": temperature,
        "max_response_output_tokens": session["max_output_tokens"],
        "tracing": session["tracing"],
    }


def _modalities_to_preview(modalities: list[str]) -> list[str]:
    return ["text"] if modalities == ["text"] else ["text", "audio"]


def _turn_detection_to_preview(turn: dict[str, Any] | None) -> dict[str, Any] | None:
    if turn is None:
        return None
    # `idle_timeout_ms` came with GA: shown only when a client set it.
    return {k: v for k, v in turn.items() if not (k == "idle_timeout_ms" and v is None)}


def item_to_preview(item: dict[str, Any]) -> dict[str, Any]:
    """`object: "realtime.item"` after the id, and assistant content named `text`/`audio`."""
    out: dict[str, Any] = {"id": item.get("id"), "object": "realtime.item"}
    out.update((k, v) for k, v in item.items() if k != "id")
    if isinstance(item.get("content"), list):
        out["content"] = [{**p, "type": _CONTENT_TO_PREVIEW.get(p["type"], p["type"])} for p in item["content"]]
    return out


def _response_to_preview(response: dict[str, Any], temperature: float) -> dict[str, Any]:
    """The response object of `response.created/done`. Its temperature is the session's."""
    output = response["audio"]["output"]
    return {
        "object": response["object"],
        "id": response["id"],
        "status": response["status"],
        "status_details": response["status_details"],
        "output": [item_to_preview(i) for i in response["output"]],
        "conversation_id": response["conversation_id"],
        "modalities": _modalities_to_preview(response["output_modalities"]),
        "voice": output["voice"],
        "output_audio_format": _FORMAT_NAMES[output["format"]["type"]],
        "temperature": temperature,
        "max_output_tokens": response["max_output_tokens"],
        "usage": response["usage"],
        "metadata": response["metadata"],
    }


def _error_to_preview(error: dict[str, Any]) -> dict[str, Any]:
    """Name the preview field the client sent, not its GA counterpart."""
    param, message = error.get("param"), str(error.get("message"))
    if not isinstance(param, str):
        return error
    for ga, preview in _PARAMS:
        if param == ga or param.startswith(ga + ".") or param.startswith(ga + "["):
            message = message.replace(ga, preview)
            param = preview + param[len(ga) :]
            break
    if "content[" in param:  # an assistant part's type, e.g. "Supported values are: 'text'."
        for ga, preview in _CONTENT_TO_PREVIEW.items():
            message = message.replace(f"'{ga}'", f"'{preview}'")
    return {**error, "param": param, "message": message}
