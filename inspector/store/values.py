"""The values the store hands out and takes in, and the errors it raises.

Pure: no SQLite here, so that a caller (or a second backend) can use them without a database.
"""

from __future__ import annotations

import enum
import os
import socket
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

from inspector.protocol import Direction, Opcode

__all__ = [
    "Event",
    "FrameIn",
    "SessionInfo",
    "SessionNotFound",
    "SessionStatus",
    "StoreBusy",
    "StoreError",
    "StoreInterrupted",
    "new_uid",
    "recording_host",
]


class StoreError(Exception):
    """The database cannot be used: missing, corrupt, locked, or of an unknown schema. Every
    error of the backend (sqlite3's included) leaves the store as one of these."""


class StoreBusy(StoreError):
    """Another connection held the write lock for longer than the busy timeout (10 s)."""


class StoreInterrupted(StoreError):
    """A read was aborted by `Store.interrupt()` (a UI cancelling a long filter)."""


class SessionNotFound(StoreError):
    def __init__(self, session_id: int) -> None:
        super().__init__(f"no session {session_id} in the database")
        self.session_id = session_id


class SessionStatus(str, enum.Enum):
    """Where a session stands. The values are what the `sessions.status` column holds."""

    OPEN = "open"  # being recorded
    CLOSED = "closed"  # a side closed the connection
    FAILED = "failed"  # the upstream refused or was unreachable, or the handshake broke
    INTERRUPTED = "interrupted"  # the tap stopped while it was open (or an import said so)

    def __str__(self) -> str:
        # The value, not `SessionStatus.OPEN`, wherever a status is printed or formatted.
        return self.value

    @classmethod
    def read(cls, value: str) -> SessionStatus | str:
        """The status of a stored value; text this version does not know stays text."""
        try:
            return cls(value)
        except ValueError:
            return value


@dataclass(slots=True)
class SessionInfo:
    """One row of `sessions`. Times are unix seconds; `duration_ns` runs to the last event."""

    id: int
    started_at: float
    source: str
    status: SessionStatus | str
    ended_at: float | None = None
    replay_of: int | None = None
    target_url: str | None = None
    path: str | None = None
    query: str | None = None
    model: str | None = None
    client_addr: str | None = None
    user_agent: str | None = None
    subprotocol: str | None = None
    offered_subprotocols: list[str] = field(default_factory=list)
    request_headers: list[list[str]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str | None = None
    close_side: str | None = None
    error: str | None = None
    label: str | None = None
    client_events: int = 0
    server_events: int = 0
    error_events: int = 0
    bytes: int = 0
    duration_ns: int = 0
    # Frames the tap forwarded but could not record (disk full, database locked past the
    # writer's buffer, or still queued when it had to exit).
    unrecorded_frames: int = 0
    # Globally unique (the short `id` is only unique in one database): what an export, an
    # import or a push carries along, so that the same session is known as such everywhere.
    uid: str = ""
    # The machine that recorded it (`recording_host()` for the tap), None when unknown.
    host: str | None = None

    @property
    def events(self) -> int:
        return self.client_events + self.server_events

    @property
    def duration(self) -> float | None:
        """Seconds from the start to the close when known, else to the last event; None when
        the timing is unknown (several events, every one at offset 0, and no end time: an import
        of a recording that kept no times), never a made-up 0."""
        last_event = self.duration_ns / 1e9
        if self.ended_at is None:
            return None if self.duration_ns == 0 and self.events > 1 else last_event
        return max(self.ended_at - self.started_at, last_event)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


SESSION_COLUMNS = [f.name for f in fields(SessionInfo)]


@dataclass(slots=True)
class Event:
    """One recorded frame. `frame` is loaded only when asked for (it may be megabytes)."""

    session_id: int
    seq: int
    direction: Direction
    t_ns: int
    opcode: Opcode
    size: int
    type: str | None
    event_id: str | None = None
    item_id: str | None = None
    response_id: str | None = None
    call_id: str | None = None
    problem: str | None = None
    is_error: bool = False
    summary: str | None = None
    frame: str | bytes | None = None
    # Read with `audio="length"`: the decoded bytes of audio cut out of `frame` (None: whole).
    audio_size: int | None = None

    @property
    def t(self) -> float:
        """Seconds since the session started."""
        return self.t_ns / 1e9

    def data(self) -> Any:
        """The frame parsed as JSON, or None when it is not JSON (or was not loaded)."""
        if self.frame is None or self.opcode != Opcode.TEXT:
            return None
        try:
            return orjson.loads(self.frame)
        except orjson.JSONDecodeError:
            return None


@dataclass(slots=True)
class FrameIn:
    """A frame to write: what the tap saw, or what an import file holds."""

    direction: Direction
    t_ns: int
    data: str | bytes
    opcode: Opcode | None = None  # inferred from the type of `data` when None

    def __post_init__(self) -> None:
        if self.opcode is None:
            self.opcode = Opcode.BINARY if isinstance(self.data, bytes) else Opcode.TEXT


def new_uid() -> str:
    """A fresh globally unique session id (a random UUID, 32 hex digits)."""
    return uuid.uuid4().hex


def recording_host() -> str:
    """The name a recording process gives its sessions' `host`: `INSPECTOR_HOST` when set (a
    container's own host name is often a random id), else the machine's host name."""
    return os.environ.get("INSPECTOR_HOST") or socket.gethostname()
