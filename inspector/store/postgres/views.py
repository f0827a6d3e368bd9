"""The SQL views for ad-hoc queries (`inspector.store.views`: `session_events`, `responses`) on
PostgreSQL: the same columns with the same meaning, for `psql`, Metabase or Grafana.

Written in PostgreSQL's own terms: `jsonb` operators where SQLite has `json_extract`, and a
frame's JSON read only when the frame is known to be JSON (its event has no `problem`, and no
escaped NUL, which `jsonb` refuses), where SQLite has `json_valid`. Where the backends differ:
a binary frame's `frame` is its bytes as `bytea` text (`\\x0a1b...`), as PostgreSQL prints them;
an audio frame stored whole (rare: its audio not byte-exact apart) gets its note through
`jsonb_set`, whose text orders and spaces the keys its own way.

Made by every writer that opens the database (`create=True`), and made again when their text
changed (a newer inspector): each view's comment holds a hash of its text.
"""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg

from inspector.protocol import AUDIO_FIELDS
from inspector.store.postgres.schema import MIGRATION_LOCK
from inspector.store.schema import SEQ_BITS
from inspector.store.views import RESPONSE_GROUPS, RESPONSE_TIMES, session_events_sql

__all__ = ["VIEWS", "ensure_views"]

_MASK = (1 << SEQ_BITS) - 1


# The frame may be read as JSON (a CASE guards the cast: an AND would not, PostgreSQL may
# evaluate its operands in any order).
_IS_JSON = "{events}.problem IS NULL AND {frames}.body IS NOT NULL AND strpos({frames}.body, '\\u0000') = 0"


def _decoded_length(b64: str) -> str:
    return f"(length({b64}) / 4 * 3 - (length({b64}) - length(rtrim({b64}, '='))))"


def _member(field: str) -> str:
    return f"(f.body::jsonb ->> '{field}')"


def _frame_without_audio() -> str:
    whole = "\n".join(
        f"            WHEN e.type = '{kind}' AND jsonb_typeof(f.body::jsonb -> '{field}') = 'string' THEN "
        f"jsonb_set(f.body::jsonb, '{{{field}}}', "
        f"to_jsonb('<audio: ' || {_decoded_length(_member(field))} || ' bytes>'))::text"
        for kind, field in sorted(AUDIO_FIELDS.items())
    )
    kinds = ", ".join(f"'{kind}'" for kind in sorted(AUDIO_FIELDS))
    return f"""CASE
        WHEN f.body IS NULL THEN f.raw::text
        WHEN f.audio IS NOT NULL AND f.audio_at IS NOT NULL
            THEN substr(f.body, 1, f.audio_at) || '<audio: ' || length(f.audio) || ' bytes>' || substr(f.body, f.audio_at + 1)
        WHEN {_IS_JSON.format(events="e", frames="f")} AND e.type IN ({kinds}) THEN CASE
{whole}
            ELSE f.body
        END
        ELSE f.body
    END"""


_SESSION_EVENTS = session_events_sql(
    "to_char(to_timestamp(round((s.started_at + e.t_ns / 1e9) * 1000) / 1000) AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD HH24:MI:SS.MS')",
    _frame_without_audio(),
)


_RESPONSES = f"""CREATE VIEW responses AS
SELECT
{RESPONSE_TIMES}    j.doc #>> '{{response,status}}' AS status,
    coalesce(j.doc #>> '{{response,status_details,reason}}', j.doc #>> '{{response,status_details,error,code}}') AS reason,
    CASE WHEN jsonb_typeof(j.doc #> '{{response,usage,total_tokens}}') = 'number'
        THEN (j.doc #>> '{{response,usage,total_tokens}}')::numeric END AS total_tokens
FROM ({RESPONSE_GROUPS}) AS r
LEFT JOIN sessions AS s ON s.id = r.session_id
LEFT JOIN events AS d ON d.id = r.done_id
LEFT JOIN frames AS f ON f.id = r.done_id
LEFT JOIN LATERAL (SELECT CASE WHEN {_IS_JSON.format(events="d", frames="f")} THEN f.body::jsonb END AS doc) AS j ON true"""

VIEWS: dict[str, str] = {"session_events": _SESSION_EVENTS, "responses": _RESPONSES}


def _hash(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()[:16]


def _current(conn: psycopg.Connection[Any]) -> dict[str, str | None]:
    rows = conn.execute(
        "SELECT n, obj_description(to_regclass(n), 'pg_class') FROM unnest(%s::text[]) n WHERE to_regclass(n) IS NOT NULL",
        (list(VIEWS),),
    )
    return {name: comment for name, comment in rows}


def ensure_views(conn: psycopg.Connection[Any]) -> None:
    """Create each view, or make it again when its text changed; one query when they are as
    they should be."""
    wanted = {name: _hash(sql) for name, sql in VIEWS.items()}
    if _current(conn) == wanted:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        current = _current(conn)  # another writer may have done it meanwhile
        for name, sql in VIEWS.items():
            if current.get(name) != wanted[name]:
                conn.execute(f"DROP VIEW IF EXISTS {name}")
                conn.execute(sql.encode())
                conn.execute(f"COMMENT ON VIEW {name} IS '{wanted[name]}'".encode())
