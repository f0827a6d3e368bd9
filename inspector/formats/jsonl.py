"""Our JSON Lines interchange format (`realtime-inspector/1`): exact, round-trips.

One JSON object a line:

    {"format":"realtime-inspector/1","frames":3,"session":{"started_at":1732440000.25,...}}
    {"direction":"server","t_ns":0,"opcode":"text","text":"{\"type\":\"session.created\",...}"}
    {"direction":"client","t_ns":1250000,"opcode":"binary","base64":"AAEC"}
    {"close":{"code":1000,"reason":"","side":"client"}}

`text` is the exact frame as received (a JSON string holding JSON text, so spacing and key order
survive); binary frames are base64. `frames` lets an import notice a file cut at a line boundary.
The close line appears when the session has close information.

The fixtures' JSON Lines format (import only) is in `inspector.formats.fixture`.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

import orjson

from inspector.formats.common import (
    CLOSE_FIELDS,
    EXPORTED_FIELDS,
    FORMAT_NAME,
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
    from inspector.store import Event, FrameIn, Store

__all__ = ["JSONL_FIELDS", "close_record", "export_jsonl", "frame_record", "read_interchange", "session_header"]

# What a session header carries: the exported metadata, and how many frames the recording lost
# (`unrecorded_frames`, only when some were: an import must not make a lossy session look whole).
JSONL_FIELDS: dict[str, tuple[type, ...]] = {**EXPORTED_FIELDS, "unrecorded_frames": (int,)}


def session_header(store: Store, session_id: int, frames: int | None = None) -> dict[str, Any]:
    """The header object: format name, frame count (the session's, or `frames` for an export of
    some of its frames) and the exported metadata."""
    info = store.session(session_id)
    session = {name: getattr(info, name) for name in JSONL_FIELDS}
    session = {k: v for k, v in session.items() if v not in (None, []) and (k != "unrecorded_frames" or v)}
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


def read_interchange(path: str, header: dict[str, Any], lines: Lines) -> SessionImport:
    """A session from our own format; `lines` continues after the header (line 1)."""
    if header.get("format") != FORMAT_NAME:
        raise FormatError(path, 1, f"unsupported format {header.get('format')!r} (this version reads {FORMAT_NAME})")
    meta = header.get("session")
    if not isinstance(meta, dict):
        raise FormatError(path, 1, "the header has no 'session' object")
    fields = check_session_fields(meta, path, 1, JSONL_FIELDS)
    if fields.get("unrecorded_frames", 0) < 0:
        raise FormatError(path, 1, "session field 'unrecorded_frames' must be a non-negative integer")
    fields.setdefault("started_at", time.time())
    expected = header.get("frames")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int) or expected < 0):
        raise FormatError(path, 1, "'frames' must be a non-negative integer")
    imp = SessionImport(path, "jsonl", fields, iter(()))
    imp.frames = _interchange_frames(imp, expected, lines)
    return imp


def _interchange_frames(imp: SessionImport, expected: int | None, lines: Lines) -> Iterator[FrameIn]:
    from inspector.store import FrameIn  # see the TYPE_CHECKING import above

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
        direction = check_direction(path, lineno, obj.get("direction"))
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
