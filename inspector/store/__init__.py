"""Recordings storage: the `Store` API, the background `Recorder`, and the filter language.

Everything else in the inspector reads and writes recordings through this package only (the
contract is in `inspector.store.store`), opening a store with `open_store(db)`: an SQLite file,
or a PostgreSQL database for a `postgresql://` URL (`inspector.store.postgres`). Names are imported on first use, so that the pure
modules (`inspector.store.filter`, `inspector.store.values`) load without SQLite, sqlite-utils
or the recorder's subprocess machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspector.store.factory import db_location, is_url, open_store, show_db
    from inspector.store.files import database_files, is_database_file
    from inspector.store.recorder import Recorder, SessionRecorder
    from inspector.store.store import SESSION_SORTS, Store
    from inspector.store.values import (
        Event,
        FrameIn,
        SessionInfo,
        SessionNotFound,
        SessionStatus,
        StoreBusy,
        StoreError,
        StoreInterrupted,
        new_uid,
        recording_host,
    )

# Public name -> the module that defines it.
_HOMES = {
    "Event": "values",
    "FrameIn": "values",
    "SessionInfo": "values",
    "SessionNotFound": "values",
    "SessionStatus": "values",
    "StoreBusy": "values",
    "StoreError": "values",
    "StoreInterrupted": "values",
    "Store": "store",
    "SESSION_SORTS": "store",
    "Recorder": "recorder",
    "SessionRecorder": "recorder",
    "new_uid": "values",
    "recording_host": "values",
    "open_store": "factory",
    "is_url": "factory",
    "db_location": "factory",
    "show_db": "factory",
    "database_files": "files",
    "is_database_file": "files",
}

__all__ = [
    "SESSION_SORTS",
    "Event",
    "FrameIn",
    "Recorder",
    "SessionInfo",
    "SessionNotFound",
    "SessionRecorder",
    "SessionStatus",
    "Store",
    "StoreBusy",
    "StoreError",
    "StoreInterrupted",
    "database_files",
    "db_location",
    "is_database_file",
    "is_url",
    "new_uid",
    "open_store",
    "recording_host",
    "show_db",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
