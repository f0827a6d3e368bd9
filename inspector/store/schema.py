"""The database schema and its migrations. Only the store package knows any of this.

Layout choices, each measured (see DESIGN.md):
- `events.id` is `session_id << 32 | seq`, so one session's events are one contiguous rowid range:
  paging is a rowid range scan and needs no extra index.
- Frame bodies live in `frames`, keyed by the same id, so list views never read megabytes of
  audio. Text frames are stored as TEXT (SQLite's JSON functions work on them), binary frames as
  BLOB; both byte for byte.
- The base64 audio of audio events is stored decoded in `frames.audio` (3/4 of the size) and cut
  out of `body` at `audio_at`; the store splices it back on read, byte for byte (it only does so
  when re-encoding gives the same text). Text search and JSON paths then never wade through audio.
- 16 KiB pages store 1.4 KB audio frames with little slack.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 4
SEQ_BITS = 32

_V1 = """
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,           -- unix seconds (an event's wall time adds t_ns)
    ended_at REAL,
    source TEXT NOT NULL,               -- tap, replay, import, mock
    replay_of INTEGER,
    target_url TEXT,                    -- redacted
    path TEXT,
    query TEXT,                         -- redacted
    model TEXT,
    client_addr TEXT,
    user_agent TEXT,
    subprotocol TEXT,                   -- the negotiated one, redacted
    offered_subprotocols TEXT,          -- JSON list, redacted
    request_headers TEXT,               -- JSON list of [name, value], redacted
    status TEXT NOT NULL,               -- open, closed, failed, interrupted
    close_code INTEGER,
    close_reason TEXT,
    close_side TEXT,                    -- client, server, tap
    error TEXT,
    label TEXT,
    client_events INTEGER NOT NULL DEFAULT 0,
    server_events INTEGER NOT NULL DEFAULT 0,
    error_events INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    duration_ns INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_started ON sessions(started_at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,             -- session_id << 32 | seq
    dir INTEGER NOT NULL,               -- 0 client, 1 server
    t_ns INTEGER NOT NULL,              -- since the session started
    opcode INTEGER NOT NULL,            -- 1 text, 2 binary
    size INTEGER NOT NULL,              -- frame bytes
    type TEXT,
    event_id TEXT,
    item_id TEXT,
    response_id TEXT,
    call_id TEXT,
    problem TEXT,                       -- binary, not_json, not_object, no_type
    is_error INTEGER NOT NULL DEFAULT 0,
    summary TEXT
);
CREATE INDEX events_by_type ON events(type, id);
CREATE INDEX events_errors ON events(id) WHERE is_error;
CREATE INDEX events_by_item ON events(item_id, id) WHERE item_id IS NOT NULL;
CREATE INDEX events_by_response ON events(response_id, id) WHERE response_id IS NOT NULL;
CREATE INDEX events_by_call ON events(call_id, id) WHERE call_id IS NOT NULL;

CREATE TABLE frames (
    id INTEGER PRIMARY KEY,             -- the same id as events.id
    body NOT NULL,
    audio BLOB,                         -- decoded audio cut out of body, or NULL
    audio_at INTEGER                    -- where in body the base64 text goes back
);
"""


def _sessions_v2() -> str:
    """v1 → v2: session ids are never reused (AUTOINCREMENT). Deleting the newest session used to
    hand its id to the next one, so a note, a mark or a replay_of naming it found another
    session. SQLite cannot add AUTOINCREMENT in place: the table is rebuilt with v1's columns."""
    start = _V1.index("CREATE TABLE sessions (")
    table = _V1[start : _V1.index(");", start) + 1]
    table = table.replace("CREATE TABLE sessions (", "CREATE TABLE sessions_v2 (", 1)
    table = table.replace("id INTEGER PRIMARY KEY,", "id INTEGER PRIMARY KEY AUTOINCREMENT,", 1)
    return f"""
{table};
INSERT INTO sessions_v2 SELECT * FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_v2 RENAME TO sessions;
CREATE INDEX sessions_started ON sessions(started_at);
"""


# v2 → v3: who records each open session, and what recording lost. A recording process takes a
# lease (its pid and that process's start time on this machine, renewed while it lives); each
# session it opens names the lease, so that a reader can tell a session whose recorder was
# killed (kill -9, OOM, power) from one being recorded. `unrecorded_frames` counts frames that
# were forwarded but never written (the writer's bounded buffer overflowed while the disk was
# full or the database locked). Sessions left open by an earlier version have no lease to check:
# they are marked interrupted here, or they would stay open, and undeletable in the UI, forever.
_LEASES_V3 = """
CREATE TABLE leases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,                 -- boot id and pid namespace: where the pid means something
    proc_start TEXT NOT NULL,           -- the process's start time, so a reused pid is not it
    started_at REAL NOT NULL,
    renewed_at REAL NOT NULL            -- unix seconds, renewed every few seconds while alive
);
ALTER TABLE sessions ADD COLUMN lease INTEGER;
ALTER TABLE sessions ADD COLUMN unrecorded_frames INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET status = 'interrupted',
    error = coalesce(error, 'left open by an earlier version of the tap (it stopped without closing it)')
    WHERE status = 'open'
"""

# v3 → v4: a session's globally unique id (the short id is only unique in one database), which an
# export, an import and a push carry along, and the host that recorded it. Sessions recorded
# before get a fresh uid each (the store writes one for every new session; NULL never stays).
_UID_V4 = """
ALTER TABLE sessions ADD COLUMN uid TEXT;
ALTER TABLE sessions ADD COLUMN host TEXT;
UPDATE sessions SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX sessions_by_uid ON sessions(uid)
"""

# Index i holds the script that takes a database from version i to i + 1.
MIGRATIONS: list[str] = [_V1, _sessions_v2(), _LEASES_V3, _UID_V4]


class SchemaError(Exception):
    """The file is not a database this version of the inspector can use."""


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to SCHEMA_VERSION, each step in its own transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the database has schema version {version}, newer than this inspector knows "
            f"({SCHEMA_VERSION}): upgrade realtime-inspector"
        )
    if version == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        if tables:
            raise SchemaError("the file is an SQLite database, but not one the inspector wrote")
        # page_size only takes effect before the first table exists (and before WAL).
        conn.execute("PRAGMA page_size=16384")
    conn.execute("PRAGMA journal_mode=WAL")
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                # Comments in the scripts must not contain semicolons.
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version={version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
