"""SQLite at the store's boundary: its exceptions become `StoreError`s, and its transactions."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from inspector.store.values import StoreBusy, StoreError, StoreInterrupted

__all__ = ["Transaction", "guarded", "store_error"]

_P = ParamSpec("_P")
_S = TypeVar("_S")
_R = TypeVar("_R")


def store_error(exc: sqlite3.Error) -> StoreError:
    """The `StoreError` that stands for a driver error at the API boundary."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and text == "interrupted":
        return StoreInterrupted("the query was interrupted")
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreBusy(f"the database is busy: {text}")
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        # Pages damaged past the header that opening checks ("malformed", "not a database").
        return StoreError(f"cannot read the database: {text} (is the file damaged?)")
    return StoreError(f"database error: {text}")


def guarded(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """Translate the driver's exceptions into `StoreError`s: none of them leaves the store."""

    @functools.wraps(method)
    def wrapper(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    return wrapper


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error. Nested uses join the outer transaction,
    so that the recorder can batch calls that are atomic on their own."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._outer = False

    def __enter__(self) -> None:
        try:
            self._outer = not self._conn.in_transaction
            if self._outer:
                self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:  # locked by another writer past busy_timeout
            raise _write_error(exc) from exc

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self._outer:
            return
        try:
            if exc_type:
                self._rollback()
                return
            try:
                self._conn.execute("COMMIT")
            except sqlite3.OperationalError:
                self._rollback()
                raise
        except sqlite3.Error as exc:
            raise _write_error(exc) from exc

    def _rollback(self) -> None:
        """Roll back what is left: SQLite has already rolled back by itself after some errors
        (SQLITE_FULL, SQLITE_IOERR), and a ROLLBACK then fails with "no transaction is active",
        an error that used to replace the real cause ("database or disk is full")."""
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the error being handled says why; this one would only hide it


def _write_error(exc: sqlite3.Error) -> StoreError:
    """`StoreBusy` for a lock that may be released (worth waiting for), else `StoreError`."""
    busy = "locked" in str(exc) or "busy" in str(exc)
    return (StoreBusy if busy else StoreError)(f"cannot write to the database: {exc}")
