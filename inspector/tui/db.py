"""What the TUI catches around the database."""

from __future__ import annotations

from inspector.store import StoreError

__all__ = ["DB_ERRORS"]

# What opening or reading the database can raise: shown as a notification, never a traceback
# (an exception in a worker would end the app with one). The store wraps every database error in
# a StoreError; OSError stays because the TUI also writes files around the store (save a frame,
# export JSON Lines or WAV) and a full disk or a read-only directory fails there, not in SQLite.
DB_ERRORS = (StoreError, OSError)
