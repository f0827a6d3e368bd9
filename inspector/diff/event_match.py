"""Compare a client's events with a recording's, one pair at a time, as they arrive.

    matcher = EventMatcher("content")
    matcher.shared(server_frame)                    # a frame both sides have seen (played back)
    fields = matcher.compare(expected, actual)      # [] when they match

The pytest plugin's cassettes use it: each client event is checked against the cassette's next
client event the moment it arrives, with the diff's normalisation (`normalise.Normaliser` in
content mode: event ids, obfuscation and the default ignored paths left out, audio compared by
its decoded length, generated ids as placeholders numbered in order of first appearance). Each
side has its own normaliser, fed the same shared frames, so that `<call 1>` means the same call
on both sides.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from inspector.diff.fields import FieldDiff, field_diffs
from inspector.diff.normalise import DiffOptions, Mode, Normaliser
from inspector.protocol import ga_type

__all__ = ["MATCH_MODES", "EventMatcher", "MatchMode", "parse_frame"]

MatchMode = Literal["content", "types"]
MATCH_MODES: tuple[str, ...] = ("content", "types", "off")


def parse_frame(frame: str | bytes) -> tuple[str | None, Any]:
    """(type, parsed JSON) of a text frame; (None, None) when it is binary or not JSON."""
    if isinstance(frame, bytes):
        return None, None
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None, None
    event_type = data.get("type") if isinstance(data, dict) else None
    return (event_type if isinstance(event_type, str) else None), data


class EventMatcher:
    """Compares pairs of events of one recorded session (expected) and one live one (actual)."""

    def __init__(self, mode: MatchMode = "content", options: DiffOptions | None = None) -> None:
        self.mode = mode
        options = options or DiffOptions(mode=Mode.CONTENT)
        self._expected = Normaliser(options)
        self._actual = Normaliser(options)

    def shared(self, frame: str | bytes) -> None:
        """A frame both sides saw (a server event played back): ids in it get the same number
        on both sides."""
        if self.mode == "content":
            event_type, data = parse_frame(frame)
            self._expected.event(event_type, data, frame)
            self._actual.event(event_type, data, frame)

    def compare(self, expected: str | bytes, actual: str | bytes) -> list[FieldDiff]:
        """The differing fields of two events (expected as `a`, actual as `b`); [] if equal."""
        expected_type, expected_data = parse_frame(expected)
        actual_type, actual_data = parse_frame(actual)
        if self.mode == "types":
            a = ga_type(expected_type) if expected_type else None
            b = ga_type(actual_type) if actual_type else None
            return [] if a == b else [FieldDiff("$.type", a, b)]
        return field_diffs(
            self._expected.event(expected_type, expected_data, expected),
            self._actual.event(actual_type, actual_data, actual),
        )
