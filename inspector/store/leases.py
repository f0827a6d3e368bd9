"""Who is recording a session: leases held by recording processes (SQLite backend).

A session stays `open` while it is recorded. When its recording process dies without closing it
(kill -9, the OOM killer, a power cut), nothing else would ever close it. So each recording
process (the recorder's writer) takes a lease when it starts: a row naming its pid, where that
pid means something (boot id and pid namespace) and when that process started (so that a reused
pid is not taken for it), renewed every `RENEW_SECONDS`. Each session it opens names the lease.

- Readers (`Store.sessions`, `Store.session`) report an open session whose lease holder is gone
  as `interrupted` at once, without writing (a reader may have no write access).
- A new recorder sweeps: it writes `interrupted` into such sessions and deletes the dead leases.
- A recorder that ends cleanly closes what it still has open and deletes its own lease.

On the same machine and pid namespace, the pid and start time decide at once. Elsewhere (another
container sharing the file) the pid means nothing, and a lease not renewed for `EXPIRE_SECONDS`
is dead; SQLite's WAL needs one machine, so that is the only "elsewhere" there is.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from functools import cache

from inspector.store._sqlite import Transaction, guarded

__all__ = ["EXPIRE_SECONDS", "RENEW_SECONDS", "Holder", "LeaseTable"]

RENEW_SECONDS = 5.0
EXPIRE_SECONDS = 60.0
ORPHANED = "the recording process ended without closing the session"


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    proc_start: str
    renewed_at: float


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


@cache
def this_host() -> str:
    """Where a pid names one process: the boot and the pid namespace (or the host name)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    boot = _read("/proc/sys/kernel/random/boot_id")
    return f"{boot}/{namespace}" if boot else f"host:{os.uname().nodename}"


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' if it is gone, or no /proc)."""
    stat = _read(f"/proc/{pid}/stat")
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    # A zombie is dead: a killed writer whose parent died too waits for a reaper that a
    # container's init may never be.
    return fields[19] if fields and fields[0] not in ("Z", "X") else ""


def holder_alive(holder: Holder, now: float) -> bool:
    if holder.host != this_host():
        return now - holder.renewed_at < EXPIRE_SECONDS
    if holder.proc_start:
        return process_start(holder.pid) == holder.proc_start
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LeaseTable:
    """The `leases` table on one connection (the caller holds transactions where it says so)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def take(self) -> int:
        """A lease for this process; the caller holds the write transaction."""
        now = time.time()
        cur = self._conn.execute(
            "INSERT INTO leases (pid, host, proc_start, started_at, renewed_at) VALUES (?, ?, ?, ?, ?)",
            (os.getpid(), this_host(), process_start(os.getpid()), now, now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def renew(self, lease: int) -> None:
        self._conn.execute("UPDATE leases SET renewed_at = ? WHERE id = ?", (time.time(), lease))

    def release(self, lease: int, reason: str) -> None:
        """End a lease: what is still open under it is interrupted. In the caller's transaction."""
        self._interrupt(lease, reason, time.time())
        self._conn.execute("DELETE FROM leases WHERE id = ?", (lease,))

    def sweep(self) -> int:
        """Interrupt the open sessions of dead holders and drop their leases; returns how many
        leases were dead. In the caller's transaction."""
        dead = self.dead()
        for lease, holder in dead.items():
            self._interrupt(lease, ORPHANED, holder.renewed_at if holder else None)
            self._conn.execute("DELETE FROM leases WHERE id = ?", (lease,))
        # Open sessions naming a lease that no longer exists (swept by an older sweep).
        self._conn.execute(
            "UPDATE sessions SET status = 'interrupted', error = coalesce(error, ?) "
            "WHERE status = 'open' AND lease IS NOT NULL AND lease NOT IN (SELECT id FROM leases)",
            (ORPHANED,),
        )
        return len(dead)

    def _interrupt(self, lease: int, reason: str, ended_at: float | None) -> None:
        self._conn.execute(
            "UPDATE sessions SET status = 'interrupted', error = coalesce(error, ?), "
            "ended_at = coalesce(ended_at, ?) WHERE lease = ? AND status = 'open'",
            (reason, ended_at, lease),
        )

    def dead(self) -> dict[int, Holder | None]:
        """Leases whose holder is gone (None: a lease a session names that no longer exists)."""
        now = time.time()
        rows = self._conn.execute("SELECT id, pid, host, proc_start, renewed_at FROM leases").fetchall()
        return {row[0]: holder for row in rows if not holder_alive(holder := Holder(*row[1:]), now)}

    def orphaned(self, session_ids: list[int]) -> set[int]:
        """Which of these (open) sessions have no living recorder."""
        if not session_ids:
            return set()
        marks = ", ".join("?" for _ in session_ids)
        rows = self._conn.execute(
            f"SELECT s.id, l.id, l.pid, l.host, l.proc_start, l.renewed_at FROM sessions s "
            f"LEFT JOIN leases l ON l.id = s.lease WHERE s.lease IS NOT NULL AND s.id IN ({marks})",
            session_ids,
        ).fetchall()
        now = time.time()
        return {row[0] for row in rows if row[1] is None or not holder_alive(Holder(*row[2:]), now)}

    def dead_count(self) -> int:
        with contextlib.suppress(sqlite3.OperationalError):  # no table before the migration ran
            return len(self.dead())
        return 0


class LeaseMethods:
    """The `Store` methods of the lease contract (see `inspector.store.store`), kept here with
    the rest of the leases. Mixed into `Store`, whose `_conn` they use."""

    _conn: sqlite3.Connection

    @guarded
    def take_lease(self) -> int:
        """Sweep the dead leases (their open sessions become interrupted), then take one for
        this process: a recorder's first act. One transaction."""
        table = LeaseTable(self._conn)
        with Transaction(self._conn):
            table.sweep()
            return table.take()

    @guarded
    def renew_lease(self, lease: int) -> None:
        with Transaction(self._conn):
            LeaseTable(self._conn).renew(lease)

    @guarded
    def release_lease(self, lease: int, reason: str) -> None:
        """A recorder's last act: its sessions still open are interrupted, the lease dropped."""
        with Transaction(self._conn):
            LeaseTable(self._conn).release(lease, reason)

    @guarded
    def _orphaned(self, session_ids: list[int]) -> set[int]:
        return LeaseTable(self._conn).orphaned(session_ids)

    @guarded
    def _dead_leases(self) -> int:
        return LeaseTable(self._conn).dead_count()
