"""The command line: recordings listed, errors as messages, README documents every command."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

from click.testing import CliRunner

from inspector.cli import main
from inspector.protocol import Direction
from inspector.store import FrameIn, Store

README = Path(__file__).resolve().parents[1] / "README.md"


def _db_with_a_session(path: Path) -> int:
    store = Store(path)
    sid = store.import_session(
        [
            FrameIn(Direction.CLIENT, 1_000_000, '{"type":"response.create"}'),
            FrameIn(Direction.SERVER, 281_000_000, '{"type":"response.created","response":{"id":"resp_1"}}'),
            FrameIn(Direction.SERVER, 300_000_000, '{"type":"error","error":{"code":"x","message":"boom"}}'),
        ],
        model="gpt-realtime",
    )
    store.close()
    return sid


def test_sessions_lists_counts_and_json(tmp_path):
    db = tmp_path / "x.db"
    sid = _db_with_a_session(db)
    result = CliRunner().invoke(main, ["sessions", "--db", str(db)])
    assert result.exit_code == 0
    line = result.output.splitlines()[1]
    assert re.search(rf"^\s*{sid}\s.*import\s+-\s+gpt-realtime\s+1\s+2\s+1\s+closed", line), line
    rows = [
        json.loads(x) for x in CliRunner().invoke(main, ["sessions", "--db", str(db), "--json"]).output.splitlines()
    ]
    assert rows[0]["id"] == sid and rows[0]["error_events"] == 1


def test_events_filters_by_type_and_direction_and_prints_exact_frames(tmp_path):
    db = tmp_path / "x.db"
    sid = _db_with_a_session(db)
    out = CliRunner().invoke(main, ["events", str(sid), "--db", str(db), "--type", "response.*"]).output
    assert [line.split()[3] for line in out.splitlines()[1:]] == ["response.create", "response.created"]
    assert "+281.0ms" in out
    lines = (
        CliRunner().invoke(main, ["events", str(sid), "--db", str(db), "--dir", "server", "--json"]).output.splitlines()
    )
    assert [json.loads(x)["frame"] for x in lines] == [
        '{"type":"response.created","response":{"id":"resp_1"}}',
        '{"type":"error","error":{"code":"x","message":"boom"}}',
    ]
    # an exact type, with a direction and frames; another session's events never leak in
    _db_with_a_session(db)
    lines = (
        CliRunner()
        .invoke(main, ["events", str(sid), "--db", str(db), "--type", "response.created", "--dir", "server", "--json"])
        .output.splitlines()
    )
    assert [json.loads(x)["frame"] for x in lines] == ['{"type":"response.created","response":{"id":"resp_1"}}']
    assert (
        CliRunner()
        .invoke(main, ["events", str(sid), "--db", str(db), "--type", "response.created", "--dir", "client"])
        .stdout
        == ""
    )


def test_errors_are_one_line_messages_not_tracebacks(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["sessions", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 1 and "no database at" in missing.output and "Traceback" not in missing.output
    db = tmp_path / "x.db"
    _db_with_a_session(db)
    unknown = runner.invoke(main, ["events", "999", "--db", str(db)])
    assert unknown.exit_code == 1 and "no session 999" in unknown.output
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"garbage" * 1000)
    bad = runner.invoke(main, ["sessions", "--db", str(corrupt)])
    assert bad.exit_code == 1 and "not a usable database" in bad.output


def test_tap_on_a_busy_port_says_so(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["tap", "--listen", f"127.0.0.1:{port}", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "already in use" in result.output and "Traceback" not in result.output


def test_readme_documents_every_command():
    readme = README.read_text()
    for name in main.commands:
        assert f"inspector {name}" in readme, f"README does not mention `inspector {name}`"


def test_a_database_damaged_past_its_header_is_an_error_line_not_a_traceback(tmp_path):
    import random
    import sqlite3

    db = tmp_path / "damaged.db"
    with Store(db) as store:
        store.import_session(
            [FrameIn(Direction.CLIENT, i, '{"type":"x","pad":"%s"}' % ("a" * 2000)) for i in range(200)]
        )
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(db, "r+b") as f:  # the header and the schema stay readable, data pages do not
        f.seek(16384 * 3)
        f.write(random.Random(7).randbytes(16384 * 6))  # seeded: the same damage on every run
    result = CliRunner().invoke(main, ["events", "1", "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: cannot read the database:") and "Traceback" not in result.output


def test_the_database_defaults_to_inspector_db_then_recordings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INSPECTOR_DB", raising=False)
    result = CliRunner().invoke(main, ["sessions"])
    assert result.exit_code == 1 and "no database at recordings/inspector.db" in result.stderr
    _db_with_a_session(tmp_path / "env.db")
    monkeypatch.setenv("INSPECTOR_DB", str(tmp_path / "env.db"))
    result = CliRunner().invoke(main, ["sessions", "--json"])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 1
    result = CliRunner().invoke(main, ["sessions", "--db", str(tmp_path / "other.db")])  # --db wins
    assert result.exit_code == 1 and "other.db" in result.stderr


def test_events_prints_a_header_aligned_columns_and_says_on_stderr_when_nothing_matched(tmp_path):
    db = tmp_path / "x.db"
    sid = _db_with_a_session(db)
    result = CliRunner().invoke(main, ["events", str(sid), "--db", str(db)])
    header, *rows = result.output.splitlines()
    assert header.split()[:4] == ["SEQ", "OFFSET", "TYPE", "IDS"]
    assert header.index("IDS") == 65 and all(row[64] == " " for row in rows)  # after the type: aligned
    from inspector.display import fit_middle

    cut = fit_middle("response.output_audio_transcript.delta", 20)
    assert len(cut) == 20 and cut.endswith("delta") and "…" in cut
    none = CliRunner().invoke(main, ["events", str(sid), "--db", str(db), "--type", "nothing.*"])
    assert none.exit_code == 0 and none.stdout == "" and "0 events match" in none.stderr


def test_the_groups_db_option_is_the_default_of_the_command_and_of_the_ui(tmp_path):
    db = tmp_path / "x.db"
    sid = _db_with_a_session(db)
    listed = CliRunner().invoke(main, ["--db", str(db), "sessions"])
    assert listed.exit_code == 0 and f"{sid:>4}" in listed.output.splitlines()[1]
    missing = CliRunner().invoke(main, ["--db", str(tmp_path / "nope.db")])  # the UI on that file
    assert missing.exit_code == 1 and "no database at" in missing.output and "nope.db" in missing.output


def test_sessions_has_a_label_column_with_its_header(tmp_path):
    db = tmp_path / "x.db"
    sid = _db_with_a_session(db)
    with Store(db) as store:
        store.set_label(sid, "nightly")
    header, row = CliRunner().invoke(main, ["sessions", "--db", str(db)]).output.splitlines()
    assert header.rstrip().endswith("LABEL") and row.index("[nightly]") == header.index("LABEL")
