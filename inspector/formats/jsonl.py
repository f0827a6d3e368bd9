"""JSON Lines: our interchange format (exact, round-trips) and the fixtures' format (import only).

Interchange (`realtime-inspector/1`), one JSON object a line:

    {"format":"realtime-inspector/1","frames":3,"session":{"started_at":1732440000.25,...}}
    {"direction":"server","t_ns":0,"opcode":"text","text":"{\"type\":\"session.created\",...}"}
    {"direction":"client","t_ns":1250000,"opcode":"binary","base64":"AAEC"}
    {"close":{"code":1000,"reason":"","side":"client"}}

`text` is the exact frame as received (a JSON string holding JSON text, so spacing and key order
survive); binary frames are base64. `frames` lets an import notice a file cut at a line boundary.
The close line appears when the session has close information.

Fixture format (../shared/fixtures/openai-realtime/): `{"direction","kind":"message"|"close",
"at"?,"data"}` where `data` is the parsed event; the frame is rebuilt as `orjson.dumps(data)`
(compact: the original spacing is not in the file). A line without `at` keeps the previous line's
time (0 at the start): we do not invent latencies that were never measured, so a fixture without
times shows every event at +0 ms rather than at made-up offsets.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from inspector.formats.common import (
    CLOSE_FIELDS,
    EXPORTED_FIELDS,
    FORMAT_NAME,
    MAX_T_NS,
    FormatError,
    SessionImport,
    check_frame_size,
    check_session_fields,
)
from inspector.protocol import Direction, Opcode
from inspector.store import Event, FrameIn, Store

__all__ = ["export_jsonl", "frame_record", "read_fixture", "read_interchange", "session_header"]

Lines = Iterator[tuple[int, bytes]]


def session_header(store: Store, session_id: int, frames: int | None = None) -> dict[str, Any]:
    """The header object: format name, frame count (the session's, or `frames` for an export of
    some of its frames) and the exported metadata."""
    info = store.session(session_id)
    session = {name: getattr(info, name) for name in EXPORTED_FIELDS}
    session = {k: v for k, v in session.items() if v not in (None, [])}
    # Where it came from, for the reader's information; an import records source "import".
    session["source"] = info.source
    count = store.count(session_id) if frames is None else frames
    return {"format": FORMAT_NAME, "frames": count, "session": session}


def close_record(store: Store, session_id: int) -> dict[str, Any] | None:
    info = store.session(session_id)
    close = {"code": info.close_code, "reason": info.close_reason, "side": info.close_side}
    close = {k: v for k, v in close.items() if v is not None}
    return close or None


def frame_record(ev: Event) -> dict[str, Any]:
    """One frame line: direction, time since the start, and the exact frame (base64 if binary)."""
    line: dict[str, Any] = {"direction": ev.direction.value, "t_ns": ev.t_ns}
    if ev.opcode == Opcode.BINARY:
        frame = ev.frame if isinstance(ev.frame, bytes) else str(ev.frame).encode()
        line.update(opcode="binary", base64=base64.b64encode(frame).decode())
    else:
        line.update(opcode="text", text=ev.frame)
    return line


def export_jsonl(store: Store, session_id: int, out: IO[bytes], seqs: Sequence[int] | None = None) -> int:
    """Write one session as interchange JSON Lines; returns the number of frames written.

    With `seqs` (ascending event numbers, e.g. a filter's matches), only those frames are written,
    under the same header with `frames` set to their number: the file imports as a session
    holding just them, at their original times."""
    header = session_header(store, session_id, None if seqs is None else len(seqs))
    out.write(orjson.dumps(header) + b"\n")
    if seqs is None:
        # Up to the count in the header: a session still being recorded keeps growing meanwhile.
        events: Iterable[Event] = store.events(session_id, last_seq=header["frames"], with_frames=True)
    else:
        events = (store.event(session_id, seq, with_frame=True) for seq in seqs)
    count = 0
    for ev in events:
        out.write(orjson.dumps(frame_record(ev)) + b"\n")
        count += 1
    close = close_record(store, session_id)
    if close:
        out.write(orjson.dumps({"close": close}) + b"\n")
    return count


# -- reading ----------------------------------------------------------------------------------


def parse_line(path: str, lineno: int, line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        reason = str(exc).split(":", 1)[0]
        if not line.endswith(b"\n"):
            reason += " (the file looks truncated: its last line is incomplete)"
        raise FormatError(path, lineno, f"invalid JSON: {reason}") from None


def _direction(path: str, lineno: int, value: Any) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        raise FormatError(path, lineno, f"direction must be 'client' or 'server', not {value!r}") from None


def read_interchange(path: str, header: dict[str, Any], lines: Lines) -> SessionImport:
    """A session from our own format; `lines` continues after the header (line 1)."""
    if header.get("format") != FORMAT_NAME:
        raise FormatError(path, 1, f"unsupported format {header.get('format')!r} (this version reads {FORMAT_NAME})")
    meta = header.get("session")
    if not isinstance(meta, dict):
        raise FormatError(path, 1, "the header has no 'session' object")
    fields = check_session_fields(meta, path, 1, EXPORTED_FIELDS)
    fields.setdefault("started_at", time.time())
    expected = header.get("frames")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int) or expected < 0):
        raise FormatError(path, 1, "'frames' must be a non-negative integer")
    imp = SessionImport(path, "jsonl", fields, iter(()))
    imp.frames = _interchange_frames(imp, expected, lines)
    return imp


def _interchange_frames(imp: SessionImport, expected: int | None, lines: Lines) -> Iterator[FrameIn]:
    path = imp.path
    closed_at: int | None = None
    last = 1
    for lineno, line in lines:
        last = lineno
        obj = parse_line(path, lineno, line)
        if not isinstance(obj, dict):
            raise FormatError(path, lineno, "expected a JSON object")
        if closed_at is not None:
            raise FormatError(path, lineno, f"nothing may follow the close line (line {closed_at})")
        if "close" in obj:
            close = obj["close"]
            if not isinstance(close, dict):
                raise FormatError(path, lineno, "'close' must be an object")
            renamed = {f"close_{k}": v for k, v in close.items()}
            imp.trailer.update(check_session_fields(renamed, path, lineno, CLOSE_FIELDS))
            closed_at = lineno
            continue
        direction = _direction(path, lineno, obj.get("direction"))
        t_ns = obj.get("t_ns")
        if isinstance(t_ns, bool) or not isinstance(t_ns, int) or not 0 <= t_ns <= MAX_T_NS:
            raise FormatError(path, lineno, "t_ns must be a non-negative integer (nanoseconds since the session start)")
        opcode = obj.get("opcode", "text")
        if opcode == "text":
            text = obj.get("text")
            if not isinstance(text, str):
                raise FormatError(path, lineno, "a text frame needs a string 'text'")
            frame = FrameIn(direction, t_ns, text, Opcode.TEXT)
        elif opcode == "binary":
            b64 = obj.get("base64")
            try:
                if not isinstance(b64, str):
                    raise ValueError
                data = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                raise FormatError(path, lineno, "a binary frame needs valid base64 in 'base64'") from None
            frame = FrameIn(direction, t_ns, data, Opcode.BINARY)
        else:
            raise FormatError(path, lineno, f"opcode must be 'text' or 'binary', not {opcode!r}")
        check_frame_size(frame.data, path, lineno)
        imp.frame_count += 1
        yield frame
    if expected is not None and imp.frame_count != expected:
        raise FormatError(
            path, last, f"truncated: the header promises {expected} frames but the file holds {imp.frame_count}"
        )


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
        direction = _direction(path, lineno, obj.get("direction"))
        at = obj.get("at")
        if at is not None:
            t_ns = _fixture_t_ns(path, lineno, at)
        kind = obj.get("kind", "message")
        if kind == "close":
            data = obj.get("data") if isinstance(obj.get("data"), dict) else obj
            close = {"close_code": data.get("code"), "close_reason": data.get("reason"), "close_side": direction.value}
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
