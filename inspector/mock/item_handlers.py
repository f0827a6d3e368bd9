"""The `conversation.item.*` client events: create, retrieve, delete, truncate."""

from __future__ import annotations

import base64
import copy
from typing import Any

from inspector.audio import bytes_per_ms
from inspector.mock.conversation import echo_item, validate_item
from inspector.mock.state_core import SessionCore
from inspector.mock.validation import MockError, decode_base64, missing

__all__ = ["ItemHandlers"]


def _item_missing(action: str, code: str, item_id: str) -> MockError:
    return MockError(code, f"Error {action} item: the item with id '{item_id}' does not exist.", "item_id")


class ItemHandlers(SessionCore):
    """Handlers of the conversation item events; each returns the error to send, if any."""

    def _on_conversation_item_create(self, data: dict[str, Any], now: float) -> MockError | None:
        item = data.get("item")
        if item is None:
            return missing("item")
        if error := validate_item(item):
            return error
        previous = data.get("previous_item_id")
        if previous is not None and previous != "root" and self.conversation.index(previous) is None:
            return MockError(
                "invalid_value",
                f"Error adding item: the previous item with id '{previous}' does not exist.",
                "previous_item_id",
            )
        item_id = item.get("id") or self.ids.item()
        if self.conversation.index(item_id) is not None:
            return MockError(
                "invalid_value",
                f"Error adding item: an item with id '{item_id}' already exists.",
                "item.id",
            )
        if item["type"] == "function_call_output" and not self.conversation.has_call(item["call_id"]):
            return MockError(
                "invalid_tool_call_id",
                f"Tool call ID '{item['call_id']}' not found in conversation.",
                "item.call_id",
            )
        echo = echo_item(item, item_id, self.ids.call() if item["type"] == "function_call" else None)
        self.conversation.insert(copy.deepcopy(echo), previous)
        audio = b"".join(
            decode_base64(p.get("audio") or "") or b""  # validated by `validate_item`
            for p in item.get("content") or []
            if p.get("type") == "input_audio"
        )
        if audio:
            self.conversation.audio[item_id] = audio
        self._announce_item(echo, self.conversation.previous_id(item_id), now)
        return None

    def _item_id_param(self, data: dict[str, Any]) -> tuple[str | None, MockError | None]:
        item_id = data.get("item_id")
        if item_id is None:
            return None, missing("item_id")
        return item_id, None

    def _on_conversation_item_retrieve(self, data: dict[str, Any], now: float) -> MockError | None:
        item_id, error = self._item_id_param(data)
        if error or item_id is None:
            return error
        item = self.conversation.get(item_id)
        if item is None:
            return _item_missing("retrieving", "item_retrieve_invalid_item_id", item_id)
        full = copy.deepcopy(item)
        audio = self.conversation.audio.get(item_id)
        if audio is not None and full.get("content"):
            # Retrieval is how a client gets the audio back: unlike the echoes, it carries it.
            full["content"][0]["audio"] = base64.b64encode(audio).decode()
        self.outbox.put(
            {"type": "conversation.item.retrieved", "event_id": self.ids.event(), "item": full},
            now,
            self.timing.ack,
        )
        return None

    def _on_conversation_item_delete(self, data: dict[str, Any], now: float) -> MockError | None:
        item_id, error = self._item_id_param(data)
        if error or item_id is None:
            return error
        if not self.conversation.delete(item_id):
            return _item_missing("deleting", "item_delete_invalid_item_id", item_id)
        self.outbox.put(
            {"type": "conversation.item.deleted", "event_id": self.ids.event(), "item_id": item_id},
            now,
            self.timing.ack,
        )
        return None

    def _on_conversation_item_truncate(self, data: dict[str, Any], now: float) -> MockError | None:
        for key in ("item_id", "content_index", "audio_end_ms"):
            if data.get(key) is None:
                return missing(key)
        item_id, index, end_ms = data["item_id"], data["content_index"], data["audio_end_ms"]
        item = self.conversation.get(item_id)
        if item is None:
            return _item_missing("truncating", "item_truncate_invalid_item_id", item_id)
        content = item.get("content") or []
        audio = self.conversation.audio.get(item_id)
        if (
            item.get("role") != "assistant"
            or not isinstance(index, int)
            or not 0 <= index < len(content)
            or audio is None
        ):
            return MockError(
                "invalid_value",
                "Error truncating item: only assistant audio content can be truncated.",
                "content_index",
            )
        fmt = self.session["audio"]["output"]["format"]["type"]
        length_ms = int(len(audio) / bytes_per_ms(fmt))
        if not isinstance(end_ms, int) or end_ms < 0 or end_ms > length_ms:
            return MockError(
                "invalid_value",
                f"Audio content of {length_ms}ms is already shorter than {end_ms}ms",
                "audio_end_ms",
            )
        self.conversation.audio[item_id] = audio[: int(end_ms * bytes_per_ms(fmt))]
        # The service drops the transcript of truncated audio: the model must not "remember"
        # words the user never heard.
        content[index]["transcript"] = ""
        self.outbox.put(
            {
                "type": "conversation.item.truncated",
                "event_id": self.ids.event(),
                "item_id": item_id,
                "content_index": index,
                "audio_end_ms": end_ms,
            },
            now,
            self.timing.ack,
        )
        return None
