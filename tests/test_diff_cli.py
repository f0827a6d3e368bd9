"""`inspector diff` end to end: sessions and files, edited copies of the demo recording, the same
conversation recorded twice through the tap against the mock, exit codes and error lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, run_tap
from websockets.asyncio.client import connect

from inspector.cli import main
from inspector.formats import import_files
from inspector.formats.jsonl import export_jsonl
from inspector.mock.server import run_mock
from inspector.store import Store

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recordings" / "samples" / "demo.jsonl"
TOOL_ROUND = FIXTURES / "tool_call_round.jsonl"


def diff(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(main, ["diff", *args])
    if "--json" in args and result.exit_code in (0, 1):
        return result.exit_code, json.loads(result.stdout)
    return result.exit_code, result.output


def edited_demo(tmp_path: Path, name: str, edit) -> Path:
    """A copy of the demo recording with `edit(seq, frame_record)` applied to each frame line:
    it returns the record to write, or None to drop the frame."""
    header, *frames = DEMO.read_text().splitlines()
    kept = []
    for seq, line in enumerate(frames, 1):
        record = json.loads(line)
        if "text" in record:
            record = edit(seq, record)
        if record is not None:
            kept.append(json.dumps(record))
    head = json.loads(header)
    head["frames"] = sum(1 for line in kept if '"text"' in line)
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join([json.dumps(head), *kept]) + "\n")
    return path


def edit_frame(target: int, change):
    def edit(seq: int, record: dict[str, Any]) -> dict[str, Any] | None:
        if seq != target:
            return record
        data = change(json.loads(record["text"]))
        return None if data is None else {**record, "text": json.dumps(data)}

    return edit


def differences(report: dict[str, Any]) -> list[tuple[str, str, int | None, int | None, list[str]]]:
    return [
        (d["kind"], d["turn"], d["a_seq"], d["b_seq"], [f["path"] for f in d.get("fields", [])])
        for d in report["differences"]
    ]


def test_a_fixture_diffed_with_itself_is_equivalent_in_every_mode():
    for mode in ("exact", "content", "structure"):
        code, report = diff(str(TOOL_ROUND), str(TOOL_ROUND), "--mode", mode, "--json")
        assert (code, report["equivalent"], report["counts"]["changed"]) == (0, True, 0), mode
        assert report["counts"]["equal"] == report["a"]["compared"] > 0


def test_a_session_and_its_json_lines_export_are_equivalent(tmp_path: Path):
    db = tmp_path / "d.db"
    with Store(db) as store:
        (imported,) = import_files(store, [TOOL_ROUND])
        with (tmp_path / "export.jsonl").open("wb") as out:
            export_jsonl(store, imported.session_id, out)
    code, output = diff(str(imported.session_id), str(tmp_path / "export.jsonl"), "--db", str(db), "--mode", "exact")
    assert code == 0 and output.startswith("EQUIVALENT under exact")


def test_a_removed_event_is_only_in_a_in_its_turn(tmp_path: Path):
    edited = edited_demo(tmp_path, "removed", edit_frame(31, lambda data: None))  # turn 1's rate_limits
    code, report = diff(str(DEMO), str(edited), "--json")
    assert code == 1
    assert differences(report) == [("only_a", "turn 1", 31, None, [])]
    assert report["counts"]["only_a"] == 1 and report["first_divergence"]["a_seq"] == 31


def test_a_changed_field_is_reported_with_its_path_and_both_values(tmp_path: Path):
    edited = edited_demo(tmp_path, "field", edit_frame(26, lambda data: {**data, "text": "Something else."}))
    code, report = diff(str(DEMO), str(edited), "--json")
    assert code == 1
    assert differences(report) == [("changed", "turn 1", 26, 26, ["$.text"])]
    (field,) = report["differences"][0]["fields"]
    assert field["b"] == "Something else." and field["a"] != field["b"]
    # The assistant's text is free text: under `structure` only its presence counts.
    assert diff(str(DEMO), str(edited), "--mode", "structure")[0] == 0


def test_a_changed_type_pairs_the_two_events_with_the_type_path(tmp_path: Path):
    edited = edited_demo(tmp_path, "type", edit_frame(214, lambda data: {**data, "type": "rate_limits.renamed"}))
    code, report = diff(str(DEMO), str(edited), "--json")
    assert code == 1
    assert differences(report) == [("changed", "turn 2", 214, 214, ["$.type"])]


def test_a_changed_tool_argument_differs_under_content_and_structure(tmp_path: Path):
    edited = edited_demo(tmp_path, "tool", edit_frame(231, lambda data: {**data, "arguments": '{"city": "Rome"}'}))
    for mode in ("content", "structure"):
        code, report = diff(str(DEMO), str(edited), "--json", "--mode", mode)
        assert code == 1, mode
        assert differences(report) == [("changed", "turn 3", 231, 231, ["$.arguments"])], mode


def test_a_slower_turn_is_flagged_only_with_slower_than(tmp_path: Path):
    def later(seq: int, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "t_ns": record["t_ns"] + 1_000_000_000} if seq >= 8 else record  # turn 1 waits 1 s more

    edited = edited_demo(tmp_path, "slow", later)
    assert diff(str(DEMO), str(edited))[0] == 0  # timing is not content
    code, report = diff(str(DEMO), str(edited), "--json", "--slower-than", "1.5")
    assert code == 1 and report["counts"]["slow_turns"] == 1
    (slow,) = [t for t in report["turns"] if t["slower"]]
    assert (slow["a_turn"], slow["slower"]) == (1, ["to_created_ms", "to_first_output_ms", "to_done_ms"])
    assert slow["timing"]["to_created_ms"]["b"] - slow["timing"]["to_created_ms"]["a"] == pytest.approx(1000)
    # Turns whose input and answer both moved by the same second are not slower.
    assert differences(report) == []


def test_skip_type_ignore_and_filter_narrow_what_is_compared(tmp_path: Path):
    edited = edited_demo(tmp_path, "field", edit_frame(26, lambda data: {**data, "text": "Something else."}))
    assert diff(str(DEMO), str(edited), "--skip-type", "response.output_text.*")[0] == 0
    assert diff(str(DEMO), str(edited), "--ignore", "$.text")[0] == 0
    assert diff(str(DEMO), str(edited), "--filter", "-type:response.output_text.done")[0] == 0
    code, report = diff(str(DEMO), str(edited), "--filter", "type:response.*", "--json")
    assert code == 1 and report["filter"] == "type:response.*"


def test_markdown_report_has_a_verdict_a_turns_table_and_the_differences(tmp_path: Path):
    edited = edited_demo(tmp_path, "tool", edit_frame(231, lambda data: {**data, "arguments": '{"city": "Rome"}'}))
    code, output = diff(str(DEMO), str(edited), "--markdown")
    assert code == 1
    assert output.startswith("### ❌ DIFFERENT under content: 1 changed")
    assert "| turn 3 | user_text | 1 | 0 | 0 |" in output
    assert "`$.arguments`" in output and "Rome" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["99", str(DEMO)], "no session 99"),
        (["nope.jsonl", str(DEMO)], "nope.jsonl: no such file, and not a session id"),
        ([str(DEMO), str(DEMO), "--filter", "type:"], "bad filter"),
        ([str(DEMO), str(DEMO), "--ignore", "response.usage"], "bad path"),
    ],
)
def test_errors_exit_2_with_one_line_and_no_traceback(tmp_path: Path, args: list[str], message: str):
    db = tmp_path / "d.db"
    with Store(db) as store:
        import_files(store, [TOOL_ROUND])
    bad_file = tmp_path / "bad.jsonl"
    bad_file.write_text("not json\n")
    code, output = diff(*args, "--db", str(db))
    assert code == 2 and message in output and "Traceback" not in output
    code, output = diff(str(bad_file), str(DEMO), "--db", str(db))
    assert code == 2 and output.startswith("error: ") and "Traceback" not in output


# -- the same conversation recorded twice through the tap against the mock ---------------------


async def converse(url: str) -> None:
    """A text turn and a tool round, waiting for each response to finish."""
    async with connect(url + "/v1/realtime?model=gpt-realtime", compression=None) as ws:

        async def send(event: dict[str, Any]) -> None:
            await ws.send(json.dumps(event))

        async def until_done() -> dict[str, Any]:
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "response.done":
                    return event

        tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
        await send(
            {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"], "tools": [tool]}}
        )
        for text in ("Hello there", "What's the weather in Paris?"):
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
            await send({"type": "conversation.item.create", "item": item})
            await send({"type": "response.create"})
            done = await until_done()
        for output in done["response"]["output"]:
            if output["type"] == "function_call":
                answer = {"type": "function_call_output", "call_id": output["call_id"], "output": '{"temp": 21}'}
                await send({"type": "conversation.item.create", "item": answer})
                await send({"type": "response.create"})
                await until_done()


async def record_once(db: Path, seed: int) -> None:
    async with run_mock(seed=seed, latency="none") as mock, run_tap(mock.url, db) as tap:
        await converse(f"ws://127.0.0.1:{tap.port}")


async def test_the_same_conversation_recorded_twice_through_the_tap_is_equivalent(tmp_path: Path):
    db = tmp_path / "twice.db"
    await record_once(db, seed=1)
    await record_once(db, seed=2)  # another seed: every id differs
    with Store(db) as store:
        first, second = sorted(s.id for s in store.sessions())
        ids = {ev.response_id for s in (first, second) for ev in store.events(s) if ev.response_id}
    assert len(ids) >= 6  # three responses each, none shared
    code, report = diff(str(first), str(second), "--db", str(db), "--json")
    assert code == 0, differences(report)
    assert report["counts"]["equal"] > 20 and report["a"]["turns"] == 2
    code, report = diff(str(first), str(second), "--db", str(db), "--json", "--mode", "exact")
    assert code == 1 and report["counts"]["changed"] > 0  # exact mode sees the new ids
