"""SQL views for people who open the database themselves (`sqlite-utils query`, Datasette).

The tables are laid out for the inspector's own reads (see `schema.py`): packed ids, numeric
directions, audio cut out of the frame. The views undo that for a reader:

- `session_events`: one row per event, `session_id` and `seq` apart, `direction` as `client` or
  `server`, `t_ms` since the session started, `time` (UTC wall clock), the ids, `size`,
  `is_error`, `problem`, `summary`, `frame` (the frame's JSON with each audio field's base64
  replaced by `<audio: N bytes>`, N its decoded length) and `audio` (those bytes; NULL for the
  rare audio frame stored whole, whose note then counts its base64).
- `responses`: one row per response (server events sharing a `response_id`): when it was
  created, its first text or audio, when it was done (ms since the session started), created →
  first output and created → done in ms, and from `response.done` its status, the reason
  (`status_details.reason`, or its error's code) and the total tokens. Times are NULL in a
  session recorded without timing (every event at 0), never 0.

There is no `turns` view: what a turn is (barge-in, tool rounds, idle-timeout nudges, seeded
history; `inspector/turns/`) is not something a query can say honestly. `inspector turns --json`
gives turns to a script.

The views are not part of the schema's version: `ensure_views` runs whenever a writer opens the
database and recreates a view whose text changed, so existing files get them too. They name
every column they read, so columns added to the tables later leave them valid.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from inspector.protocol import AUDIO_FIELDS, PREVIEW_NAMES
from inspector.store.schema import SEQ_BITS
from inspector.turns.model import OUTPUT_DELTAS

__all__ = ["RESPONSE_GROUPS", "RESPONSE_TIMES", "VIEWS", "ensure_views", "session_events_sql"]

_MASK = (1 << SEQ_BITS) - 1


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))


def _decoded_length(b64: str) -> str:
    """SQL for the decoded length of padded base64 text `b64` (an SQL expression)."""
    return f"(length({b64}) / 4 * 3 - (length({b64}) - length(rtrim({b64}, '='))))"


def _field(name: str) -> str:
    return f"json_extract(f.body, '$.{name}')"


def _frame_without_audio() -> str:
    """The frame's text with the audio replaced by a note. Audio stored apart goes back at
    `audio_at` as its note; an audio frame stored whole (not byte-exact when split) gets its
    field rewritten by `json_set`."""
    whole = "\n".join(
        f"        WHEN e.type = '{kind}' AND json_type(f.body, '$.{field}') = 'text' THEN json_set(f.body, '$.{field}',"
        f" '<audio: ' || {_decoded_length(_field(field))} || ' bytes>')"
        for kind, field in sorted(AUDIO_FIELDS.items())
    )
    return f"""CASE
        WHEN f.audio IS NOT NULL AND f.audio_at IS NOT NULL
            THEN substr(f.body, 1, f.audio_at) || '<audio: ' || length(f.audio) || ' bytes>' || substr(f.body, f.audio_at + 1)
        WHEN typeof(f.body) <> 'text' OR NOT json_valid(f.body) THEN f.body
{whole}
        ELSE f.body
    END"""


def session_events_sql(time: str, frame: str) -> str:
    """The `session_events` view, given the SQL of its `time` and `frame` columns (the parts
    each backend writes in its own terms; PostgreSQL's view is made by this too)."""
    return f"""CREATE VIEW session_events AS
SELECT
    e.id >> {SEQ_BITS} AS session_id,
    e.id & {_MASK} AS seq,
    CASE e.dir WHEN 0 THEN 'client' WHEN 1 THEN 'server' END AS direction,
    round(e.t_ns / 1e6, 3) AS t_ms,
    {time} AS time,
    e.type AS type,
    e.event_id AS event_id,
    e.item_id AS item_id,
    e.response_id AS response_id,
    e.call_id AS call_id,
    e.size AS size,
    e.is_error AS is_error,
    e.problem AS problem,
    e.summary AS summary,
    {frame} AS frame,
    f.audio AS audio
FROM events AS e
LEFT JOIN frames AS f ON f.id = e.id
LEFT JOIN sessions AS s ON s.id = e.id >> {SEQ_BITS}"""


_SESSION_EVENTS = session_events_sql(
    "strftime('%Y-%m-%d %H:%M:%f', s.started_at + e.t_ns / 1e9, 'unixepoch')", _frame_without_audio()
)

_OUTPUT = _quoted(OUTPUT_DELTAS | {old for old, new in PREVIEW_NAMES.items() if new in OUTPUT_DELTAS})

# One row per (session, response id) of the server's events: the seqs and times that matter
# (PostgreSQL's view reads it too).
RESPONSE_GROUPS = f"""
    SELECT
        e.id >> {SEQ_BITS} AS session_id,
        e.response_id AS response_id,
        min(CASE WHEN e.type = 'response.created' THEN e.id & {_MASK} END) AS created_seq,
        min(CASE WHEN e.type = 'response.created' THEN e.t_ns END) AS created_ns,
        min(CASE WHEN e.type IN ({_OUTPUT}) THEN e.t_ns END) AS first_output_ns,
        max(CASE WHEN e.type = 'response.done' THEN e.id END) AS done_id,
        max(CASE WHEN e.type = 'response.done' THEN e.id & {_MASK} END) AS done_seq,
        max(CASE WHEN e.type = 'response.done' THEN e.t_ns END) AS done_ns
    FROM events AS e
    WHERE e.response_id IS NOT NULL AND e.dir = 1
    GROUP BY e.id >> {SEQ_BITS}, e.response_id
"""

# The responses view's columns up to its times (from RESPONSE_GROUPS as r, sessions as s), as
# both backends write them.
RESPONSE_TIMES = """    r.session_id AS session_id,
    r.response_id AS response_id,
    r.created_seq AS created_seq,
    r.done_seq AS done_seq,
    CASE WHEN s.duration_ns > 0 THEN round(r.created_ns / 1e6, 1) END AS created_ms,
    CASE WHEN s.duration_ns > 0 THEN round(r.first_output_ns / 1e6, 1) END AS first_output_ms,
    CASE WHEN s.duration_ns > 0 THEN round(r.done_ns / 1e6, 1) END AS done_ms,
    CASE WHEN s.duration_ns > 0 THEN round((r.first_output_ns - r.created_ns) / 1e6, 1) END AS created_to_first_output_ms,
    CASE WHEN s.duration_ns > 0 THEN round((r.done_ns - r.created_ns) / 1e6, 1) END AS created_to_done_ms,
"""

_RESPONSES = f"""CREATE VIEW responses AS
SELECT
{RESPONSE_TIMES}    CASE WHEN json_valid(f.body) THEN json_extract(f.body, '$.response.status') END AS status,
    CASE WHEN json_valid(f.body) THEN coalesce(
        json_extract(f.body, '$.response.status_details.reason'),
        json_extract(f.body, '$.response.status_details.error.code')) END AS reason,
    CASE WHEN json_valid(f.body) THEN json_extract(f.body, '$.response.usage.total_tokens') END AS total_tokens
FROM ({RESPONSE_GROUPS}) AS r
LEFT JOIN sessions AS s ON s.id = r.session_id
LEFT JOIN frames AS f ON f.id = r.done_id"""

# name → its CREATE VIEW statement, as SQLite keeps it in sqlite_master.sql.
VIEWS: dict[str, str] = {"session_events": _SESSION_EVENTS, "responses": _RESPONSES}


def ensure_views(conn: sqlite3.Connection) -> None:
    """Create each view, or recreate it when its text changed (a newer inspector); a no-op
    costing one read of sqlite_master when they are as they should be."""
    if _current(conn) == VIEWS:
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        # Another writer holds the lock past the busy timeout: the views are a convenience for
        # ad-hoc queries and the next writer's open makes them; recording must not wait on them.
        if "locked" in str(exc) or "busy" in str(exc):
            return
        raise
    try:
        current = _current(conn)  # inside the write lock: another writer may have done it
        for name, sql in VIEWS.items():
            if current.get(name) != sql:
                conn.execute(f"DROP VIEW IF EXISTS {name}")
                conn.execute(sql)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _current(conn: sqlite3.Connection) -> dict[str, str]:
    names = tuple(VIEWS)
    rows = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'view' AND name IN ({', '.join('?' * len(names))})", names
    )
    return dict(rows.fetchall())
