"""The mock's Realtime session as a pure state machine: client frames in, timed server events out.

No sockets and no asyncio here (nor in the handler classes it is made of: `state_core`,
`item_handlers`, `response_handlers`, `input_buffer`). The shell calls `connect(now)` once, `receive(frame, now)` for
each client frame, and sends what `pop_due(now)` returns when `next_due()` comes; tests do the
same with a made-up clock, or call `feed(frame)` which returns every resulting event at once.
Everything is deterministic given the seed and the clock values.

Delays follow `Timing` (none, or realistic); events leave in causal order (see `Outbox`). Two
timers run on the same clock: the session's expiry (`max_session_s`) and the idle timeout of
server VAD (`turn_detection.idle_timeout_ms`); `next_due` includes them.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from inspector.mock.input_buffer import InputAudioHandlers
from inspector.mock.item_handlers import ItemHandlers
from inspector.mock.outbox import Close, Outgoing
from inspector.mock.session import apply_session_update
from inspector.mock.validation import MockError, invalid_value, missing, unknown

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


def _expiry_message(seconds: float) -> str:
    # The service's own limit reads "60 minutes"; shorter test limits keep the same sentence.
    span = f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"
    return f"Your session hit the maximum duration of {span}."


class MockSession(InputAudioHandlers, ItemHandlers):
    """One connection's session: the shell's interface over the handlers of every client event."""

    # --- the shell's interface --------------------------------------------------------------

    def connect(self, now: float) -> None:
        if self.max_session_s is not None:
            self.expires_at = now + self.max_session_s
        self.outbox.put(
            {
                "type": "session.created",
                "event_id": self.ids.event(),
                "session": copy.deepcopy(self.session),
            },
            now,
        )

    def next_due(self) -> float | None:
        due = [t for t in (self.outbox.next_due(), self.expires_at, self.idle_at) if t is not None]
        return min(due) if due else None

    def pop_due(self, now: float, limit: int | None = None) -> list[Outgoing]:
        self.clock = now  # what the sent-event hooks measure from (the idle timer)
        self._fire_timers(now)
        return self.outbox.pop_due(now, limit)

    def _fire_timers(self, now: float) -> None:
        """The events the clock alone causes: session expiry, then the idle timeout."""
        if self.expires_at is not None and now >= self.expires_at:
            self.expires_at = self.idle_at = None
            self._error(MockError("session_expired", _expiry_message(self.max_session_s or 0)), None, now)
            self.outbox.put(Close(1001, "session_expired"), now, urgent=True)
        if self.idle_at is not None and now >= self.idle_at:
            self.idle_at, self.idle_spent = None, True
            self._idle_timeout(now)

    def feed(self, frame: str | bytes | dict[str, Any], now: float = 0.0) -> list[tuple[float, dict[str, Any]]]:
        """Receive one frame (a dict is serialized first) and return everything pending as
        (delay, event), as if the client received it all."""
        if isinstance(frame, dict):
            frame = orjson.dumps(frame).decode()
        self.receive(frame, now)
        # A generated session queues events only: no serialized frames, no closes (playback's).
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

    def refuse(self, error: MockError, client_event_id: str | None, now: float) -> None:
        """Answer a client event with `error`: for wrappers that check what the GA rules cannot
        (the preview protocol's own fields, see `preview_session`)."""
        self._error(error, client_event_id, now)

    # --- plumbing ---------------------------------------------------------------------------

    def _error(self, error: MockError, client_id: str | None, now: float) -> None:
        # Errors come back at once, even while a response is streaming.
        self.outbox.put(error_event(self.ids.event(), error, client_id), now, first=True)

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
