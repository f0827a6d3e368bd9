"""The conversation: an ordered list of items, the item rules of `conversation.item.create`, and
the shapes the service echoes items in.

Item shapes follow the recordings: client-created items come back `completed`; user audio is
echoed without its bytes (`{"type": "input_audio", "transcript": null}`); a
`function_call_output` item has no `status`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from inspector.mock.validation import (
    AnyValue,
    Base64,
    Enum,
    ListOf,
    MockError,
    Nullable,
    Obj,
    Spec,
    Str,
    Tagged,
    invalid_value,
    missing,
)

__all__ = ["INPUT_ITEM", "ITEM", "ROLE_CONTENT", "Conversation", "echo_item", "validate_item"]

# Content types each role may carry when a client creates a message. Assistant audio can only come
# from the model, so a client cannot create an `output_audio` part.
ROLE_CONTENT = {
    "system": ("input_text",),
    "user": ("input_text", "input_audio", "input_image"),
    "assistant": ("output_text",),
}

_COMMON = {
    "id": Str(),
    "type": Str(),
    "object": Enum("realtime.item"),
    "status": Enum("completed", "incomplete", "in_progress"),
}
_SHAPES = {
    "message": Obj(
        {**_COMMON, "role": Enum("user", "assistant", "system"), "content": ListOf(AnyValue())},
        required=["role", "content"],
    ),
    "function_call": Obj(
        {**_COMMON, "name": Str(), "call_id": Str(), "arguments": Str()},
        required=["name", "arguments"],
    ),
    "function_call_output": Obj({**_COMMON, "call_id": Str(), "output": Str()}, required=["call_id", "output"]),
}
_PARTS = {
    "input_text": Obj({"type": Str(), "text": Str()}, required=["text"]),
    # The transcript is null in the service's echoes, which clients may send back as they are.
    "input_audio": Obj({"type": Str(), "audio": Base64(), "transcript": Nullable(Str())}),
    "input_image": Obj({"type": Str(), "image_url": Str(), "detail": Enum("auto", "low", "high")}, ["image_url"]),
    "output_text": Obj({"type": Str(), "text": Str()}, required=["text"]),
}


class _ItemRules(Spec):
    """An item as a client writes it: its type's fields, then each role's content rules. The
    call_id check needs the conversation (see `Conversation.has_call`)."""

    expected = "an object"

    def __init__(self, shapes: dict[str, Obj]) -> None:
        self.shapes = Tagged(shapes)

    def check(self, item: Any, path: str) -> MockError | None:
        if error := self.shapes.check(item, path):
            return error
        if item["type"] != "message":
            return None
        allowed = ROLE_CONTENT[item["role"]]
        for i, part in enumerate(item["content"]):
            where = f"{path}.content[{i}]"
            if not isinstance(part, dict):
                return Obj({}).check(part, where)
            if "type" not in part:
                return missing(f"{where}.type")
            if part["type"] not in allowed:
                return invalid_value(f"{where}.type", part["type"], allowed)
            if error := _PARTS[part["type"]].check(part, where):
                return error
        return None


# `conversation.item.create`'s item, and an entry of `response.create`'s inline `input`, which
# follows the same rules and may also point at a conversation item.
ITEM = _ItemRules(_SHAPES)
INPUT_ITEM = _ItemRules({**_SHAPES, "item_reference": Obj({"type": Str(), "id": Str()}, required=["id"])})


def validate_item(item: Any, path: str = "item") -> MockError | None:
    return missing(path) if item is None else ITEM.check(item, path)


def _echo_part(part: dict[str, Any]) -> dict[str, Any]:
    kind = part["type"]
    if kind == "input_audio":
        return {"type": "input_audio", "transcript": part.get("transcript")}
    if kind == "input_image":
        return {k: part[k] for k in ("type", "image_url", "detail") if k in part}
    return {"type": kind, "text": part.get("text", "")}


def echo_item(item: dict[str, Any], item_id: str, call_id: str | None = None) -> dict[str, Any]:
    """The item as the service shows it in `conversation.item.added/done`."""
    kind = item["type"]
    if kind == "message":
        return {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": item["role"],
            "content": [_echo_part(p) for p in item["content"]],
        }
    if kind == "function_call":
        return {
            "id": item_id,
            "type": "function_call",
            "status": "completed",
            "name": item["name"],
            "call_id": item.get("call_id") or call_id,
            "arguments": item["arguments"],
        }
    return {"id": item_id, "type": kind, "call_id": item["call_id"], "output": item["output"]}


@dataclass
class Conversation:
    """Items in order; `audio` keeps the bytes of audio items (echoes leave them out)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    audio: dict[str, bytes] = field(default_factory=dict)

    def index(self, item_id: str) -> int | None:
        for i, item in enumerate(self.items):
            if item["id"] == item_id:
                return i
        return None

    def get(self, item_id: str) -> dict[str, Any] | None:
        i = self.index(item_id)
        return None if i is None else self.items[i]

    def previous_id(self, item_id: str) -> str | None:
        i = self.index(item_id)
        return self.items[i - 1]["id"] if i else None

    def last_id(self) -> str | None:
        return self.items[-1]["id"] if self.items else None

    def insert(self, item: dict[str, Any], previous_item_id: str | None = None) -> None:
        """Append, or insert after `previous_item_id` ("root" means first). Ids are checked
        beforehand by the caller, which owns the error."""
        if previous_item_id is None:
            self.items.append(item)
        elif previous_item_id == "root":
            self.items.insert(0, item)
        else:
            index = self.index(previous_item_id)
            if index is None:
                raise KeyError(previous_item_id)
            self.items.insert(index + 1, item)

    def replace(self, item: dict[str, Any]) -> None:
        i = self.index(item["id"])
        if i is not None:
            self.items[i] = item

    def delete(self, item_id: str) -> bool:
        i = self.index(item_id)
        if i is None:
            return False
        del self.items[i]
        self.audio.pop(item_id, None)
        return True

    def has_call(self, call_id: str) -> bool:
        return any(i.get("type") == "function_call" and i.get("call_id") == call_id for i in self.items)

    def snapshot(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.items)
