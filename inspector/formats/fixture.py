"""The fixtures' JSON Lines format (../shared/fixtures/openai-realtime/), import only.

One line per event: `{"direction","kind":"message"|"close","at"?,"data"}` where `data` is the
parsed event; the frame is rebuilt as `orjson.dumps(data)` (compact: the original spacing is not
in the file). A line without `at` keeps the previous line's time (0 at the start): we do not
invent latencies that were never measured, so a fixture without times shows every event at
+0 ms rather than at made-up offsets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from inspector.formats.common import (
    CLOSE_FIELDS,
    MAX_T_NS,
    FormatError,
    Lines,
    SessionImport,
    check_direction,
    check_frame_size,
    check_session_fields,
    parse_line,
)
from inspector.protocol import Opcode

if TYPE_CHECKING:  # the store loads sqlite3: detecting a file's format needs none of it
    from inspector.store import FrameIn

__all__ = ["read_fixture"]


def _fixture_t_ns(path: str, lineno: int, at: Any) -> int:
    """`at` (seconds) as nanoseconds, checked after rounding: 9223372036.854775807 s rounds to
    2**63 ns, one more than SQLite's INTEGER holds."""
    reason = "'at' must be a non-negative number of seconds, at most 9223372036.854775 (292 years)"
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        raise FormatError(path, lineno, reason)
    try:
        t_ns = round(at * 1e9)
    except (OverflowError, ValueError):  # inf, NaN, an integer too large for a float
        raise FormatError(path, lineno, reason) from None
    if not 0 <= t_ns <= MAX_T_NS:
        raise FormatError(path, lineno, reason)
    return t_ns


def read_fixture(path: str, first: dict[str, Any], lines: Lines) -> SessionImport:
    """A session from the fixture format; `first` is line 1, already parsed."""
    fields: dict[str, Any] = {"started_at": time.time(), "label": Path(path).stem}
    data = first.get("data")
    if isinstance(data, dict) and data.get("type") == "session.created":
        session = data.get("session")
        if isinstance(session, dict) and isinstance(session.get("model"), str):
            fields["model"] = session["model"]
    imp = SessionImport(path, "fixture", fields, iter(()))
    imp.frames = _fixture_frames(imp, first, lines)
    return imp


def _fixture_frames(imp: SessionImport, first: dict[str, Any], lines: Lines) -> Iterator[FrameIn]:
    from inspector.store import FrameIn  # see the TYPE_CHECKING import above

    path = imp.path
    t_ns = 0
    closed_at: int | None = None

    def all_lines() -> Iterator[tuple[int, Any]]:
        yield 1, first
        for lineno, line in lines:
            yield lineno, parse_line(path, lineno, line)

    for lineno, obj in all_lines():
        if not isinstance(obj, dict):
            raise FormatError(path, lineno, "expected a JSON object")
        if closed_at is not None:
            raise FormatError(path, lineno, f"nothing may follow the close line (line {closed_at})")
        direction = check_direction(path, lineno, obj.get("direction"))
        at = obj.get("at")
        if at is not None:
            t_ns = _fixture_t_ns(path, lineno, at)
        kind = obj.get("kind", "message")
        if kind == "close":
            given = obj.get("data")
            body = given if isinstance(given, dict) else obj
            close = {"close_code": body.get("code"), "close_reason": body.get("reason"), "close_side": direction.value}
            imp.trailer.update(check_session_fields(close, path, lineno, CLOSE_FIELDS))
            if at is not None:
                imp.trailer["ended_at"] = imp.fields["started_at"] + at
            closed_at = lineno
            continue
        if kind != "message":
            raise FormatError(path, lineno, f"kind must be 'message' or 'close', not {kind!r}")
        if "data" not in obj:
            raise FormatError(path, lineno, "a message line needs 'data' (the event)")
        data = orjson.dumps(obj["data"])
        check_frame_size(data, path, lineno)
        imp.frame_count += 1
        yield FrameIn(direction, t_ns, data.decode(), Opcode.TEXT)
