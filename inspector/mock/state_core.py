"""The data of a mock session, and what every group of its handlers shares.

`MockSession` (in `state`) is assembled from one handler class per concern, each in its own
module: `ItemHandlers` (conversation items), `ResponseHandlers` (responses and cancellation) and
`InputAudioHandlers` (the input buffer and VAD, which commit items and start responses). They all
read and write the state declared here. Pure: no sockets, no asyncio.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from inspector.mock.active import ActiveResponse
from inspector.mock.conversation import Conversation
from inspector.mock.ids import IdFactory
from inspector.mock.outbox import Outbox
from inspector.mock.responses import NO_LATENCY, Timing
from inspector.mock.script import Script
from inspector.mock.session import default_session
from inspector.mock.vad import EnergyVad

__all__ = ["SessionCore"]


class SessionCore:
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

    @property
    def _input_format(self) -> str:
        return self.session["audio"]["input"]["format"]["type"]

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
