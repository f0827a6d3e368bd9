"""Ids, event ids and `obfuscation` strings in the shapes the real service sends.

Everything comes from one `random.Random`, so a seeded mock produces the same ids every run.
"""

from __future__ import annotations

import random
import string

__all__ = ["IdFactory"]

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


class IdFactory:
    """Makes `event_`/`item_`/`resp_`/`sess_`/`conv_` + 21 base62 ids and `call_` + 16."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _chars(self, n: int) -> str:
        return "".join(self.rng.choices(BASE62, k=n))

    def event(self) -> str:
        return "event_" + self._chars(21)

    def item(self) -> str:
        return "item_" + self._chars(21)

    def response(self) -> str:
        return "resp_" + self._chars(21)

    def session(self) -> str:
        return "sess_" + self._chars(21)

    def conversation(self) -> str:
        return "conv_" + self._chars(21)

    def call(self) -> str:
        return "call_" + self._chars(16)

    def rtc_call(self) -> str:
        # A WebRTC call's id (the `Location` of `POST /v1/realtime/calls`), not a tool call's.
        return "rtc_" + self._chars(32)

    def obfuscation(self, delta: str) -> str:
        # Recorded deltas are padded to 16 characters by their obfuscation ("Hi" gets 14,
        # " degrees" gets 8), which hides token lengths from a traffic observer.
        n = 16 - len(delta) if len(delta) < 16 else self.rng.randint(1, 8)
        return self._chars(max(n, 1))
