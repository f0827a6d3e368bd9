"""The TUI's database connections: one `Store` per worker thread, and what it catches around them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from inspector.store import Store, StoreError, open_store

__all__ = ["DB_ERRORS", "WorkerStores", "worker_store"]

# What opening or reading the database can raise: shown as a notification, never a traceback
# (an exception in a worker would end the app with one). The store wraps every database error in
# a StoreError; OSError stays because the TUI also writes files around the store (save a frame,
# export JSON Lines or WAV) and a full disk or a read-only directory fails there, not in SQLite.
DB_ERRORS = (StoreError, OSError)


class WorkerStores:
    """One `Store` per worker thread, opened on its first use and kept: thread workers run in
    the event loop's thread pool, so a few connections serve every worker instead of one
    opened (and its schema checked) per detail view, label or export. A `Store` is used by one
    thread at a time, which a per-thread connection guarantees."""

    def __init__(self, db_path: Path | str) -> None:
        self.db_path = db_path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[Store] = []

    def get(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = open_store(self.db_path, create=False)
            self._local.store = store
            with self._lock:
                self._opened.append(store)
        return store

    @property
    def opened(self) -> int:
        """How many connections the workers hold (one per thread that used one)."""
        return len(self._opened)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for store in opened:
            try:
                store.close()
            except Exception:  # a worker still on it at exit: the process ends anyway
                pass


def worker_store(app: Any) -> Store:
    """The calling worker thread's `Store` of the running `InspectorApp`."""
    stores: WorkerStores = app.worker_stores
    return stores.get()
