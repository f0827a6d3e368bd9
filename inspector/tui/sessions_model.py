"""Pure helpers of the sessions screen: the row text, sorting and the text filter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inspector.display import format_duration, format_started
from inspector.store import SessionInfo

__all__ = ["COLUMNS", "SORTS", "match_session", "session_cells", "sort_sessions"]

COLUMNS = ("", "ID", "Started", "Duration", "Model", "Source", "Client", "Server", "Errors", "Status", "Label")

# name → (key, newest/largest first)
SORTS: dict[str, tuple[Callable[[SessionInfo], Any], bool]] = {
    "started": (lambda s: (s.started_at, s.id), True),
    "duration": (lambda s: -1.0 if s.duration is None else s.duration, True),  # unknown: last
    "events": (lambda s: s.events, True),
    "errors": (lambda s: s.error_events, True),
    "model": (lambda s: (s.model or "", -s.started_at), False),
    "source": (lambda s: (s.source, -s.started_at), False),
    "status": (lambda s: (s.status, -s.started_at), False),
    "id": (lambda s: s.id, True),
}
# Column header → sort name, for clicks on the header.
COLUMN_SORTS = {
    "ID": "id",
    "Started": "started",
    "Duration": "duration",
    "Model": "model",
    "Source": "source",
    "Client": "events",
    "Server": "events",
    "Errors": "errors",
    "Status": "status",
}


def sort_sessions(sessions: list[SessionInfo], sort: str) -> list[SessionInfo]:
    key, reverse = SORTS.get(sort, SORTS["started"])
    return sorted(sessions, key=key, reverse=reverse)


def match_session(info: SessionInfo, text: str) -> bool:
    """Case-insensitive: every word appears in the id, model, source, status, label, path or
    client address."""
    hay = " ".join(
        str(v)
        for v in (
            info.id,
            info.model,
            info.source,
            info.status,
            info.label,
            info.path,
            info.client_addr,
            info.target_url,
        )
        if v
    ).lower()
    return all(word in hay for word in text.lower().split())


def status_text(info: SessionInfo) -> str:
    status = info.status
    if info.close_code:
        status += f" ({info.close_code})"
    if info.unrecorded_frames:
        status += f", {info.unrecorded_frames} frames not recorded"
    if info.error:
        status += f" {info.error}"
    return status


def session_cells(info: SessionInfo, marked: bool) -> tuple[str, ...]:
    return (
        "◆" if marked else "",
        str(info.id),
        format_started(info.started_at),
        format_duration(info.duration),
        info.model or "-",
        info.source,
        str(info.client_events),
        str(info.server_events),
        str(info.error_events) if info.error_events else "",
        status_text(info),
        info.label or "",
    )
