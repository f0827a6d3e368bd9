"""A response on its way to the client, and its cancellation.

`ActiveResponse.mark_sent` follows what the client has actually received, so that `close_out`
can end exactly the parts that were opened, as the real service does on `response.cancel`
(there is no `response.cancelled` event on the wire).
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from typing import Any

from inspector.mock.ids import IdFactory
from inspector.mock.response_events import (
    arguments_done,
    audio_tokens,
    item_event,
    locator,
    output_item_done,
    part_done_events,
    response_event,
    usage,
)

__all__ = ["ActiveResponse", "OutputState"]


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
    audio: bytes = b""  # the whole synthesized speech of an audio item
    audio_bytes_sent: int = 0


@dataclass
class ActiveResponse:
    id: str
    response: dict[str, Any]  # as in response.created
    outputs: list[OutputState]
    in_conversation: bool
    usage: dict[str, Any]
    done: bool = False
    audio_sent: bool = False
    # What the client has received, for the usage of a cancelled response.
    pieces_sent: int = 0  # text, transcript and argument deltas: one token each, as planned
    audio_bytes_sent: int = 0

    def mark_sent(self, event: dict[str, Any]) -> None:
        kind = event["type"]
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
            size = len(base64.b64decode(event["delta"]))
            self.audio_bytes_sent += size
            output.audio_bytes_sent += size
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
            audio_tokens(self.audio_bytes_sent, fmt),
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
            response_event(
                "response.done",
                ids,
                self.response,
                status="cancelled",
                details={"type": "cancelled", "reason": reason},
                output=finals,
                usage=self.usage,
            )
        )
        return events, finals


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
    loc = locator(resp.id, item["id"], out.output_index)
    events = []
    if out.kind == "function_call" and not out.args_done:
        call = {
            "response_id": resp.id,
            "item_id": item["id"],
            "output_index": out.output_index,
            "call_id": item["call_id"],
        }
        events.append(arguments_done(ids, call, item["name"], out.sent))
    elif out.kind != "function_call" and out.part_open and not out.part_done:
        events.extend(part_done_events(out.kind, loc, out.sent, ids))
    if resp.in_conversation:
        events.append(item_event("conversation.item.done", ids, out.done_previous_item_id, item))
    events.append(output_item_done(ids, resp.id, out.output_index, item))
    return events
