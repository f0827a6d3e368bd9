"""A GA mock session that speaks the preview (beta) protocol to its client: `--flavor azure` only.

`PreviewSession` wraps a `MockSession` and offers the shell the same interface (`SessionLike`).
A client declares the preview protocol at the handshake (`OpenAI-Beta: realtime=v1`, or the
`openai-beta.realtime-v1` subprotocol): then everything, `session.created` included, is preview.
A client that did not may still send a preview-shaped first `session.update` (no
`session.type`, a preview-only field): from then on the session is preview; a GA one (with
`session.type`) settles it as GA and the wrapper steps aside. Pure: no sockets.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from inspector.mock.outbox import Close, Outgoing
from inspector.mock.preview import DEFAULT_TEMPERATURE, client_event_to_ga, is_preview_update, server_event_to_preview
from inspector.mock.state import MockSession
from inspector.mock.validation import missing

__all__ = ["PreviewSession"]

Mode = Literal["preview", "ga", "undecided"]


def _parse(frame: str | bytes) -> dict[str, Any] | None:
    if isinstance(frame, bytes):
        return None
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


class PreviewSession:
    """The preview protocol over a GA `MockSession` (`inner`), translated at both edges."""

    def __init__(self, inner: MockSession, *, declared: bool) -> None:
        self.inner = inner
        self.mode: Mode = "preview" if declared else "undecided"
        self.temperature = DEFAULT_TEMPERATURE  # preview only: the GA session has none
        self._overflow: list[Outgoing] = []  # translated events beyond `pop_due`'s limit
        self._overflow_due = 0.0

    def connect(self, now: float) -> None:
        self.inner.connect(now)

    def next_due(self) -> float | None:
        return self._overflow_due if self._overflow else self.inner.next_due()

    def receive(self, frame: str | bytes, now: float) -> None:
        if self.mode == "undecided":
            self._decide(frame)
        if self.mode != "preview":
            self.inner.receive(frame, now)
            return
        data = _parse(frame)
        if data is None:
            self.inner.receive(frame, now)  # the GA session reports what is wrong with it
            return
        inbound = client_event_to_ga(data)
        if inbound.error is not None or inbound.event is None:
            client_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
            self.inner.refuse(inbound.error or missing("type"), client_id, now)
            return
        if inbound.event is data:
            self.inner.receive(frame, now)  # nothing to translate (appends): no second dump
            return
        before = self.inner.session
        self.inner.receive(orjson.dumps(inbound.event).decode(), now)
        # A session.update is rejected whole: the temperature counts only if the rest did.
        if inbound.temperature is not None and self.inner.session is not before:
            self.temperature = inbound.temperature

    def _decide(self, frame: str | bytes) -> None:
        # Cheap test first: audio appends (up to 15 MiB) are not parsed twice.
        if not isinstance(frame, str) or "session.update" not in frame:
            return
        data = _parse(frame)
        if data is None or data.get("type") != "session.update":
            return
        if is_preview_update(data):
            self.mode = "preview"
        elif isinstance(data.get("session"), dict) and "type" in data["session"]:
            self.mode = "ga"

    def pop_due(self, now: float, limit: int | None = None) -> list[Outgoing]:
        if self.mode != "preview" and not self._overflow:
            return self.inner.pop_due(now, limit)
        out, self._overflow = self._overflow, []
        while limit is None or len(out) < limit:
            batch = self.inner.pop_due(now, None if limit is None else 1)
            if not batch:
                break
            for payload in batch:
                out.extend(self._outbound(payload))
        if limit is not None and len(out) > limit:
            out, self._overflow, self._overflow_due = out[:limit], out[limit:], now
        return out

    def _outbound(self, payload: Outgoing) -> list[Outgoing]:
        if isinstance(payload, (Close, str)):
            return [payload]
        event = server_event_to_preview(payload, self.temperature)
        if event is None:
            return []
        if event["type"] == "session.created":
            # The preview protocol announced the default conversation right after the session.
            conversation = {"id": self.inner.conversation_id, "object": "realtime.conversation"}
            created = {"type": "conversation.created", "event_id": self.inner.ids.event(), "conversation": conversation}
            return [event, created]
        return [event]
