"""The timeline of what a mock session still has to send, and when.

Sans-I/O: the state machine puts events in with a delay, the socket shell takes out what is due.
Because events leave only through `pop_due`, the state machine knows exactly what the client has
seen, which is what a cancel needs ("close the parts that were opened").
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Close", "Outbox", "Outgoing"]


@dataclass(frozen=True, slots=True)
class Close:
    """Close the WebSocket with this code after what was sent before it."""

    code: int
    reason: str = ""


# A server event (serialized by the shell), a frame already serialized (playback), or a close.
Outgoing = dict[str, Any] | str | Close


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    payload: Outgoing = field(compare=False)
    tag: str | None = field(default=None, compare=False)
    on_sent: Callable[[Outgoing], None] | None = field(default=None, compare=False)


_FIRST = 1 << 62  # `first` entries sort before every ordinary one due at the same time


class Outbox:
    """Events ordered by due time; each new event comes after all those scheduled before it
    (the service answers in order) unless it is `urgent` or `detached`."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._seq = 0
        self._last_due = 0.0

    def put(
        self,
        payload: Outgoing,
        now: float,
        delay: float = 0.0,
        *,
        tag: str | None = None,
        urgent: bool = False,
        detached: bool = False,
        first: bool = False,
        on_sent: Callable[[Outgoing], None] | None = None,
    ) -> None:
        """`urgent`: due after `delay` whatever is pending. `detached`: after what is pending,
        but without holding back what comes later (work running beside the main flow).
        `first`: before everything already due (an error answers its client event at once, even
        amid a response that is due all at once, as with no latency)."""
        due = now + delay if urgent or first else max(now + delay, self._last_due)
        if not (urgent or detached or first):
            self._last_due = due
        self._seq += 1
        seq = self._seq
        if first and self._entries and self._entries[0].due <= due:
            due, seq = self._entries[0].due, self._seq - _FIRST
        bisect.insort(self._entries, _Entry(due, seq, payload, tag, on_sent))

    def next_due(self) -> float | None:
        return self._entries[0].due if self._entries else None

    def pop_due(self, now: float, limit: int | None = None) -> list[Outgoing]:
        """Take out everything due at `now` (at most `limit`), in order, running each event's
        `on_sent`."""
        out: list[Outgoing] = []
        while self._entries and self._entries[0].due <= now and (limit is None or len(out) < limit):
            entry = self._entries.pop(0)
            if entry.on_sent:
                entry.on_sent(entry.payload)
            out.append(entry.payload)
        return out

    def pop_all(self, now: float) -> list[tuple[float, Outgoing]]:
        """Everything still pending as (delay from `now`, payload): for callers that send it all."""
        out: list[tuple[float, Outgoing]] = []
        while self._entries:
            entry = self._entries[0]
            out.extend((max(0.0, entry.due - now), p) for p in self.pop_due(entry.due))
        return out

    def revoke(self, tag: str, now: float) -> int:
        """Drop the pending events with `tag` (a cancelled response's rest); returns how many."""
        kept = [e for e in self._entries if e.tag != tag]
        dropped = len(self._entries) - len(kept)
        self._entries = kept
        self._last_due = max([now] + [e.due for e in kept])
        return dropped
