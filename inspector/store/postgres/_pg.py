"""PostgreSQL at the store's boundary: connecting, psycopg's exceptions made `StoreError`s, and
transactions (nested uses join the outer one, as on SQLite)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar
from urllib.parse import unquote

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from inspector.store.factory import show_db
from inspector.store.values import StoreBusy, StoreError, StoreInterrupted

__all__ = ["Transaction", "connect", "guarded", "pg_error"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
CONNECT_TIMEOUT = 10  # seconds, unless the URL says otherwise
# How long a COMMIT whose answer was lost with the connection waits for the server to come back
# and say whether it landed (`Transaction._landed`).
IN_DOUBT_SECONDS = 10.0
IN_DOUBT_POLL = 0.2
# Lock waits that may end: worth a retry, as SQLite's "database is locked" is.
_BUSY = (pg_errors.LockNotAvailable, pg_errors.SerializationFailure, pg_errors.DeadlockDetected)


class _HasConnection(Protocol):
    url: str
    _pg: psycopg.Connection[Any]

    def _connection(self) -> psycopg.Connection[Any]: ...


def connect(url: str, busy_timeout: float) -> psycopg.Connection[Any]:
    """An autocommit connection (transactions are explicit) whose lock waits end after
    `busy_timeout` seconds; `StoreError` (the URL shown without its password) when it fails."""
    extra: dict[str, Any] = {} if "connect_timeout" in url else {"connect_timeout": CONNECT_TIMEOUT}
    try:
        conn = psycopg.connect(url, autocommit=True, application_name="realtime-inspector", **extra)
        conn.execute(f"SET lock_timeout = {max(1, int(busy_timeout * 1000))}")
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to {show_db(url)}: {_message(exc, url)}") from None
    return conn


def _message(exc: BaseException, url: str) -> str:
    """The driver's message on one line, without the URL's password should it ever quote it."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    shown = show_db(url)
    if url != shown:
        text = text.replace(url, shown)
    for secret in _passwords(url):  # quoted on its own, e.g. "invalid percent-encoded token: …"
        text = text.replace(secret, "…")
    return text


def _passwords(url: str) -> set[str]:
    """The URL's passwords as they are written and as they decode (userinfo, `password=` and
    `sslpassword=` query parameters)."""
    netloc, query = url.partition("://")[2].partition("/")[0], url.partition("?")[2]
    found = {netloc.rpartition("@")[0].partition(":")[2]} if "@" in netloc else set()
    found |= {value for name, _, value in (p.partition("=") for p in query.split("&")) if "password" in name.lower()}
    return {form for raw in found if raw for form in (raw, unquote(raw))}


def pg_error(exc: psycopg.Error, url: str) -> StoreError:
    """The `StoreError` that stands for a driver error at the API boundary."""
    text = _message(exc, url)
    if isinstance(exc, pg_errors.QueryCanceled):
        return StoreInterrupted("the query was interrupted")
    if isinstance(exc, _BUSY):
        return StoreBusy(f"the database is busy: {text}")
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(f"lost the connection to {show_db(url)}: {text}")
    return StoreError(f"database error: {text}")


def guarded(
    method: Callable[Concatenate[Any, _P], _R],
) -> Callable[Concatenate[Any, _P], _R]:
    """Translate the driver's exceptions into `StoreError`s: none of them leaves the store."""

    @functools.wraps(method)
    def wrapper(self: Any, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except psycopg.Error as exc:
            raise pg_error(exc, self.url) from exc

    return wrapper


class Transaction:
    """BEGIN ... COMMIT on the store's connection, ROLLBACK on error; nested uses join the outer
    one. After each commit the change counter moves (`PostgresStore.data_version`): after, so
    that a reader who sees it move reads what was committed.

    A connection lost while COMMIT's answer was on its way (a server restart, a failover) leaves
    the outcome unknown: the transaction's id, read before COMMIT, is looked up once the server
    answers again (`txid_status`, within `IN_DOUBT_SECONDS`). Landed: a success, so that the
    caller does not write it twice. Not landed, or no answer in time: `StoreError` (a writer
    retrying then finds the rows it did write skipped, `PostgresStore.insert_rows`)."""

    def __init__(self, store: _HasConnection) -> None:
        self._store = store
        self._outer = False

    def __enter__(self) -> None:
        conn = self._store._connection()
        self._outer = conn.info.transaction_status == TransactionStatus.IDLE
        if self._outer:
            try:
                conn.execute("BEGIN")
            except psycopg.Error as exc:
                raise pg_error(exc, self._store.url) from exc

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self._outer:
            return
        conn = self._store._pg  # never a new connection here: the transaction was on this one
        try:
            if exc_type:
                if not conn.broken:
                    conn.execute("ROLLBACK")
                return
            if conn.info.transaction_status == TransactionStatus.INERROR:
                # PostgreSQL would answer COMMIT with a silent ROLLBACK: say so instead.
                conn.execute("ROLLBACK")
                raise StoreError("cannot write to the database: a statement of the transaction failed")
            row = conn.execute("SELECT txid_current()").fetchone()
            try:
                conn.execute("COMMIT")
            except psycopg.Error:
                if conn.broken and row is not None and self._landed(int(row[0])):
                    return
                if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")
                raise
        except psycopg.Error as exc:
            if exc_type:
                return  # the error being handled says why; this one would only hide it
            raise pg_error(exc, self._store.url) from exc
        self._moved(conn)

    @staticmethod
    def _moved(conn: psycopg.Connection[Any]) -> None:
        try:
            conn.execute("SELECT nextval('inspector_changes')")
        except psycopg.Error:
            pass  # committed all the same (a caller must not write it twice): live views see it later

    def _landed(self, xid: int) -> bool:
        """Whether transaction `xid`, whose COMMIT lost its connection, committed; False when the
        server does not say within `IN_DOUBT_SECONDS`."""
        deadline = time.monotonic() + IN_DOUBT_SECONDS
        while True:
            try:
                conn = self._store._connection()  # connects again
                row = conn.execute("SELECT txid_status(%s)", (xid,)).fetchone()
                status = row[0] if row else None
                if status != "in progress":  # its backend may not have seen the connection go yet
                    if status == "committed":
                        self._moved(conn)
                    return status == "committed"
            except (StoreError, psycopg.Error):
                pass  # the server is not back yet
            if time.monotonic() > deadline:
                return False
            time.sleep(IN_DOUBT_POLL)
