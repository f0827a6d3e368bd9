"""The mock's Realtime session as a pure state machine: client frames in, timed server events out.

No sockets and no asyncio here. The shell calls `connect(now)` once, `receive(frame, now)` for
each client frame, and sends what `pop_due(now)` returns when `next_due()` comes; tests do the
same with a made-up clock, or call `feed(frame)` which returns every resulting event at once.
Everything is deterministic given the seed and the clock values.

Delays follow `Timing` (none, or realistic); events leave in causal order (see `Outbox`).
"""

from __future__ import annotations

import base64
import copy
import math
import random
from collections.abc import Callable
from typing import Any

import orjson

from inspector.mock.active import ActiveResponse
from inspector.mock.audio import bytes_per_ms
from inspector.mock.conversation import Conversation, echo_item, validate_item
from inspector.mock.ids import IdFactory
from inspector.mock.outbox import Outbox, Outgoing
from inspector.mock.response_events import tokens
from inspector.mock.responses import NO_LATENCY, Timing, plan_response
from inspector.mock.script import Script
from inspector.mock.session import (
    RESPONSE_SPEC,
    apply_session_update,
    default_session,
    normalize_tools,
)
from inspector.mock.vad import EnergyVad, VadEvent
from inspector.mock.validation import (
    MockError,
    Nullable,
    Str,
    decode_base64,
    invalid_value,
    missing,
    unknown,
)

__all__ = ["CLIENT_EVENTS", "MockSession", "error_event"]

# Each client event type and the top-level fields it may carry (GA, realtime-protocol.md §2).
CLIENT_EVENTS: dict[str, tuple[str, ...]] = {
    "session.update": ("session",),
    "input_audio_buffer.append": ("audio",),
    "input_audio_buffer.commit": (),
    "input_audio_buffer.clear": (),
    "conversation.item.create": ("item", "previous_item_id"),
    "conversation.item.truncate": ("item_id", "content_index", "audio_end_ms"),
    "conversation.item.delete": ("item_id",),
    "conversation.item.retrieve": ("item_id",),
    "response.create": ("response",),
    "response.cancel": ("response_id",),
    # Not `output_audio_buffer.clear`: it exists for WebRTC/SIP only, and the mock speaks only
    # WebSocket, so it is an unknown type here (README lists this deviation).
}
RATE_LIMIT_TOKENS = 15_000_000
MIN_COMMIT_MS = 100


def error_event(event_id: str, error: MockError, client_event_id: str | None) -> dict[str, Any]:
    return {
        "type": "error",
        "event_id": event_id,
        "error": {
            "type": error.type,
            "code": error.code,
            "message": error.message,
            "param": error.param,
            "event_id": client_event_id,
        },
    }


def _item_missing(action: str, code: str, item_id: str) -> MockError:
    return MockError(code, f"Error {action} item: the item with id '{item_id}' does not exist.", "item_id")


class MockSession:
    """One connection's state: session config, conversation, audio buffer, VAD, responses."""

    def __init__(
        self,
        *,
        seed: int | str | None = None,
        timing: Timing = NO_LATENCY,
        script: Script | None = None,
        model: str = "gpt-realtime",
        now_unix: float = 0.0,
    ) -> None:
        self.ids = IdFactory(random.Random(seed))
        self.timing = timing
        self.script = script or Script.default()
        self.outbox = Outbox()
        self.session = default_session(self.ids.session(), model, now_unix)
        self.conversation_id = self.ids.conversation()
        self.conversation = Conversation()
        self.vad = EnergyVad()
        self.buffer = bytearray()
        self.buffer_start_ms = 0.0
        self.speech_item_id: str | None = None
        self.speech_start_ms = 0.0
        self.active: ActiveResponse | None = None  # the default conversation's response
        self.out_of_band: dict[str, ActiveResponse] = {}
        self.cancelling: set[str] = set()
        self.audio_present = False  # assistant audio was sent: the voice is now fixed
        self.audio_turns = 0
        self.tokens_used = 0

    # --- the shell's interface --------------------------------------------------------------

    def connect(self, now: float) -> None:
        self.outbox.put(
            {
                "type": "session.created",
                "event_id": self.ids.event(),
                "session": copy.deepcopy(self.session),
            },
            now,
        )

    def next_due(self) -> float | None:
        return self.outbox.next_due()

    def pop_due(self, now: float) -> list[Outgoing]:
        return self.outbox.pop_due(now)

    def feed(self, frame: str | bytes | dict[str, Any], now: float = 0.0) -> list[tuple[float, dict[str, Any]]]:
        """Receive one frame (a dict is serialized first) and return everything pending as
        (delay, event), as if the client received it all."""
        if isinstance(frame, dict):
            frame = orjson.dumps(frame).decode()
        self.receive(frame, now)
        return self.outbox.pop_all(now)  # type: ignore[return-value]

    def receive(self, frame: str | bytes, now: float) -> None:
        if isinstance(frame, bytes):
            self._error(
                MockError("invalid_event", "Binary frames are not supported; send JSON text frames."),
                None,
                now,
            )
            return
        try:
            data = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            self._error(MockError("invalid_json", f"Failed to parse the event as JSON: {exc}"), None, now)
            return
        if not isinstance(data, dict):
            self._error(MockError("invalid_json", "The event must be a JSON object."), None, now)
            return
        client_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
        error = self._dispatch(data, now)
        if error is not None:
            self._error(error, client_id, now)

    # --- plumbing ---------------------------------------------------------------------------

    def _error(self, error: MockError, client_id: str | None, now: float) -> None:
        # Errors come back at once, even while a response is streaming.
        self.outbox.put(error_event(self.ids.event(), error, client_id), now, urgent=True)

    def _dispatch(self, data: dict[str, Any], now: float) -> MockError | None:
        kind = data.get("type")
        if kind is None:
            return missing("type")
        if not isinstance(kind, str) or kind not in CLIENT_EVENTS:
            return invalid_value("type", kind, list(CLIENT_EVENTS))
        for key in data:
            if key not in ("type", "event_id") and key not in CLIENT_EVENTS[kind]:
                return unknown(key)
        handler = getattr(self, "_on_" + kind.replace(".", "_"))
        return handler(data, now)

    @property
    def _input_format(self) -> str:
        return self.session["audio"]["input"]["format"]["type"]

    # --- session ----------------------------------------------------------------------------

    def _on_session_update(self, data: dict[str, Any], now: float) -> MockError | None:
        new, error = apply_session_update(self.session, data.get("session"), audio_present=self.audio_present)
        if error is not None or new is None:
            return error
        self.session = new
        self.outbox.put(
            {
                "type": "session.updated",
                "event_id": self.ids.event(),
                "session": copy.deepcopy(new),
            },
            now,
            self.timing.session_updated,
        )
        return None

    # --- input audio ------------------------------------------------------------------------

    def _on_input_audio_buffer_append(self, data: dict[str, Any], now: float) -> MockError | None:
        audio = data.get("audio")
        if audio is None:
            return missing("audio")
        raw = decode_base64(audio)
        if raw is None:
            return MockError("invalid_value", "Invalid 'audio': expected base64-encoded audio bytes.", "audio")
        self.buffer += raw
        turn = self.session["audio"]["input"]["turn_detection"]
        for event in self.vad.feed(raw, self._input_format, turn):
            self._on_vad(event, turn or {}, now)
        return None

    def _on_vad(self, event: VadEvent, turn: dict[str, Any], now: float) -> None:
        if event.kind == "started":
            self.speech_item_id = self.ids.item()
            self.outbox.put(
                {
                    "type": "input_audio_buffer.speech_started",
                    "event_id": self.ids.event(),
                    "audio_start_ms": event.ms,
                    "item_id": self.speech_item_id,
                },
                now,
                urgent=True,
            )
            self.speech_start_ms = max(float(event.ms), self.buffer_start_ms)
            if turn.get("interrupt_response", True) and self.active and self.active.id not in self.cancelling:
                self._cancel(self.active, "turn_detected", now)
            return
        item_id = self.speech_item_id or self.ids.item()
        self.speech_item_id = None
        self.outbox.put(
            {
                "type": "input_audio_buffer.speech_stopped",
                "event_id": self.ids.event(),
                "audio_end_ms": event.ms,
                "item_id": item_id,
            },
            now,
            urgent=True,
        )
        per_ms = bytes_per_ms(self._input_format)
        start = int((self.speech_start_ms - self.buffer_start_ms) * per_ms)
        end = int((event.ms - self.buffer_start_ms) * per_ms)
        start, end = max(0, min(start, len(self.buffer))), max(0, min(end, len(self.buffer)))
        audio = bytes(self.buffer[start:end])
        del self.buffer[:end]
        self.buffer_start_ms += end / per_ms
        self._commit(audio, item_id, now)
        # A response being cancelled (barge-in) stays `active` until its response.done is sent;
        # the new turn's response is queued behind that, so it must not wait for it.
        if turn.get("create_response", True) and (self.active is None or self.active.id in self.cancelling):
            self._start_response({}, now)

    def _on_input_audio_buffer_commit(self, data: dict[str, Any], now: float) -> MockError | None:
        per_ms = bytes_per_ms(self._input_format)
        ms = len(self.buffer) / per_ms
        if ms < MIN_COMMIT_MS:
            return MockError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of "
                f"audio, but buffer only has {ms:.2f}ms of audio.",
            )
        item_id = self.speech_item_id or self.ids.item()
        audio = bytes(self.buffer)
        self._reset_buffer()
        self._commit(audio, item_id, now)
        return None

    def _on_input_audio_buffer_clear(self, data: dict[str, Any], now: float) -> MockError | None:
        self._reset_buffer()
        self.outbox.put(
            {"type": "input_audio_buffer.cleared", "event_id": self.ids.event()},
            now,
            self.timing.ack,
        )
        return None

    def _reset_buffer(self) -> None:
        self.buffer_start_ms += len(self.buffer) / bytes_per_ms(self._input_format)
        self.buffer.clear()
        self.vad.reset()
        self.speech_item_id = None

    def _commit(self, audio: bytes, item_id: str, now: float) -> None:
        previous = self.conversation.last_id()
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.conversation.insert(copy.deepcopy(item))
        self.conversation.audio[item_id] = audio
        self.outbox.put(
            {
                "type": "input_audio_buffer.committed",
                "event_id": self.ids.event(),
                "previous_item_id": previous,
                "item_id": item_id,
            },
            now,
            self.timing.ack,
        )
        self._announce_item(item, previous, now)
        transcription = self.session["audio"]["input"]["transcription"]
        if transcription:
            self._transcribe(item_id, len(audio) / bytes_per_ms(self._input_format), now)

    def _transcribe(self, item_id: str, ms: float, now: float) -> None:
        text = self.script.heard(self.audio_turns)
        self.audio_turns += 1
        stored = self.conversation.get(item_id)
        if stored:
            stored["content"][0]["transcript"] = text
        # Transcription runs beside the response: its events float (see Outbox, `detached`).
        delay = self.timing.transcription
        for piece in tokens(text):
            self.outbox.put(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "event_id": self.ids.event(),
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": piece,
                    "obfuscation": self.ids.obfuscation(piece),
                },
                now,
                delay,
                detached=True,
            )
        self.outbox.put(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "event_id": self.ids.event(),
                "item_id": item_id,
                "content_index": 0,
                "transcript": text,
                "usage": {"type": "duration", "seconds": max(1, math.ceil(ms / 1000))},
            },
            now,
            delay,
            detached=True,
        )

    # --- conversation items -----------------------------------------------------------------

    def _announce_item(self, item: dict[str, Any], previous: str | None, now: float) -> None:
        for kind in ("conversation.item.added", "conversation.item.done"):
            self.outbox.put(
                {
                    "type": kind,
                    "event_id": self.ids.event(),
                    "previous_item_id": previous,
                    "item": copy.deepcopy(item),
                },
                now,
                self.timing.ack,
            )

    def _on_conversation_item_create(self, data: dict[str, Any], now: float) -> MockError | None:
        item = data.get("item")
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

    # --- responses --------------------------------------------------------------------------

    def _on_response_create(self, data: dict[str, Any], now: float) -> MockError | None:
        params = data.get("response") or {}
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
            self.conversation.insert(copy.deepcopy(resp.outputs[0].item))
            if resp.audio:
                self.conversation.audio[resp.outputs[0].item["id"]] = resp.audio
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
                self.cancelling.discard(resp.id)
                self.out_of_band.pop(resp.id, None)
                if self.active is resp:
                    self.active = None

        return on_sent

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
                    kept = self.conversation.audio[item_id][: resp.audio_bytes_sent]
                    self.conversation.audio[item_id] = kept
            else:
                self.conversation.delete(item_id)
        hook = self._sent_hook(resp)
        for event in events:
            self.outbox.put(event, now, self.timing.done_step, on_sent=hook)
        self._put_rate_limits(now, tag=None)
