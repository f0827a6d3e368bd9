"""What the TUI catches around the database."""

from __future__ import annotations

import sqlite3

from inspector.store import StoreError

__all__ = ["DB_ERRORS"]

# What opening or reading the database can raise: shown as a notification, never a traceback
# (an exception in a worker would end the app with one).
DB_ERRORS = (StoreError, OSError, sqlite3.Error)
