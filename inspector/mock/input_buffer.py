"""The `input_audio_buffer.*` client events and server VAD: audio in, user items out.

With server VAD, the end of speech commits the spoken audio as a user item and starts a
response; speech that starts during a response interrupts it (barge-in).
"""

from __future__ import annotations

import copy
import math
from typing import Any

from inspector.audio import bytes_per_ms
from inspector.mock.response_events import tokens
from inspector.mock.response_handlers import ResponseHandlers
from inspector.mock.vad import VadEvent
from inspector.mock.validation import MockError, decode_base64, missing

__all__ = ["MIN_COMMIT_MS", "InputAudioHandlers"]

MIN_COMMIT_MS = 100
# The system item of an idle timeout (wording unsure: recordings show only that there is one).
IDLE_NUDGE = "The user has not said anything for a while. Prompt them to continue the conversation."


class InputAudioHandlers(ResponseHandlers):
    """Handlers of the input audio buffer events and of what the VAD hears; a subclass of
    `ResponseHandlers` because the end of a turn starts a response and its start cancels one."""

    def _on_input_audio_buffer_append(self, data: dict[str, Any], now: float) -> MockError | None:
        audio = data.get("audio")
        if audio is None:
            return missing("audio")
        raw = decode_base64(audio)
        if raw is None:
            return MockError("invalid_value", "Invalid 'audio': expected base64-encoded audio bytes.", "audio")
        self.buffer += raw
        if self.idle_spent and self.active is None:
            self.idle_spent = False  # new audio after a nudge: the timeout may fire again
            self._arm_idle_from(now)
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
            self.idle_at = None
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

    def _idle_timeout(self, now: float) -> None:
        """No speech for `idle_timeout_ms` after a response: the service nudges the model with a
        system item, commits the (silent) buffer and answers (realtime-protocol.md §8)."""
        start = self.buffer_start_ms
        end = start + len(self.buffer) / bytes_per_ms(self._input_format)
        item_id = self.ids.item()
        self.outbox.put(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "event_id": self.ids.event(),
                "audio_start_ms": int(start),
                "audio_end_ms": int(end),
                "item_id": item_id,
            },
            now,
        )
        nudge = {
            "id": self.ids.item(),
            "type": "message",
            "status": "completed",
            "role": "system",
            "content": [{"type": "input_text", "text": IDLE_NUDGE}],
        }
        previous = self.conversation.last_id()
        self.conversation.insert(copy.deepcopy(nudge))
        self._announce_item(nudge, previous, now)
        audio = bytes(self.buffer)
        self._reset_buffer()
        self._commit(audio, item_id, now)
        if self.active is None:
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
