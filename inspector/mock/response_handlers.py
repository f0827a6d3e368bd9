"""The `response.*` client events, and starting and cancelling responses.

A response is planned whole (`responses.plan_response`) and queued in the outbox; a hook on each
sent event follows what the client has received, so that a cancellation ends exactly that.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from inspector.audio import bytes_per_ms
from inspector.mock.active import ActiveResponse
from inspector.mock.outbox import Outgoing
from inspector.mock.response_events import tokens
from inspector.mock.responses import plan_response
from inspector.mock.session import RESPONSE_SPEC, normalize_tools
from inspector.mock.state_core import SessionCore
from inspector.mock.validation import MockError, Nullable, Str

__all__ = ["RATE_LIMIT_TOKENS", "ResponseHandlers"]

RATE_LIMIT_TOKENS = 15_000_000


class ResponseHandlers(SessionCore):
    """Handlers of `response.create` and `response.cancel`, and the responses they start."""

    def _on_response_create(self, data: dict[str, Any], now: float) -> MockError | None:
        # Only a missing or null `response` means "no overrides": `[]`, `0`, `""` and `false`
        # are not objects, and the service refuses them as such.
        params = data.get("response")
        params = {} if params is None else params
        if error := RESPONSE_SPEC.check(params, "response"):
            return error
        if params.get("conversation", "auto") == "auto" and self.active is not None:
            return MockError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        self._start_response(params, now)
        return None

    def _response_config(self, params: dict[str, Any]) -> dict[str, Any]:
        """The session's settings with this response's overrides on top (this response only)."""
        session = self.session
        output = dict(session["audio"]["output"])
        output.update((params.get("audio") or {}).get("output") or {})
        return {
            "output_modalities": params.get("output_modalities") or session["output_modalities"],
            "max_output_tokens": params.get("max_output_tokens", session["max_output_tokens"]),
            "instructions": params.get("instructions", session["instructions"]),
            "tools": normalize_tools(params["tools"]) if "tools" in params else session["tools"],
            "tool_choice": params.get("tool_choice", session["tool_choice"]),
            "audio": {"output": {"format": output["format"], "voice": output["voice"]}},
            "metadata": params.get("metadata"),
        }

    def _context(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if "input" not in params:
            return self.conversation.items
        items = []
        for entry in params["input"]:  # validated by RESPONSE_SPEC
            if entry["type"] == "item_reference":
                found = self.conversation.get(entry["id"])
                if found:
                    items.append(found)
            else:
                items.append(entry)
        return items

    def _start_response(self, params: dict[str, Any], now: float) -> None:
        self.idle_at = None  # re-armed when this response is done
        config = self._response_config(params)
        in_conversation = params.get("conversation", "auto") == "auto"
        context = self._context(params)
        choice = config["tool_choice"]
        tools = [] if choice == "none" else [t["name"] for t in config["tools"] if t.get("type") == "function"]
        if isinstance(choice, dict):
            tools = [choice.get("name")]
        answer = self.script.answer(context, tools)
        previous = self.conversation.last_id() if in_conversation else None
        resp, events = plan_response(
            ids=self.ids,
            timing=self.timing,
            config=config,
            answer=answer,
            previous_item_id=previous,
            first_item_is_previous=in_conversation and len(self.conversation.items) == 1,
            conversation_id=self.conversation_id if in_conversation else None,
            input_tokens=self._input_tokens(config["instructions"], context),
        )
        if in_conversation:
            self.active = resp
            for out in resp.outputs:
                self.conversation.insert(copy.deepcopy(out.item))
                if out.audio:
                    self.conversation.audio[out.item["id"]] = out.audio
        else:
            self.out_of_band[resp.id] = resp
        hook = self._sent_hook(resp)
        for offset, event in events:
            tag = None if event["type"] == "response.created" else resp.id
            self.outbox.put(event, now, offset, tag=tag, on_sent=hook)
        self.tokens_used += resp.usage["total_tokens"]
        self._put_rate_limits(now, tag=resp.id)

    def _input_tokens(self, instructions: str, context: list[dict[str, Any]]) -> tuple[int, int]:
        text, audio_ms = len(tokens(instructions)), 0.0
        for item in context:
            for part in item.get("content") or []:
                text += len(tokens(part.get("text") or part.get("transcript") or ""))
            text += len(tokens(item.get("arguments") or item.get("output") or ""))
            # Inline `response.input` items need no id (the service accepts them without).
            if item.get("role") == "user" and item.get("id") in self.conversation.audio:
                audio_ms += len(self.conversation.audio[item["id"]]) / bytes_per_ms(self._input_format)
        return text, math.ceil(audio_ms / 100)

    def _put_rate_limits(self, now: float, tag: str | None) -> None:
        if self.flavor == "azure":
            return  # Azure sends no rate_limits.updated (realtime-protocol.md §8)
        self.outbox.put(
            {
                "type": "rate_limits.updated",
                "event_id": self.ids.event(),
                "rate_limits": [
                    {
                        "name": "tokens",
                        "limit": RATE_LIMIT_TOKENS,
                        "remaining": RATE_LIMIT_TOKENS - self.tokens_used,
                        "reset_seconds": 0.002,
                    }
                ],
            },
            now,
            self.timing.rate_limits,
            tag=tag,
        )

    def _sent_hook(self, resp: ActiveResponse) -> Callable[[Outgoing], None]:
        def on_sent(event: Outgoing) -> None:
            assert isinstance(event, dict)
            resp.mark_sent(event)
            if resp.audio_sent:
                self.audio_present = True
            if resp.done:
                self._arm_idle(resp)
                self.cancelling.discard(resp.id)
                self.out_of_band.pop(resp.id, None)
                if self.active is resp:
                    self.active = None

        return on_sent

    def _arm_idle(self, resp: ActiveResponse) -> None:
        """With server VAD's `idle_timeout_ms`, the timer starts when the answer has been heard:
        at `response.done` plus the playback of its audio. Once it fired, only new audio re-arms it."""
        if self.idle_spent or not resp.in_conversation:
            return
        fmt = resp.response["audio"]["output"]["format"]["type"]
        self._arm_idle_from(self.clock + resp.audio_bytes_sent / bytes_per_ms(fmt) / 1000)

    def _arm_idle_from(self, start: float) -> None:
        turn = self.session["audio"]["input"]["turn_detection"] or {}
        idle_ms = turn.get("idle_timeout_ms")
        if turn.get("type") == "server_vad" and idle_ms:
            self.idle_at = start + idle_ms / 1000

    def _on_response_cancel(self, data: dict[str, Any], now: float) -> MockError | None:
        wanted = data.get("response_id")
        if error := Nullable(Str()).check(wanted, "response_id"):
            return error
        target = (
            self.active
            if wanted is None or (self.active and self.active.id == wanted)
            else self.out_of_band.get(wanted)
        )
        if target is None or target.id in self.cancelling:
            return MockError("response_cancel_not_active", "Cancellation failed: no active response found")
        self._cancel(target, "client_cancelled", now)
        return None

    def _cancel(self, resp: ActiveResponse, reason: str, now: float) -> None:
        """Stop a response where the client is: close what it saw, forget what it did not."""
        self.cancelling.add(resp.id)
        self.outbox.revoke(resp.id, now)
        planned = resp.usage["total_tokens"]
        events, finals = resp.close_out(reason, self.ids)
        self.tokens_used -= planned - resp.usage["total_tokens"]
        seen = {item["id"] for item in finals}
        for out in resp.outputs:
            if not resp.in_conversation:
                continue
            item_id = out.item["id"]
            if item_id in seen:
                self.conversation.replace(copy.deepcopy(next(i for i in finals if i["id"] == item_id)))
                # Keep the audio the client got: that is what a later truncate measures.
                if item_id in self.conversation.audio:
                    kept = self.conversation.audio[item_id][: out.audio_bytes_sent]
                    self.conversation.audio[item_id] = kept
            else:
                self.conversation.delete(item_id)
        hook = self._sent_hook(resp)
        for event in events:
            self.outbox.put(event, now, self.timing.done_step, on_sent=hook)
        self._put_rate_limits(now, tag=None)
