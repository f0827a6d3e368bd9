"""The shapes of a response's server events, as recorded: token pieces, usage, and the events
that both the planner and a cancellation send (part and item endings, `response.done`)."""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from inspector.audio import bytes_per_ms
from inspector.mock.ids import IdFactory

__all__ = [
    "arguments_done",
    "audio_tokens",
    "delta_event",
    "item_event",
    "locator",
    "output_item_done",
    "part_done_events",
    "response_event",
    "tokens",
    "usage",
]

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


def audio_tokens(size: int, fmt: str) -> int:
    return math.ceil(size / bytes_per_ms(fmt) / 50)  # one token per 50 ms


def locator(response_id: str, item_id: str, output_index: int) -> dict[str, Any]:
    """Where a content part's events point: the response, the item, and its first part."""
    return {
        "response_id": response_id,
        "item_id": item_id,
        "output_index": output_index,
        "content_index": 0,
    }


def delta_event(kind: str, ids: IdFactory, where: dict[str, Any], piece: str) -> dict[str, Any]:
    """A text, transcript or arguments delta, padded by its `obfuscation` as recorded."""
    return {
        "type": kind,
        "event_id": ids.event(),
        **where,
        "delta": piece,
        "obfuscation": ids.obfuscation(piece),
    }


def arguments_done(ids: IdFactory, where: dict[str, Any], name: str, arguments: str) -> dict[str, Any]:
    """`response.function_call_arguments.done`; `where` names the response, item, index and call."""
    return {
        "type": "response.function_call_arguments.done",
        "event_id": ids.event(),
        **where,
        "name": name,
        "arguments": arguments,
    }


def part_done_events(kind: str, loc: dict[str, Any], text: str, ids: IdFactory) -> list[dict[str, Any]]:
    """The events that end a text or audio content part whose text (or transcript) is `text`."""
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


def item_event(kind: str, ids: IdFactory, previous: str | None, item: dict[str, Any]) -> dict[str, Any]:
    """`conversation.item.added` or `.done`."""
    return {"type": kind, "event_id": ids.event(), "previous_item_id": previous, "item": item}


def output_item_done(ids: IdFactory, response_id: str, output_index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "response.output_item.done",
        "event_id": ids.event(),
        "response_id": response_id,
        "output_index": output_index,
        "item": item,
    }


def response_event(
    kind: str,
    ids: IdFactory,
    response: dict[str, Any],
    *,
    status: str,
    details: dict[str, Any] | None,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    """`response.done` (or another whole-response event): a copy of `response` as it now stands."""
    body = copy.deepcopy(response)
    body.update(status=status, status_details=details, output=copy.deepcopy(output), usage=usage)
    return {"type": kind, "event_id": ids.event(), "response": body}
