"""A cassette: a recording played back to a client that must send what the recording's client sent.

    recording, close = load_cassette("tests/cassettes/greeting.jsonl")
    session = CassetteSession(recording, close=close, match="content")   # a `server.SessionLike`
    ... run_mock(session_factory=lambda model: session) ...
    session.divergences, session.unconsumed                                # what went wrong

Playback is `playback.PlaybackSession`'s (the server frames before the first client frame at
connect, then after the n-th client frame what followed it in the recording, byte for byte), so a
cassette answers as `inspector mock --from-session` does. On top of it each client frame is
compared with the recording's n-th client frame (`inspector.diff.event_match`, the diff's
normalisation); a mismatch is kept as a `Divergence` and playback goes on by position. A frame
beyond the recording's last client frame is a divergence too. `unconsumed` counts the recorded
client frames the client never sent.

Pure like the playback session; `load_cassette` reads the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from inspector.diff.event_match import EventMatcher, MatchMode
from inspector.diff.fields import MISSING, FieldDiff
from inspector.mock.outbox import Close, Outgoing
from inspector.mock.playback import PlaybackSession, Recorded

__all__ = ["CassetteSession", "Divergence", "clip_frame", "load_cassette"]


@dataclass(frozen=True, slots=True)
class Divergence:
    """The client's `index`-th event (1-based) is not the cassette's: `expected` is None when the
    cassette holds no more client events."""

    index: int
    expected: str | bytes | None
    actual: str | bytes
    fields: tuple[FieldDiff, ...] = ()

    def describe(self, width: int = 240) -> str:
        """A few lines for a test failure: both events and each differing field."""
        if self.expected is None:
            return f"client event {self.index} is one more than the cassette holds\n  actual:   {clip_frame(self.actual, width)}"
        lines = [
            f"client event {self.index} differs from the cassette's",
            f"  expected: {clip_frame(self.expected, width)}",
            f"  actual:   {clip_frame(self.actual, width)}",
            "  differing fields (cassette → client):",
        ]
        for field in self.fields[:12]:
            a = "(absent)" if field.a is MISSING else clip_frame(repr(field.a), 100)
            b = "(absent)" if field.b is MISSING else clip_frame(repr(field.b), 100)
            lines.append(f"    {field.path}: {a} → {b}")
        if len(self.fields) > 12:
            lines.append(f"    … and {len(self.fields) - 12} more")
        return "\n".join(lines)


def clip_frame(frame: str | bytes, width: int = 240) -> str:
    """A frame as one line of at most `width` characters (binary frames by their size)."""
    text = f"<binary frame, {len(frame)} B>" if isinstance(frame, bytes) else frame
    return text if len(text) <= width else f"{text[: width - 1]}… ({len(text):,} chars)"


class CassetteSession:
    """Plays a recording back and checks the client's frames against it (`match` "off": no
    checks). Driven by the mock's shell like `MockSession`."""

    def __init__(
        self,
        recording: Sequence[Recorded],
        *,
        close: Close | None = None,
        match: MatchMode | Literal["off"] = "content",
        gaps: bool = False,
    ) -> None:
        self.playback = PlaybackSession(recording, gaps=gaps, close=close)
        self.expected = [r.frame for r in recording if r.direction == "client"]
        self.match = match
        self.matcher = None if match == "off" else EventMatcher(match)
        self.divergences: list[Divergence] = []

    @property
    def received(self) -> int:
        return self.playback.received

    @property
    def unconsumed(self) -> int:
        """Recorded client frames the client has not sent (yet)."""
        return max(0, len(self.expected) - self.received)

    def connect(self, now: float) -> None:
        self.playback.connect(now)
        self._share(0)

    def receive(self, frame: str | bytes, now: float) -> None:
        index = self.received  # 0-based: the recording's client frame this one answers to
        if self.matcher is not None:
            if index >= len(self.expected):
                self.divergences.append(Divergence(index + 1, None, frame))
            else:
                fields = self.matcher.compare(self.expected[index], frame)
                if fields:
                    self.divergences.append(Divergence(index + 1, self.expected[index], frame, tuple(fields)))
        self.playback.receive(frame, now)
        self._share(index + 1)

    def _share(self, segment: int) -> None:
        if self.matcher is not None and segment < len(self.playback.segments):
            for record in self.playback.segments[segment].frames:
                self.matcher.shared(record.frame)

    def next_due(self) -> float | None:
        return self.playback.next_due()

    def pop_due(self, now: float, limit: int | None = None) -> list[Outgoing]:
        return self.playback.pop_due(now, limit)


def load_cassette(path: str | os.PathLike[str]) -> tuple[list[Recorded], Close | None]:
    """The first session of a recording file (our JSON Lines, the fixture format, HAR) and its
    close when the server closed it. Raises `inspector.formats.FormatError` or `OSError`."""
    from inspector.formats import read_sessions

    for imported in read_sessions(path):
        recording = [Recorded(f.direction.value, f.t_ns / 1e9, f.data) for f in imported.frames]
        fields = {**imported.fields, **imported.trailer}
        close = None
        if fields.get("close_side") == "server" and fields.get("close_code") is not None:
            close = Close(fields["close_code"], fields.get("close_reason") or "")
        return recording, close
    return [], None
