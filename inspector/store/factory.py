"""Opening the user's `--db`: a path opens the SQLite `Store`, a `postgresql://` or `postgres://`
URL (any libpq URL) the PostgreSQL one (`inspector.store.postgres`). Both keep the contract in
`inspector.store.store`, so a caller holds either as a `Store`.

A URL may carry a password: `show_db` is how a database is named in messages, titles and logs,
with the password cut out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit, urlunsplit

from inspector.store.values import StoreError

if TYPE_CHECKING:
    from inspector.store.store import Store

__all__ = ["db_location", "is_url", "open_store", "show_db"]

URL_SCHEMES = ("postgresql://", "postgres://")
MISSING_DRIVER = "PostgreSQL needs psycopg: pip install 'realtime-inspector[postgres]'"


def is_url(db: str | os.PathLike[str]) -> bool:
    """Whether `db` names a PostgreSQL database rather than an SQLite file."""
    return isinstance(db, str) and db.lower().startswith(URL_SCHEMES)


def db_location(db: str | os.PathLike[str]) -> str | Path:
    """`--db` as it is kept: a URL as text (a `Path` would fold its `//`), a file as a `Path`."""
    return str(db) if is_url(db) else Path(db)


def show_db(db: str | os.PathLike[str]) -> str:
    """How to name a database to a person: a URL without its password (and without a
    `password=` query parameter); a path as it is."""
    if not is_url(db):
        return os.fspath(db)
    try:
        parts = urlsplit(str(db))
    except ValueError:  # e.g. an unclosed [ in the host: name nothing but the scheme
        return str(db).partition("://")[0] + "://…"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}@{hostport}"
    # password=, and sslpassword= (the client key's passphrase): no secret in the query either.
    query = "&".join(p for p in parts.query.split("&") if p and "password=" not in p.lower())
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def open_store(
    db: str | os.PathLike[str], *, create: bool = True, busy_timeout: float = 10.0, bulk_writer: bool = False
) -> Store:
    """The store at `db` (a path or a PostgreSQL URL). `create` makes the database (the file, or
    the tables in an existing PostgreSQL database) when it has none yet; a write waits up to
    `busy_timeout` seconds for a lock held by another connection before `StoreBusy`.
    `bulk_writer`: this connection writes a lot (the recorder's writer process); SQLite tunes it
    for that (PostgreSQL's tuning is the server's)."""
    if not is_url(db):
        from inspector.store.store import Store

        return Store(db, create=create, busy_timeout=busy_timeout, bulk_writer=bulk_writer)
    try:
        from inspector.store.postgres import PostgresStore
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("psycopg"):
            raise
        raise StoreError(MISSING_DRIVER) from None
    # The same contract, kept by another class (tests/test_store.py runs on both backends).
    return cast("Store", PostgresStore(str(db), create=create, busy_timeout=busy_timeout))
