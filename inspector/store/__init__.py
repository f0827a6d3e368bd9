"""Recordings storage: the `Store` API, the background `Recorder`, and the filter language.

Everything else in the inspector reads and writes recordings through this package only.
"""

from __future__ import annotations

from inspector.store.recorder import Recorder, SessionRecorder
from inspector.store.store import (
    Event,
    FrameIn,
    SessionInfo,
    SessionNotFound,
    Store,
    StoreBusy,
    StoreError,
    database_files,
    is_database_file,
)

__all__ = [
    "Event",
    "FrameIn",
    "Recorder",
    "SessionInfo",
    "SessionNotFound",
    "SessionRecorder",
    "Store",
    "StoreBusy",
    "StoreError",
    "database_files",
    "is_database_file",
]
