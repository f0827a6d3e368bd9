"""What every reader produces, and the one error every reader raises."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from inspector.protocol import MAX_FRAME, Direction
from inspector.store.values import SessionStatus

if TYPE_CHECKING:  # the store loads sqlite3: a reader needs it only once frames are read
    from inspector.store import FrameIn

__all__ = [
    "EXPORTED_FIELDS",
    "FINAL_STATUSES",
    "FORMAT_NAME",
    "MAX_FRAME",
    "MAX_TIMESTAMP",
    "MAX_T_NS",
    "FormatError",
    "Lines",
    "SessionImport",
    "check_direction",
    "check_frame_size",
    "check_session_fields",
    "check_timestamp",
    "parse_line",
]

# The non-blank lines of a JSON Lines file with their 1-based numbers.
Lines = Iterator[tuple[int, bytes]]

FORMAT_NAME = "realtime-inspector/1"
MAX_T_NS = 2**63 - 1  # SQLite's INTEGER; about 292 years
MAX_TIMESTAMP = 253402300800.0  # 10000-01-01T00:00:00Z in unix seconds: times must be before it
TIMESTAMP_FIELDS = ("started_at", "ended_at")
# The store's statuses once a session is over (all but OPEN). An imported session is never
# live: any other status becomes INTERRUPTED, or it would look recording forever.
FINAL_STATUSES = tuple(status.value for status in SessionStatus if status is not SessionStatus.OPEN)

# Session metadata an export carries and an import restores. Ids and counters are the database's
# own (recomputed on import); `replay_of` names a session of another database, so it is dropped;
# the close fields travel on the close line.
EXPORTED_FIELDS: dict[str, tuple[type, ...]] = {
    "started_at": (int, float),
    "ended_at": (int, float),
    "status": (str,),
    "target_url": (str,),
    "path": (str,),
    "query": (str,),
    "model": (str,),
    "client_addr": (str,),
    "user_agent": (str,),
    "subprotocol": (str,),
    "offered_subprotocols": (list,),
    "request_headers": (list,),
    "error": (str,),
    "label": (str,),
    # The session's globally unique id and the host that recorded it: an import keeps them, so
    # that the session is known as the same one in every database it reaches.
    "uid": (str,),
    "host": (str,),
}
UID = re.compile(r"[0-9A-Za-z_-]{1,64}")
CLOSE_FIELDS: dict[str, tuple[type, ...]] = {
    "close_code": (int,),
    "close_reason": (str,),
    "close_side": (str,),
}


class FormatError(Exception):
    """Input that cannot be imported. `where` is a line number or a JSON path in the file."""

    def __init__(self, path: str, where: int | str | None, reason: str) -> None:
        self.path = str(path)
        self.where = where
        self.reason = reason
        location = self.path if where is None else f"{self.path}:{where}"
        super().__init__(f"{location}: {reason}")


@dataclass
class SessionImport:
    """One session read from a file: its metadata and its frames (possibly a lazy iterator that
    raises `FormatError` part way; the store's transaction then rolls back)."""

    path: str
    kind: str  # jsonl, fixture, har
    fields: dict[str, Any]
    frames: Iterator[FrameIn]
    frame_count: int = 0  # filled in as the frames are consumed
    # Fields learned only at the end of the frames (the close line): the importer applies them
    # after the frames, in the same transaction.
    trailer: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def check_session_fields(
    values: dict[str, Any], path: str, where: int | str, allowed: dict[str, tuple[type, ...]]
) -> dict[str, Any]:
    """The known fields of `values`, type-checked (None allowed); unknown keys are ignored so that
    newer exports still import."""
    out: dict[str, Any] = {}
    for name, types in allowed.items():
        value = values.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            raise FormatError(path, where, f"session field {name!r} must be {types[0].__name__}")
        out[name] = value
    for name in TIMESTAMP_FIELDS:
        if name in out:
            check_timestamp(out[name], path, where, f"session field {name!r}")
    if "status" in out and out["status"] not in FINAL_STATUSES:
        out["status"] = SessionStatus.INTERRUPTED
    if "uid" in out and not UID.fullmatch(out["uid"]):
        raise FormatError(path, where, "session field 'uid' must be 1 to 64 letters, digits, '-' or '_'")
    for name in ("offered_subprotocols",):
        if name in out and not all(isinstance(v, str) for v in out[name]):
            raise FormatError(path, where, f"session field {name!r} must be a list of strings")
    if "request_headers" in out and not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
        for pair in out["request_headers"]
    ):
        raise FormatError(path, where, "session field 'request_headers' must be [[name, value], ...]")
    return out


def check_timestamp(value: float, path: str, where: int | str, what: str) -> None:
    """Unix seconds between 1970 and year 9999: anything else (NaN, inf, 1e20, a 1969 date) is no
    date and would break every place that shows it, a HAR export among them."""
    if not 0 <= value < MAX_TIMESTAMP:
        raise FormatError(path, where, f"{what} must be unix seconds from 0 to before year 10000, not {value!r}")


def check_frame_size(frame: str | bytes, path: str, where: int | str) -> None:
    """Refuse a frame the tap would not have accepted: nothing recorded live is that large, and
    the viewer, the filters and the exports all hold a frame in memory at once."""
    if isinstance(frame, str):
        if len(frame) * 4 <= MAX_FRAME:  # UTF-8 takes at most 4 bytes a character: surely small
            return
        size = len(frame.encode("utf-8", "surrogatepass"))
    else:
        size = len(frame)
    if size > MAX_FRAME:
        raise FormatError(
            path, where, f"frame of {size} bytes is larger than the {MAX_FRAME // 2**20} MiB the tap accepts"
        )


def parse_line(path: str, lineno: int, line: bytes) -> Any:
    """One JSON Lines line parsed; a `FormatError` that says when the file looks cut short."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        reason = str(exc).split(":", 1)[0]
        if not line.endswith(b"\n"):
            reason += " (the file looks truncated: its last line is incomplete)"
        raise FormatError(path, lineno, f"invalid JSON: {reason}") from None


def check_direction(path: str, lineno: int, value: Any) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        raise FormatError(path, lineno, f"direction must be 'client' or 'server', not {value!r}") from None
