"""The data of a mock session, and what every group of its handlers shares.

`MockSession` (in `state`) is assembled from one handler class per concern, each in its own
module: `ItemHandlers` (conversation items), `ResponseHandlers` (responses and cancellation) and
`InputAudioHandlers` (the input buffer and VAD, which commit items and start responses). They all
read and write the state declared here. Pure: no sockets, no asyncio.
"""

from __future__ import annotations

import copy
import random
from typing import Any, Literal

from inspector.mock.active import ActiveResponse
from inspector.mock.conversation import Conversation
from inspector.mock.ids import IdFactory
from inspector.mock.outbox import Outbox
from inspector.mock.responses import NO_LATENCY, Timing
from inspector.mock.script import Script
from inspector.mock.session import SESSION_LIFETIME_S, default_session
from inspector.mock.vad import EnergyVad

__all__ = ["Flavor", "SessionCore"]

# Which service the mock stands in for: OpenAI's, or Azure OpenAI's (no rate_limits.updated).
Flavor = Literal["openai", "azure"]


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
        flavor: Flavor = "openai",
        max_session_s: float | None = SESSION_LIFETIME_S,
    ) -> None:
        self.ids = IdFactory(random.Random(seed))
        self.timing = timing
        self.script = script or Script.default()
        self.outbox = Outbox()
        self.flavor = flavor
        self.max_session_s = max_session_s
        lifetime = SESSION_LIFETIME_S if max_session_s is None else max_session_s
        self.session = default_session(self.ids.session(), model, now_unix, lifetime)
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
        # Timers (see `timers.Timers`): the clock of the last `pop_due`, and when things fire.
        self.clock = 0.0
        self.expires_at: float | None = None
        self.idle_at: float | None = None
        self.idle_spent = False  # the idle timeout fired and no audio came since

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
