"""The PostgreSQL schema and its migrations (the SQLite one is `inspector.store.schema`).

The same layout as on SQLite, so that the same codec (`inspector.store._codec`) makes and reads
the rows: `events.id` is `session_id << 32 | seq` (one session is one primary-key range), frame
bodies live apart in `frames`, audio stored decoded in `frames.audio` (bytea) and cut out of the
body. Differences:
- A text frame is `frames.body` (text); a binary frame, or a text frame holding a NUL character
  (PostgreSQL text cannot), is `frames.raw` (bytea), read back as text when its event's opcode
  says text. Both byte for byte.
- JSON paths read `body::jsonb` at query time (the text stays exact; jsonb would not).
- `inspector_changes`, a sequence moved after each commit, is what `data_version()` reads.
- Leases name their holder's session-level advisory lock (see `postgres.leases`).
- Tables live in the connection's `search_path` (the URL's `options=-csearch_path=...` picks a
  schema); `inspector_schema` holds the version, and its absence next to a `sessions` table
  means a database the inspector did not write.
"""

from __future__ import annotations

from typing import Any

import psycopg

from inspector.store.schema import SchemaError

__all__ = ["SCHEMA_VERSION", "migrate", "schema_version"]

SCHEMA_VERSION = 1
_MIGRATION_LOCK = 0x1E5_7EC7  # advisory lock key: one migrating connection at a time

_V1 = """
CREATE TABLE sessions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- never reused (a sequence)
    uid text NOT NULL UNIQUE,
    host text,
    started_at double precision NOT NULL,
    ended_at double precision,
    source text NOT NULL,
    replay_of bigint,
    target_url text,
    path text,
    query text,
    model text,
    client_addr text,
    user_agent text,
    subprotocol text,
    offered_subprotocols text,
    request_headers text,
    status text NOT NULL,
    close_code integer,
    close_reason text,
    close_side text,
    error text,
    label text,
    client_events bigint NOT NULL DEFAULT 0,
    server_events bigint NOT NULL DEFAULT 0,
    error_events bigint NOT NULL DEFAULT 0,
    bytes bigint NOT NULL DEFAULT 0,
    duration_ns bigint NOT NULL DEFAULT 0,
    lease bigint,
    unrecorded_frames bigint NOT NULL DEFAULT 0
);
CREATE INDEX sessions_started ON sessions (started_at);

CREATE TABLE events (
    id bigint PRIMARY KEY,
    dir smallint NOT NULL,
    t_ns bigint NOT NULL,
    opcode smallint NOT NULL,
    size bigint NOT NULL,
    type text,
    event_id text,
    item_id text,
    response_id text,
    call_id text,
    problem text,
    is_error smallint NOT NULL DEFAULT 0,
    summary text
);
CREATE INDEX events_by_type ON events (type, id);
CREATE INDEX events_errors ON events (id) WHERE is_error <> 0;
CREATE INDEX events_by_item ON events (item_id, id) WHERE item_id IS NOT NULL;
CREATE INDEX events_by_response ON events (response_id, id) WHERE response_id IS NOT NULL;
CREATE INDEX events_by_call ON events (call_id, id) WHERE call_id IS NOT NULL;

CREATE TABLE frames (
    id bigint PRIMARY KEY,
    body text,
    raw bytea,
    audio bytea,
    audio_at integer
);
-- Audio does not compress: stored out of line uncompressed, its length is read without it.
ALTER TABLE frames ALTER COLUMN audio SET STORAGE EXTERNAL;

CREATE TABLE leases (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pid integer NOT NULL,
    host text NOT NULL,
    started_at double precision NOT NULL,
    renewed_at double precision NOT NULL    -- the server's clock, so hosts' clocks do not matter
);

CREATE SEQUENCE inspector_changes;
"""

# Index i holds the script that takes a database from version i to i + 1.
MIGRATIONS: list[str] = [_V1]


def schema_version(conn: psycopg.Connection[Any]) -> int | None:
    """The schema version, 0 for a database without our tables, None for a foreign one."""
    found = conn.execute(
        "SELECT to_regclass('inspector_schema') IS NOT NULL, to_regclass('sessions') IS NOT NULL"
    ).fetchone()
    assert found is not None
    if not found[0]:
        return None if found[1] else 0
    row = conn.execute("SELECT max(version) FROM inspector_schema").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: psycopg.Connection[Any], *, create: bool) -> None:
    """Bring the schema up to SCHEMA_VERSION in one transaction, under an advisory lock so that
    two taps starting at once do not both create it. `SchemaError` when the database is not
    ours, newer, or (without `create`) holds no recordings."""
    version = _check(schema_version(conn), create=create)
    if version == SCHEMA_VERSION:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        version = _check(schema_version(conn), create=create)  # another process may have done it
        if version == 0:
            conn.execute("CREATE TABLE inspector_schema (version integer NOT NULL)")
            conn.execute("INSERT INTO inspector_schema VALUES (0)")
        while version < SCHEMA_VERSION:
            conn.execute(MIGRATIONS[version].encode())
            version += 1
            conn.execute("UPDATE inspector_schema SET version = %s", (version,))


def _check(version: int | None, *, create: bool) -> int:
    if version is None:
        raise SchemaError("the database has a sessions table that the inspector did not write")
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the database has schema version {version}, newer than this inspector knows "
            f"({SCHEMA_VERSION}): upgrade realtime-inspector"
        )
    if version == 0 and not create:
        raise SchemaError("no recordings in this database yet (record some with `inspector tap --db URL`)")
    return version
