"""HAR: the WebSocket messages Chrome DevTools saves ("Save all as HAR with content"), both ways.

Chrome keeps a WebSocket connection as one `log.entries[]` item whose `_webSocketMessages` list
holds `{"type": "send"|"receive", "time": <unix seconds>, "opcode": 1|2, "data": <text or
base64>}`. Each such entry imports as one session; the URL, request headers and offered
subprotocols come from the entry's request (the store redacts them, including the browser's
`openai-insecure-api-key.<key>` subprotocol inside the raw header value).

An export is a HAR 1.2 log with one entry per session that browser tools open. Two private
fields (HAR allows `_`-prefixed extensions) make a re-import exact: `_t_ns` on each message
(`time` is a float of unix seconds, which cannot hold nanoseconds) and `_inspector` on the entry
(the session's metadata and close information, as in the JSON Lines header).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import time
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from inspector import __version__
from inspector.formats.common import (
    CLOSE_FIELDS,
    EXPORTED_FIELDS,
    MAX_T_NS,
    MAX_TIMESTAMP,
    FormatError,
    SessionImport,
    check_frame_size,
    check_session_fields,
    check_timestamp,
)
from inspector.formats.jsonl import close_record, session_header
from inspector.protocol import Direction, Opcode, model_from_query
from inspector.store.values import SessionStatus

if TYPE_CHECKING:  # the store loads sqlite3: detecting a file's format needs none of it
    from inspector.store import Store

__all__ = ["export_har", "is_websocket_entry", "read_har"]

_TYPES = {"send": Direction.CLIENT, "receive": Direction.SERVER}
_CONTROL_OPCODES = {8, 9, 10}  # close, ping, pong: not data frames, nothing to import
_SUBPROTOCOL_HEADER = "sec-websocket-protocol"


def is_websocket_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and (
        isinstance(entry.get("_webSocketMessages"), list) or entry.get("_resourceType") == "websocket"
    )


# -- import -----------------------------------------------------------------------------------


def read_har(path: str, doc: Any) -> list[SessionImport]:
    """One `SessionImport` per WebSocket entry of a parsed HAR document."""
    log = doc.get("log") if isinstance(doc, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise FormatError(path, "log.entries", "not a HAR file: no log.entries list")
    imports = []
    for index, entry in enumerate(log["entries"]):
        if is_websocket_entry(entry):
            imports.append(_read_entry(path, f"log.entries[{index}]", entry))
    if not imports:
        raise FormatError(
            path,
            None,
            f"no WebSocket entries among its {len(log['entries'])} entries (in Chrome DevTools, "
            "keep the Network panel open while the socket runs, then 'Save all as HAR with content')",
        )
    return imports


def _pairs(path: str, where: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("value"), str) for h in value
    ):
        raise FormatError(path, where, "headers must be a list of {name, value} strings")
    return [(h["name"], h["value"]) for h in value]


def _subprotocols(headers: list[tuple[str, str]]) -> list[str]:
    return [
        proto.strip()
        for name, value in headers
        if name.lower() == _SUBPROTOCOL_HEADER
        for proto in value.split(",")
        if proto.strip()
    ]


def _started_at(path: str, where: str, entry: dict[str, Any]) -> float | None:
    text = entry.get("startedDateTime")
    if text is None:
        return None
    try:
        started = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise FormatError(path, f"{where}.startedDateTime", f"not an ISO 8601 date: {text!r}") from None
    check_timestamp(started, path, f"{where}.startedDateTime", "startedDateTime")
    return started


def _ended_at(entry: dict[str, Any], opened: float, last_message: float) -> float | None:
    """When the socket closed, from the entry's `time` (milliseconds it was open, as our export
    writes it), or None when that cannot be its lifetime: missing, not a number, or ending before
    the last message (a tool that times only the handshake). 1 ms of slack: startedDateTime is
    rounded to milliseconds."""
    ms = entry.get("time")
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not 0 <= ms < math.inf:
        return None
    ended = opened + ms / 1000
    if ended < last_message - 0.001 or not ended < MAX_TIMESTAMP:
        return None
    return ended


def _fields_from_request(path: str, where: str, entry: dict[str, Any]) -> dict[str, Any]:
    given_request, given_response = entry.get("request"), entry.get("response")
    request = given_request if isinstance(given_request, dict) else {}
    response = given_response if isinstance(given_response, dict) else {}
    headers = _pairs(path, f"{where}.request.headers", request.get("headers"))
    answer = _subprotocols(_pairs(path, f"{where}.response.headers", response.get("headers")))
    fields: dict[str, Any] = {
        "request_headers": headers,
        "offered_subprotocols": _subprotocols(headers),
    }
    url = request.get("url")
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        fields.update(target_url=url, path=parts.path or None, query=parts.query or None)
        fields["model"] = model_from_query(parts.query)
    if answer:
        fields["subprotocol"] = answer[0]
    agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
    if agent:
        fields["user_agent"] = agent
    return {k: v for k, v in fields.items() if v not in (None, [])}


def _read_entry(path: str, where: str, entry: dict[str, Any]) -> SessionImport:
    from inspector.store import FrameIn  # see the TYPE_CHECKING import above

    messages = entry.get("_webSocketMessages") or []
    if not isinstance(messages, list):
        raise FormatError(path, f"{where}._webSocketMessages", "must be a list")
    ours = entry.get("_inspector")
    if isinstance(ours, dict):
        # Our own export: its metadata is exact (the visible request is for other tools).
        fields = check_session_fields(ours, path, f"{where}._inspector", {**EXPORTED_FIELDS, **CLOSE_FIELDS})
    else:
        fields = _fields_from_request(path, where, entry)
    frames = [_read_message(path, f"{where}._webSocketMessages[{i}]", m) for i, m in enumerate(messages)]
    opened = _started_at(path, where, entry)
    if "started_at" not in fields:
        # The handshake's start, or the first message if the clocks disagree (times stay >= 0).
        times = [f[1] for f in frames if f] + [opened]
        known = [t for t in times if t is not None]
        fields["started_at"] = min(known) if known else time.time()
    start = fields["started_at"]
    last_message = start
    out = []
    for item in frames:
        if item is None:
            continue
        direction, at, t_ns, data = item
        last_message = max(last_message, at)
        if t_ns is None:
            # Whole microseconds, the resolution of Chrome's times: the float difference alone
            # turns 1732440000.512345 - 1732440000.4 into 112344980 ns, not 112345000.
            t_ns = max(0, round((at - start) * 1e6)) * 1000
        if t_ns > MAX_T_NS:
            raise FormatError(path, where, "message times span more than SQLite can hold")
        out.append(FrameIn(direction, t_ns, data))
    if not isinstance(ours, dict):  # our export's metadata says itself whether it ended
        ended = _ended_at(entry, start if opened is None else opened, last_message)
        if ended is not None:
            fields["ended_at"] = ended
    fields.setdefault("status", SessionStatus.CLOSED)
    return SessionImport(path, "har", fields, iter(out), frame_count=len(out))


def _read_message(path: str, where: str, message: Any) -> tuple[Direction, float, int | None, str | bytes] | None:
    if not isinstance(message, dict):
        raise FormatError(path, where, "a WebSocket message must be an object")
    kind = message.get("type")
    # Not a plain .get(kind): a list or an object there would be an unhashable key.
    direction = _TYPES.get(kind) if isinstance(kind, str) else None
    if direction is None:
        raise FormatError(path, f"{where}.type", f"must be 'send' or 'receive', not {message.get('type')!r}")
    at = message.get("time")
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        raise FormatError(path, f"{where}.time", "must be a number (unix seconds)")
    # Checked here, not only as the session's start: the start is the earliest of these times.
    check_timestamp(at, path, f"{where}.time", "a message time")
    opcode = message.get("opcode")
    if opcode in _CONTROL_OPCODES:
        return None
    data = message.get("data")
    if not isinstance(data, str):
        raise FormatError(path, f"{where}.data", "must be a string")
    if opcode == Opcode.TEXT:
        frame: str | bytes = data
    elif opcode == Opcode.BINARY:
        try:
            frame = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise FormatError(path, f"{where}.data", "a binary message (opcode 2) must be base64") from None
    else:
        raise FormatError(path, f"{where}.opcode", f"must be 1 (text) or 2 (binary), not {opcode!r}")
    check_frame_size(frame, path, f"{where}.data")
    t_ns = message.get("_t_ns")
    if isinstance(t_ns, bool) or not isinstance(t_ns, int) or not 0 <= t_ns <= MAX_T_NS:
        t_ns = None
    return direction, float(at), t_ns, frame


# -- export -----------------------------------------------------------------------------------


def _iso(ts: float) -> str:
    """startedDateTime. HAR needs a date here, so a start no date can hold (written before
    imports checked it) becomes the epoch; `_inspector` keeps the number as it is."""
    try:
        stamp = dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")
    except (ValueError, OverflowError, OSError):
        stamp = "1970-01-01T00:00:00.000+00:00"
    return stamp.replace("+00:00", "Z")


def _entry(store: Store, session_id: int) -> dict[str, Any]:
    info = store.session(session_id)
    meta = session_header(store, session_id)["session"]
    meta.pop("source", None)
    for name, value in (close_record(store, session_id) or {}).items():
        meta[f"close_{name}"] = value
    url = info.target_url or f"ws://recorded.invalid{info.path or '/'}" + (f"?{info.query}" if info.query else "")
    headers = [{"name": k, "value": v} for k, v in info.request_headers]
    answer = [{"name": "Upgrade", "value": "websocket"}, {"name": "Connection", "value": "Upgrade"}]
    if info.subprotocol:
        answer.append({"name": "Sec-WebSocket-Protocol", "value": info.subprotocol})
    duration_ms = round(info.duration_ns / 1e6, 3)
    return {
        "startedDateTime": _iso(info.started_at),
        "time": duration_ms,
        "request": {
            "method": "GET",
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": headers,
            "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": 101,
            "statusText": "Switching Protocols",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": answer,
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 0,
        },
        "cache": {},
        # HAR wants time == the sum of the timings: the socket was receiving for its lifetime.
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": 0, "receive": duration_ms},
        "_resourceType": "websocket",
        "_inspector": meta,
        "_webSocketMessages": [],  # streamed in by export_har; must stay the last key
    }


def _messages(store: Store, session_id: int, started_at: float) -> Iterator[dict[str, Any]]:
    for ev in store.events(session_id, with_frames=True):
        binary = ev.opcode == Opcode.BINARY
        frame = ev.frame
        data = base64.b64encode(frame).decode() if binary and isinstance(frame, bytes) else frame
        yield {
            "type": "send" if ev.direction == Direction.CLIENT else "receive",
            "time": started_at + ev.t_ns / 1e9,
            "opcode": 2 if binary else 1,
            "data": data,
            "_t_ns": ev.t_ns,
        }


def export_har(store: Store, session_ids: Sequence[int], out: IO[bytes]) -> int:
    """Write a HAR 1.2 log with one WebSocket entry per session; returns the messages written.
    Messages are streamed, so a long audio session never sits in memory as one document."""
    creator = {"name": "realtime-inspector", "version": __version__}
    out.write(b'{"log":{"version":"1.2","creator":' + orjson.dumps(creator) + b',"pages":[],"entries":[')
    count = 0
    for index, session_id in enumerate(session_ids):
        entry = _entry(store, session_id)
        head = orjson.dumps(entry)
        assert head.endswith(b"[]}")
        out.write((b"," if index else b"") + head[:-2])
        started_at = store.session(session_id).started_at
        for i, message in enumerate(_messages(store, session_id, started_at)):
            out.write((b"," if i else b"") + orjson.dumps(message))
            count += 1
        out.write(b"]}")
    out.write(b"]}}\n")
    return count
