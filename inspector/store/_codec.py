"""How values are laid out in rows: ids, the `events` and `frames` rows (audio stored decoded),
and the `sessions` row (its metadata redacted).

Private to the store package: nothing outside it knows that an event's id packs its session and
seq (`session_id << SEQ_BITS | seq`), nor how a frame is cut into rows.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from inspector.protocol import AUDIO_FIELDS, Direction, Opcode, audio_summary, describe_frame, locators
from inspector.redaction import (
    redact_bytes,
    redact_headers,
    redact_message,
    redact_subprotocols,
    redact_text,
    redact_url,
)
from inspector.store.schema import SEQ_BITS
from inspector.store.values import SESSION_COLUMNS, Event, FrameIn, SessionInfo, SessionStatus

_DIRS = (Direction.CLIENT, Direction.SERVER)
SEQ_MASK = (1 << SEQ_BITS) - 1


def event_key(session_id: int, seq: int) -> int:
    return (session_id << SEQ_BITS) | seq


def seq_of(key: int) -> int:
    return key & SEQ_MASK


def key_range(session_id: int, first: int = 0, last: int | None = None) -> tuple[int, int]:
    """The ids of a session's events with first <= seq <= last (all of them by default)."""
    top = SEQ_MASK if last is None else min(last, SEQ_MASK)
    return event_key(session_id, min(max(first, 0), SEQ_MASK + 1)), event_key(session_id, max(top, 0))


class EventRow(NamedTuple):
    """One `events` row, in column order (so `executemany` takes it as it is)."""

    id: int
    dir: int  # 0 client, 1 server
    t_ns: int
    opcode: int
    size: int
    type: str | None
    event_id: str | None
    item_id: str | None
    response_id: str | None
    call_id: str | None
    problem: str | None
    is_error: int
    summary: str | None


class FrameRow(NamedTuple):
    """One `frames` row: the body, with the audio cut out and stored decoded when possible."""

    id: int
    body: str | bytes
    audio: bytes | None = None
    audio_at: int | None = None


EVENT_SELECT = (
    "SELECT e.id, e.dir, e.t_ns, e.opcode, e.size, e.type, e.event_id, e.item_id, "
    "e.response_id, e.call_id, e.problem, e.is_error, e.summary"
)


_OPCODES = {int(op): op for op in Opcode}  # Opcode(n) through the enum machinery costs ~0.5 µs a row


def event_from_row(row: Sequence[Any], *, audio_length: bool = False) -> Event:
    """An `Event` from `EVENT_SELECT`'s columns, plus a `frames` row's last three when joined.
    With `audio_length` the middle one is the audio's length, not the audio: audio stored apart
    is neither read nor re-encoded, the frame keeps its audio field empty and `audio_size` says
    how many bytes were cut out (see `Store.page`)."""
    key = row[0]
    frame: str | bytes | None = None
    audio_size: int | None = None
    if len(row) > 13:
        body, audio, at = row[13], row[14], row[15]
        if audio_length:
            frame = body
            if audio is not None and at is not None:  # always on a text body (`_split_audio`)
                audio_size = audio
        else:
            frame = join_frame(body, audio, at)
    opcode = _OPCODES.get(row[3]) or Opcode(row[3])
    # Positional, in field order: keywords cost a third more on the million-row reads of a diff.
    return Event(
        key >> SEQ_BITS, key & SEQ_MASK, _DIRS[row[1]], row[2], opcode, row[4], row[5], row[6], row[7], row[8],
        row[9], row[10], bool(row[11]), row[12], frame, audio_size,
    )  # fmt: skip


def frame_size(data: str | bytes) -> int:
    """Bytes on the wire of a frame's payload; cheap for ASCII text (the usual case)."""
    if isinstance(data, bytes):
        return len(data)
    return len(data) if data.isascii() else len(data.encode())


def event_rows(session_id: int, seq: int, frame: FrameIn) -> tuple[EventRow, FrameRow]:
    """The `events` and `frames` rows for one frame. Secrets are redacted here, the one place
    every writer (tap, import, replay) passes through before anything reaches disk."""
    opcode = frame.opcode if frame.opcode is not None else Opcode.TEXT  # FrameIn always sets it
    data = redact_text(frame.data) if isinstance(frame.data, str) else redact_bytes(frame.data)
    info = describe_frame(data, opcode)
    key = event_key(session_id, seq)
    body = FrameRow(key, data)
    if info.audio and isinstance(data, str):
        body = _split_audio(key, data, info.audio) or body
    event = EventRow(
        key,
        0 if frame.direction == Direction.CLIENT else 1,
        frame.t_ns,
        int(opcode),
        frame_size(frame.data),
        info.type,
        info.event_id,
        info.item_id,
        info.response_id,
        info.call_id,
        info.problem.value if info.problem else None,
        int(info.is_error),
        # The summary is read from the parsed frame: redacted again in case an escape hid a key
        # from the raw text's scan (short, so cheap).
        redact_text(info.summary) if info.summary else None,
    )
    return event, body


def frame_rows(session_id: int, seq: int, is_server: int, t_ns: int, data: str | bytes) -> tuple[EventRow, FrameRow]:
    """`event_rows` for a frame as the tap's writer gets it. Audio appends and deltas, most of a
    session's frames, take a shorter way to the same rows: only the small JSON around the audio
    is parsed and scanned for secrets, and the base64 is checked without encoding it again."""
    direction = _DIRS[is_server]
    if isinstance(data, str):
        rows = _audio_rows(session_id, seq, direction, t_ns, data)
        if rows is not None:
            return rows
    return event_rows(session_id, seq, FrameIn(direction, t_ns, data))


# An audio event's type → its audio field and how that field's value starts in the text.
_AUDIO_MARKERS = {kind: (field, f'"{field}":"') for kind, field in AUDIO_FIELDS.items()}
_TYPE_MARKER = '"type":"'
_B64_VALUES = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_SHORTEST_AUDIO = 64  # base64 characters; shorter audio goes the general way


def _audio_rows(
    session_id: int, seq: int, direction: Direction, t_ns: int, data: str
) -> tuple[EventRow, FrameRow] | None:
    """The rows of an audio frame whose audio field is written plainly (`"audio":"<base64>"`,
    once, canonical base64), or None. The cut-out base64 can hold no secret (no '-', '_' or
    '\\'), so redacting and parsing what is around it gives what the whole frame would."""
    # The marker of the type the text names first (at its start in what clients and the API
    # send): searching a delta for `"audio":"` first read its whole 1.4 KB for nothing. A
    # first "type" that is not the top-level one is caught by the check of the parsed frame.
    at = data.find(_TYPE_MARKER)
    if at < 0:
        return None
    at += len(_TYPE_MARKER)
    candidate = _AUDIO_MARKERS.get(data[at : data.find('"', at)])
    if candidate is None:
        return None
    field, marker = candidate
    found = data.find(marker)
    if found < 0:
        return None
    start = found + len(marker)
    end = data.find('"', start)
    if end - start < _SHORTEST_AUDIO:
        return None
    b64, before, after = data[start:end], data[:start], data[end:]
    # Once only, and nowhere else verbatim: the general way would then keep the frame whole.
    if marker in after or b64 in before or b64 in after:
        return None
    raw = _canonical_b64decode(b64)
    if raw is None:
        return None
    rest = before + after
    if redact_text(rest) != rest:
        return None  # a secret beside the audio: the general way redacts and places the cut
    try:
        parsed = orjson.loads(rest)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict) or parsed.get(field) != "" or AUDIO_FIELDS.get(str(parsed.get("type"))) != field:
        return None  # not an audio event, or the cut value was not its top-level audio field
    # What `describe_frame` says of an audio event (never an error, never a problem), for less.
    event_id, item_id, response_id, call_id = locators(parsed)
    key = event_key(session_id, seq)
    # Positional, and without NamedTuple's constructor (Python code): ~1 µs a frame.
    event = _new_event((
        key, 0 if direction == Direction.CLIENT else 1, t_ns, _TEXT, frame_size(data), parsed["type"], event_id,
        item_id, response_id, call_id, None, 0, _audio_summary(len(raw), b64),
    ))  # fmt: skip
    return event, _new_body((key, rest, raw, start))


_TEXT = int(Opcode.TEXT)
_SUMMARIES: dict[int, str] = {}


def _new_event(values: tuple[Any, ...]) -> EventRow:
    return tuple.__new__(EventRow, values)


def _new_body(values: tuple[Any, ...]) -> FrameRow:
    return tuple.__new__(FrameRow, values)


def _audio_summary(size: int, b64: str) -> str:
    """`audio_summary` of canonical base64 of `size` bytes: it depends on the size alone."""
    summary = _SUMMARIES.get(size)
    if summary is None:
        summary = audio_summary(b64)
        if len(_SUMMARIES) < 1024:  # a few chunk sizes in practice; a bound all the same
            _SUMMARIES[size] = summary
    return summary


def _canonical_b64decode(b64: str) -> bytes | None:
    """The bytes of canonical base64 (what `b64encode` gives back exactly), else None."""
    if len(b64) % 4:
        return None
    try:
        raw = binascii.a2b_base64(b64, strict_mode=True)  # = b64decode(validate=True), less Python
    except (binascii.Error, ValueError):  # ValueError: not ASCII
        return None
    # Canonical: the bits after the last byte, in the last character before the padding, are 0.
    if b64.endswith("=="):
        return raw if not _B64_VALUES[b64[-3]] & 0x0F else None
    if b64.endswith("="):
        return raw if not _B64_VALUES[b64[-2]] & 0x03 else None
    return raw


def _split_audio(key: int, text: str, b64: str) -> FrameRow | None:
    """Frame row with the audio stored decoded, or None when that would not be byte-exact
    (escaped slashes, non-canonical base64, the value appearing twice)."""
    at = text.find(b64)
    if at < 0 or text.find(b64, at + 1) >= 0:
        return None
    raw = _canonical_b64decode(b64)
    if raw is None:
        return None
    return FrameRow(key, text[:at] + text[at + len(b64) :], raw, at)


def join_frame(body: str | bytes, audio: bytes | None, at: int | None) -> str | bytes:
    """The exact frame from a `frames` row (see `_split_audio`)."""
    if audio is None or at is None or not isinstance(body, str):
        return body
    return body[:at] + base64.b64encode(audio).decode() + body[at:]


# -- sessions ----------------------------------------------------------------------------------

_JSON_COLUMNS = ("offered_subprotocols", "request_headers")
# Session fields that are free text: scanned for key-shaped secrets before they are written.
_TEXT_COLUMNS = (
    "user_agent",
    "error",
    "close_reason",
    "label",
    "path",
    "model",
    "client_addr",
    "close_side",
    "source",
)


# What a session row keeps of the handshake's headers: a client may send ~128 headers of 8 KB
# (websockets' limits), which once made a 960 KB row that every session list read.
HEADER_NAME_CAP = 256
HEADER_VALUE_CAP = 1024
HEADERS_TOTAL_CAP = 16 * 1024
TRUNCATED_HEADER = "X-Inspector-Truncated"


def _cut(text: str, cap: int) -> str:
    return text if len(text) <= cap else f"{text[:cap]}…[{len(text) - cap} more characters not stored]"


def cap_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers cut to `HEADER_VALUE_CAP` characters each and `HEADERS_TOTAL_CAP` in all (later
    ones dropped); when anything was cut, a last `X-Inspector-Truncated` header says what."""
    kept: list[tuple[str, str]] = []
    total = cut = 0
    for name, value in headers:
        short = (_cut(name, HEADER_NAME_CAP), _cut(value, HEADER_VALUE_CAP))
        if total + len(short[0]) + len(short[1]) > HEADERS_TOTAL_CAP:
            break
        cut += short != (name, value)
        total += len(short[0]) + len(short[1])
        kept.append(short)
    dropped = len(headers) - len(kept)
    if cut or dropped:
        note = f"{len(kept)} of {len(headers)} headers stored, {cut} of them cut to {HEADER_VALUE_CAP} characters"
        kept.append((TRUNCATED_HEADER, note))
    return kept


def session_from_row(row: dict[str, Any]) -> SessionInfo:
    values = {k: row[k] for k in SESSION_COLUMNS if k in row}
    for name in _JSON_COLUMNS:
        values[name] = orjson.loads(values[name]) if values.get(name) else []
    values["status"] = SessionStatus.read(values["status"])
    return SessionInfo(**values)


def session_row(fields_: dict[str, Any]) -> dict[str, Any]:
    """A session's fields as column values, redacted: metadata is redacted here so that no caller
    can forget to."""
    unknown = set(fields_) - set(SESSION_COLUMNS)
    if unknown:
        raise ValueError(f"unknown session fields: {sorted(unknown)}")
    out = dict(fields_)
    if isinstance(out.get("status"), SessionStatus):
        out["status"] = out["status"].value  # stored as the plain text it always was
    # Metadata is redacted here so that no caller can forget to.
    if out.get("target_url"):
        out["target_url"] = redact_url(out["target_url"])
    if out.get("query"):
        out["query"] = redact_url("?" + out["query"])[1:]
    if out.get("subprotocol"):
        out["subprotocol"] = redact_subprotocols([out["subprotocol"]])[0]
    if "offered_subprotocols" in out:
        out["offered_subprotocols"] = orjson.dumps(
            redact_subprotocols(list(out["offered_subprotocols"] or []))
        ).decode()
    if "request_headers" in out:
        pairs = [(str(k), str(v)) for k, v in out["request_headers"] or []]
        out["request_headers"] = orjson.dumps(cap_headers(redact_headers(pairs))).decode()
    for key in (*_TEXT_COLUMNS, "status"):
        if isinstance(out.get(key), str):
            # Free text: an error or close reason may quote a URL with its query or a frame.
            out[key] = redact_message(out[key])
    if isinstance(out.get("user_agent"), str):  # a copy of a header: capped as they are
        out["user_agent"] = _cut(out["user_agent"], HEADER_VALUE_CAP)
    return out
