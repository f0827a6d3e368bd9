"""The SQL views for ad-hoc queries (`inspector/store/views.py`), and README's three queries run
with the real `sqlite-utils` CLI on real recordings: the demo's session, a real OpenAI tool
round, and a session with errors recorded through the tap from the mock."""

from __future__ import annotations

import base64
import json
import re
import shlex
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import run_tap
from websockets.asyncio.client import connect

from inspector.formats.detect import import_files
from inspector.mock.server import run_mock
from inspector.protocol import AUDIO_FIELDS, Direction
from inspector.store import FrameIn, Store
from inspector.store.views import VIEWS
from inspector.turns import read_turns

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "recordings" / "samples"
SQLITE_UTILS = str(Path(sys.executable).parent / "sqlite-utils")


def readme_queries() -> list[tuple[list[str], str]]:
    """README's `sqlite-utils query` commands (as argument lists) and the output shown under each."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Ad-hoc SQL") :]
    section = section[: section.index("\n## ", 1)]
    found = []
    for block in re.findall(r"```console\n(.*?)```", section, re.S):
        lines = block.splitlines(keepends=True)
        assert lines[0].startswith("$ sqlite-utils query ")
        for end in range(1, len(lines) + 1):
            try:
                argv = shlex.split("".join(lines[:end])[2:])
            except ValueError:  # the query's closing quote is on a later line
                continue
            found.append((argv, "".join(lines[end:])))
            break
    assert len(found) == 3, found
    return found


def run_sqlite_utils(argv: list[str], cwd: Path) -> str:
    assert argv[0] == "sqlite-utils"
    result = subprocess.run([SQLITE_UTILS, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def as_json(argv: list[str]) -> list[str]:
    """The same query with sqlite-utils' default output, JSON, instead of the table."""
    return [arg for arg in argv if arg != "-t"]


def test_readme_queries_print_what_readme_shows_on_the_demo_session(tmp_path: Path):
    with Store(tmp_path / "recordings" / "inspector.db") as store:
        import_files(store, [SAMPLES / "demo.jsonl"])
    for argv, shown in readme_queries():
        assert run_sqlite_utils(argv, tmp_path) == shown, " ".join(argv)


async def _record_errors(db: Path) -> None:
    """A session whose client makes mistakes the mock answers with the service's error codes."""
    mistakes = [
        {"type": "response.cancel"},
        {"type": "conversation.item.delete", "item_id": "item_missing"},
        {"type": "response.cancel"},
        {"type": "input_audio_buffer.commit"},
    ]
    async with run_mock(seed=5) as mock, run_tap(mock.url, db) as tap:
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=gpt-realtime") as ws:
            await ws.recv()  # session.created
            for mistake in mistakes:
                await ws.send(json.dumps(mistake))
                assert json.loads(await ws.recv())["type"] == "error"


@pytest.fixture
async def recorded(tmp_path: Path) -> Path:
    """A directory whose recordings/inspector.db holds the demo, a tool round and the errors."""
    db = tmp_path / "recordings" / "inspector.db"
    with Store(db) as store:
        import_files(store, [SAMPLES / "demo.jsonl", SAMPLES / "tool_call_round.jsonl"])
    await _record_errors(db)
    return tmp_path


def _frames(store: Store, session_id: int) -> list[Any]:
    return [
        json.loads(e.frame) if isinstance(e.frame, str) else None for e in store.events(session_id, with_frames=True)
    ]


async def test_readme_queries_agree_with_the_turn_model_and_the_frames(recorded: Path):
    slowest, errors, tools = (json.loads(run_sqlite_utils(as_json(argv), recorded)) for argv, _ in readme_queries())
    with Store(recorded / "recordings" / "inspector.db", create=False) as store:
        sessions = [info.id for info in store.sessions()]
        turns = {sid: read_turns(store, sid) for sid in sessions}
        frames = {sid: _frames(store, sid) for sid in sessions}

    def ms(a: int | None, b: int | None) -> float | None:
        return None if a is None or b is None else round((b - a) / 1e6, 1)

    responses = [(sid, r) for sid in sessions for t in turns[sid] for r in t.responses if r.done_ns is not None]
    # The imported tool round has no timing: its responses sort last (NULL), so the top three are timed.
    responses.sort(key=lambda sr: sr[1].done_ns - sr[1].created_ns if sr[1].created_ns else -1, reverse=True)
    assert [tuple(row.values()) for row in slowest] == [
        (sid, r.response_id, r.status, r.reason, ms(r.created_ns, r.first_output_ns), ms(r.created_ns, r.done_ns))
        for sid, r in responses[:3]
    ]

    codes: Counter[str] = Counter()
    where: dict[str, set[int]] = {}
    for sid in sessions:
        for frame in frames[sid]:
            if frame and frame["type"] == "error":
                codes[frame["error"]["code"]] += 1
                where.setdefault(frame["error"]["code"], set()).add(sid)
    assert len(codes) >= 3 and max(codes.values()) > 1  # the demo's and the mistakes' (one twice)
    assert {row["code"]: (row["errors"], {int(s) for s in row["sessions"].split(",")}) for row in errors} == {
        code: (n, where[code]) for code, n in codes.items()
    }
    assert [row["errors"] for row in errors] == sorted(codes.values(), reverse=True)

    calls = [(sid, c.name, c.arguments, c.output) for sid in sessions for t in turns[sid] for c in t.tool_calls]
    assert len(calls) == 2 and all(call[3] for call in calls)  # Paris (the demo), London (OpenAI)
    assert sorted((r["session_id"], r["name"], r["arguments"], r["output"]) for r in tools) == sorted(calls)


def _view(db: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_session_events_unpacks_ids_and_directions_and_notes_the_audio(tmp_path: Path):
    db = tmp_path / "x.db"
    with Store(db) as store:
        (imported,) = import_files(store, [SAMPLES / "demo.jsonl"])
        events = list(store.events(imported.session_id, with_frames=True))
    rows = _view(db, "SELECT * FROM session_events WHERE session_id = ? ORDER BY seq", imported.session_id)
    assert len(rows) == len(events) == 288
    audio_rows = 0
    for row, ev in zip(rows, events):
        assert (row["session_id"], row["seq"], row["direction"], row["type"]) == (
            ev.session_id,
            ev.seq,
            ev.direction.value,
            ev.type,
        )
        assert (row["item_id"], row["response_id"], row["call_id"], row["event_id"]) == (
            ev.item_id,
            ev.response_id,
            ev.call_id,
            ev.event_id,
        )
        assert (row["size"], bool(row["is_error"]), row["summary"]) == (ev.size, ev.is_error, ev.summary)
        assert row["t_ms"] == round(ev.t_ns / 1e6, 3)
        original = json.loads(ev.frame)  # type: ignore[arg-type]
        field = AUDIO_FIELDS.get(ev.type or "")
        if field is not None:
            audio_rows += 1
            audio = base64.b64decode(original[field])
            assert row["audio"] == audio
            original[field] = f"<audio: {len(audio)} bytes>"
        else:
            assert row["audio"] is None
        assert json.loads(row["frame"]) == original
    assert audio_rows == 110 + 35  # the appends in and the deltas out


def test_an_audio_frame_stored_whole_gets_its_note_too(tmp_path: Path):
    db = tmp_path / "x.db"
    # `\/` in the base64: not byte-exact when cut out, so the store keeps the frame whole.
    frame = '{"type": "input_audio_buffer.append", "audio": "AAEC\\/w=="}'
    with Store(db) as store:
        sid = store.create_session(source="import")
        store.append_events(sid, [FrameIn(Direction.CLIENT, 0, frame)])
    (row,) = _view(db, "SELECT frame, audio FROM session_events")
    assert json.loads(row["frame"]) == {"type": "input_audio_buffer.append", "audio": "<audio: 4 bytes>"}
    assert row["audio"] is None


def test_responses_of_an_untimed_recording_have_no_times_never_zero(tmp_path: Path):
    db = tmp_path / "x.db"
    with Store(db) as store:
        import_files(store, [SAMPLES / "tool_call_round.jsonl"])
    rows = _view(db, "SELECT * FROM responses ORDER BY created_seq")
    assert [row["status"] for row in rows] == ["completed", "completed"]
    assert all(row[name] is None for row in rows for name in ("created_ms", "done_ms", "created_to_done_ms"))


def test_a_writer_gives_an_old_file_the_views_and_mends_a_changed_one(tmp_path: Path):
    db = tmp_path / "x.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute("DROP VIEW session_events")  # a file from before the views
    conn.execute("DROP VIEW responses")
    conn.execute("CREATE VIEW responses AS SELECT 1 AS stale")  # an older definition
    conn.commit()
    conn.close()
    Store(db, create=False).close()  # a reader changes nothing
    assert {r["name"] for r in _view(db, "SELECT name FROM sqlite_master WHERE type = 'view'")} == {"responses"}
    Store(db).close()
    views = {r["name"]: r["sql"] for r in _view(db, "SELECT name, sql FROM sqlite_master WHERE type = 'view'")}
    assert views == VIEWS


def test_a_writer_opens_a_file_whose_views_need_making_while_another_holds_the_write_lock(tmp_path: Path):
    db = tmp_path / "x.db"
    Store(db).close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP VIEW responses")
    conn.execute("BEGIN IMMEDIATE")  # an import, say, holds the lock past the opener's patience
    try:
        with Store(db, busy_timeout=0.2) as store:  # opens (the views wait for a later writer)
            assert store.sessions() == []
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    Store(db).close()
    assert {r["name"] for r in _view(db, "SELECT name FROM sqlite_master WHERE type = 'view'")} == set(VIEWS)


def test_columns_added_to_the_tables_leave_the_views_working(tmp_path: Path):
    db = tmp_path / "x.db"
    with Store(db) as store:
        import_files(store, [SAMPLES / "demo.jsonl"])
    conn = sqlite3.connect(db)
    for table in ("sessions", "events", "frames"):  # as a later schema version may
        conn.execute(f"ALTER TABLE {table} ADD COLUMN added_later TEXT")
    conn.commit()
    conn.close()
    with Store(db):
        pass
    assert _view(db, "SELECT count(*) AS n FROM session_events")[0]["n"] == 288
    assert _view(db, "SELECT count(*) AS n FROM responses WHERE status IS NOT NULL")[0]["n"] == 5


# -- the same views on PostgreSQL (inspector/store/postgres/views.py) -----------------------------


def _normal(value: Any) -> Any:
    """A view's value as both backends can agree on it: numbers as floats, bytes as bytes."""
    if (isinstance(value, (int, float)) and not isinstance(value, bool)) or type(value).__name__ == "Decimal":
        return float(value)
    return bytes(value) if isinstance(value, memoryview) else value


def test_the_views_on_postgresql_give_what_they_give_on_sqlite(tmp_path: Path, pg_url: str):
    """The same recordings in both backends (the demo, a real tool round, a binary frame, an
    audio frame kept whole): every row of both views alike, but for the backends' own ways of
    writing a binary frame (bytea text) and a rewritten JSON text (compared parsed)."""
    import psycopg
    from psycopg.rows import dict_row

    from inspector.store import open_store

    whole = '{"type": "input_audio_buffer.append", "audio": "AAEC\\/w=="}'
    extra = [FrameIn(Direction.CLIENT, 5, whole), FrameIn(Direction.SERVER, 9, b"\x00\xffbin")]
    for db in (tmp_path / "x.db", pg_url):
        with open_store(db) as store:
            import_files(store, [SAMPLES / "demo.jsonl", SAMPLES / "tool_call_round.jsonl"])
            store.import_session(extra, started_at=1735787045.25)
    with psycopg.connect(pg_url, row_factory=dict_row) as conn:
        for view, order in (("session_events", "session_id, seq"), ("responses", "session_id, response_id")):
            lite = [dict(row) for row in _view(tmp_path / "x.db", f"SELECT * FROM {view} ORDER BY {order}")]
            pg = conn.execute(f"SELECT * FROM {view} ORDER BY {order}").fetchall()
            assert len(pg) == len(lite) > 5 and list(pg[0]) == list(lite[0])
            for a, b in zip(lite, pg):
                a, b = {k: _normal(v) for k, v in a.items()}, {k: _normal(v) for k, v in b.items()}
                if isinstance(a.get("frame"), bytes):  # bytea as PostgreSQL prints it
                    a["frame"] = "\\x" + a["frame"].hex()
                elif a.get("frame") != b.get("frame"):  # jsonb_set writes its own spacing
                    a["frame"], b["frame"] = json.loads(a["frame"]), json.loads(b["frame"])
                if a.get("time") != b.get("time"):  # rounded to the ms from doubles: the last digit may differ
                    a["time"], b["time"] = (datetime.fromisoformat(row["time"]).timestamp() for row in (a, b))
                    assert abs(a["time"] - b["time"]) <= 0.0011
                    b["time"] = a["time"]
                assert a == b
        whole_notes = conn.execute("SELECT count(*) AS n FROM session_events WHERE frame LIKE '%<audio: 4 bytes>%'")
        assert whole_notes.fetchone() == {"n": 1}
        open_store(pg_url).close()  # as they should be: left alone
        conn.execute("COMMENT ON VIEW responses IS 'an older definition'")
        conn.commit()
        open_store(pg_url, create=False).close()  # a reader changes nothing
        assert (
            conn.execute("SELECT obj_description('responses'::regclass) AS c").fetchone()["c"] == "an older definition"
        )
        open_store(pg_url).close()
        assert (
            conn.execute("SELECT obj_description('responses'::regclass) AS c").fetchone()["c"] != "an older definition"
        )
