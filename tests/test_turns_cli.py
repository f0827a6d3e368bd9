"""`inspector turns`: the one turn model on the command line, as a table and as JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from inspector.cli import main
from inspector.formats import import_files
from inspector.store import Store

ROOT = Path(__file__).resolve().parents[1]
TOOL_ROUND = ROOT / "tests" / "fixtures" / "openai-realtime" / "tool_call_round.jsonl"
DEMO = ROOT / "recordings" / "samples" / "demo.jsonl"


def _import(db: Path, *paths: Path) -> list[int]:
    with Store(db) as store:
        return [imp.session_id for imp in import_files(store, list(paths))]


def test_turns_json_lists_each_turn_with_trigger_tools_and_latencies(tmp_path: Path):
    db = tmp_path / "t.db"
    tool_round, demo = _import(db, TOOL_ROUND, DEMO)
    result = CliRunner().invoke(main, ["turns", str(demo), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    turns = [json.loads(line) for line in result.output.splitlines()]
    assert [t["trigger"] for t in turns] == ["user_text", "user_audio", "user_text", "user_text"]
    assert [t["turn"] for t in turns] == [1, 2, 3, 4]
    assert turns[2]["tool_calls"][0]["name"] == "get_weather" and turns[2]["tool_calls"][0]["output"]
    assert len(turns[2]["statuses"]) == 2  # the tool round is part of turn 3
    assert turns[3]["statuses"] == ["cancelled (client_cancelled)"]
    assert all(t["to_created_ms"] > 0 for t in turns)  # the demo sample carries real timing

    untimed = CliRunner().invoke(main, ["turns", str(tool_round), "--db", str(db), "--json"])
    (turn,) = [json.loads(line) for line in untimed.output.splitlines()]
    assert (turn["to_created_ms"], turn["to_first_output_ms"], turn["to_done_ms"]) == (None, None, None)


def test_turns_table_shows_unknown_latency_as_a_dash_and_names_the_tool(tmp_path: Path):
    db = tmp_path / "t.db"
    (sid,) = _import(db, TOOL_ROUND)
    result = CliRunner().invoke(main, ["turns", str(sid), "--db", str(db)])
    assert result.exit_code == 0
    header, row = result.output.splitlines()
    assert header.split()[:4] == ["#", "TRIGGER", "INPUT", "STATUS"]
    assert row.split()[:2] == ["1", "user_text"]
    assert "completed, completed" in row and "get_weather(" in row
    assert "—" in row and " 0 " not in row


def test_turns_of_an_unknown_session_is_an_error_line(tmp_path: Path):
    db = tmp_path / "t.db"
    _import(db, TOOL_ROUND)
    result = CliRunner().invoke(main, ["turns", "99", "--db", str(db)])
    assert result.exit_code == 1
    assert "no session 99" in result.output
