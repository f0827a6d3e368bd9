"""The `Store`'s sorted and searched list of session ids (see the contract in
`inspector.store.store`): what a list of 100,000 sessions pages through. Mixed into `Store`,
whose `_conn` it uses, as the leases are; `session_ids_sql` builds the query for both backends
(PostgreSQL's `PgSessionList` runs it too).

A search is words, each of which some searched column must hold (ASCII case folded), and
`host:NAME` terms: sessions recorded on that host (the whole name, case folded); several name
alternatives."""

from __future__ import annotations

import sqlite3
from typing import Any

from inspector.store._sqlite import guarded
from inspector.store.leases import LeaseTable

__all__ = ["HOSTS_SQL", "SESSION_SORTS", "SessionList", "session_ids_sql", "status_as_read"]

# `session_ids` orders: name → ORDER BY over `sessions` ({status} is the status as read,
# {greatest} SQLite's two-argument max or PostgreSQL's greatest).
_NEWEST = "started_at DESC, id DESC"
_SESSION_ORDERS = {
    "started": _NEWEST,
    # SessionInfo.duration: to the close when known, else to the last event; unknown (-1) last
    "duration": "CASE WHEN ended_at IS NOT NULL THEN {greatest}(ended_at - started_at, duration_ns / 1e9) "
    "WHEN duration_ns = 0 AND client_events + server_events > 1 THEN -1.0 ELSE duration_ns / 1e9 END DESC, " + _NEWEST,
    "events": "client_events + server_events DESC, " + _NEWEST,
    "errors": "error_events DESC, " + _NEWEST,
    "model": "coalesce(model, '') ASC, " + _NEWEST,
    "source": "source ASC, " + _NEWEST,
    "status": "{status} ASC, " + _NEWEST,
    "host": "coalesce(host, '') ASC, " + _NEWEST,
    "id": "id DESC",
}
SESSION_SORTS = tuple(_SESSION_ORDERS)
_SEARCHED = ("{id}", "model", "source", "{status}", "label", "path", "client_addr", "target_url", "host")
_HOST_TERM = "host:"
HOSTS_SQL = "SELECT DISTINCT host FROM sessions WHERE host IS NOT NULL ORDER BY host"


def status_as_read(live_leases: list[int]) -> str:
    """SQL for a session's status as `session` reads it: open with a dead holder is
    interrupted (the living leases asked of the few leases, not of every session)."""
    alive = f" AND lease NOT IN ({', '.join(map(str, live_leases))})" if live_leases else ""  # PostgreSQL: no IN ()
    return f"CASE WHEN status = 'open' AND lease IS NOT NULL{alive} THEN 'interrupted' ELSE status END"


def _is_host_term(term: str) -> bool:
    return term.lower().startswith(_HOST_TERM) and len(term) > len(_HOST_TERM)


def session_ids_sql(sort: str, search: str, status: str, *, postgres: bool = False) -> tuple[str, list[Any]]:
    """`SELECT id FROM sessions ...` (`?` marks) for `session_ids`; ValueError for an unknown sort."""
    if sort not in _SESSION_ORDERS:
        raise ValueError(f"unknown sort {sort!r}: one of {', '.join(SESSION_SORTS)}")
    terms = search.split()
    hosts = [t[len(_HOST_TERM) :].lower() for t in terms if _is_host_term(t)]
    # A word holds no space, so it matches within one column: a LIKE per column (ASCII case
    # folded) is what finds it, 2-3x faster than a search in the columns joined and lowered.
    words = [
        word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for word in terms if not _is_host_term(word)
    ]
    like = "ILIKE" if postgres else "LIKE"  # PostgreSQL's LIKE is case-sensitive
    columns = [c.format(id="id::text" if postgres else "id", status=status) for c in _SEARCHED]
    any_column = " OR ".join(f"{column} {like} ? ESCAPE '\\'" for column in columns)
    conditions = [f"({any_column})" for _ in words]
    if hosts:
        conditions.append(f"lower(host) IN ({', '.join('?' for _ in hosts)})")
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    order = _SESSION_ORDERS[sort].format(status=status, greatest="greatest" if postgres else "max")
    params: list[Any] = [f"%{word}%" for word in words for _ in columns] + hosts
    return f"SELECT id FROM sessions {where} ORDER BY {order}", params


class SessionList:
    _conn: sqlite3.Connection

    @guarded
    def session_ids(self, *, sort: str = "started", search: str = "") -> list[int]:
        """The ids of the sessions matching `search`, in `sort` order (see the contract)."""
        dead = LeaseTable(self._conn).dead()
        live = [row[0] for row in self._conn.execute("SELECT id FROM leases") if row[0] not in dead]
        sql, params = session_ids_sql(sort, search, status_as_read(live))
        return [row[0] for row in self._conn.execute(sql, params)]

    @guarded
    def session_hosts(self) -> list[str]:
        """The hosts that recorded the sessions, sorted (unknown ones left out)."""
        return [row[0] for row in self._conn.execute(HOSTS_SQL)]
