"""The store on PostgreSQL (psycopg 3): `PostgresStore`, the `Store` contract of
`inspector.store.store` on a server that many taps write to and everyone browses. Opened through
`inspector.store.open_store(url)`; needs the `postgres` extra."""

from __future__ import annotations

from inspector.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
