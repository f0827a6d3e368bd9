"""Who is recording a session, decided across machines (the lease contract of
`inspector.store.leases`, on PostgreSQL).

A recording process's lease is a row renewed on the server's clock, and a session-level advisory
lock (`_LOCK_SPACE`, lease id) that its connection takes in the transaction that creates the row
(so no reader ever sees the row without it). The holder is alive while the server sees that lock
held: a killed process's connection drops, and the lock with it, so its death shows at once.
One exception: a server restart drops every lock, so a lease last renewed before the server
started is alive until `EXPIRE_SECONDS` after that renewal, time for its holder to reconnect
and take its lock again (`renew_lease` does). A reader decides all this from the server alone,
without the holder's help.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg

from inspector.store.leases import EXPIRE_SECONDS, ORPHANED
from inspector.store.postgres._pg import Transaction, guarded
from inspector.store.values import recording_host

__all__ = ["PgLeaseMethods"]

_LOCK_SPACE = 0x1E5  # the first key of the advisory locks: the leases' name space
_NOW = "extract(epoch from clock_timestamp())"
# Leases whose holder is gone: no advisory lock held for it in this database, and not one that a
# server restart took its lock from lately.
_DEAD = f"""
SELECT l.id, l.renewed_at FROM leases l
WHERE (l.renewed_at >= extract(epoch from pg_postmaster_start_time()) OR l.renewed_at < {_NOW} - %s)
  AND NOT EXISTS (
    SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted
      AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND k.classid = {_LOCK_SPACE} AND k.objid = l.id AND k.objsubid = 2)
"""


class PgLeaseMethods:
    """The `Store` methods of the lease contract, mixed into `PostgresStore`."""

    url: str
    _pg: psycopg.Connection[Any]
    _locked: set[int]  # leases whose advisory lock this connection holds

    def _connection(self) -> psycopg.Connection[Any]:
        raise NotImplementedError

    @guarded
    def take_lease(self) -> int:
        conn = self._connection()
        with Transaction(self):
            self._sweep()
            row = conn.execute(
                f"INSERT INTO leases (pid, host, started_at, renewed_at) VALUES (%s, %s, {_NOW}, {_NOW}) RETURNING id",
                (os.getpid(), recording_host()),
            ).fetchone()
            assert row is not None
            lease = int(row[0])
            self._lock(lease)  # before the commit: the lease is never seen without its lock
        return lease

    def _lock(self, lease: int) -> None:
        """Hold the lease's advisory lock on this connection (again after a reconnection)."""
        if lease not in self._locked:
            self._connection().execute("SELECT pg_advisory_lock(%s, %s)", (_LOCK_SPACE, lease))
            self._locked.add(lease)

    @guarded
    def renew_lease(self, lease: int) -> None:
        with Transaction(self):
            self._lock(lease)
            self._connection().execute(f"UPDATE leases SET renewed_at = {_NOW} WHERE id = %s", (lease,))

    @guarded
    def release_lease(self, lease: int, reason: str) -> None:
        conn = self._connection()
        with Transaction(self):
            self._interrupt(lease, reason, None)
            conn.execute("DELETE FROM leases WHERE id = %s", (lease,))
        if lease in self._locked:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_SPACE, lease))
            self._locked.discard(lease)

    def _sweep(self) -> None:
        """Interrupt the open sessions of dead holders and drop their leases (caller's transaction)."""
        conn = self._connection()
        for lease, renewed_at in conn.execute(_DEAD, (EXPIRE_SECONDS,)).fetchall():
            self._interrupt(lease, ORPHANED, renewed_at)
            conn.execute("DELETE FROM leases WHERE id = %s", (lease,))
        conn.execute(
            "UPDATE sessions SET status = 'interrupted', error = coalesce(error, %s) WHERE status = 'open' "
            "AND lease IS NOT NULL AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.id = sessions.lease)",
            (ORPHANED,),
        )

    def _interrupt(self, lease: int, reason: str, ended_at: float | None) -> None:
        self._connection().execute(
            "UPDATE sessions SET status = 'interrupted', error = coalesce(error, %s), "
            f"ended_at = coalesce(ended_at, %s, {_NOW}) WHERE lease = %s AND status = 'open'",
            (reason, ended_at, lease),
        )

    def _orphaned(self, session_ids: list[int]) -> set[int]:
        """Which of these (open) sessions have no living recorder."""
        if not session_ids:
            return set()
        rows = self._connection().execute(
            f"SELECT s.id FROM sessions s WHERE s.id = ANY(%s) AND s.lease IS NOT NULL AND "
            f"(s.lease NOT IN (SELECT id FROM leases) OR s.lease IN (SELECT id FROM ({_DEAD}) d))",
            (session_ids, EXPIRE_SECONDS),
        )
        return {int(row[0]) for row in rows}

    def _live_leases(self) -> list[int]:
        """The leases whose holder lives (for `session_ids`' status as read)."""
        rows = self._connection().execute(
            f"SELECT id FROM leases WHERE id NOT IN (SELECT id FROM ({_DEAD}) d)", (EXPIRE_SECONDS,)
        )
        return [int(row[0]) for row in rows]

    def _dead_leases(self) -> int:
        row = self._connection().execute(f"SELECT count(*) FROM ({_DEAD}) d", (EXPIRE_SECONDS,)).fetchone()
        return int(row[0]) if row else 0
