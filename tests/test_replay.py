"""Replay over real sockets on 127.0.0.1: against the mock, through the tap, against stub targets
that stall, make no tool call or require a key; and the command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, mock_in_a_thread, run_tap, run_upstream
from websockets.exceptions import ConnectionClosed

from inspector.cli import main
from inspector.formats import import_files
from inspector.mock.server import run_mock
from inspector.protocol import Direction
from inspector.replay.plan import Pace
from inspector.replay.runner import ReplayOptions, replay_sessions
from inspector.replay.tracker import types_per_turn
from inspector.store import FrameIn, SessionStatus, Store

ASAP = ReplayOptions(pace=Pace.ASAP, timeout=0.5)
AUDIO_FIXTURES = {"audio_in_server_vad_turn", "input_audio_retention_segments_three_server_vad_turns"}


def imported(db: Path, *names: str) -> list[int]:
    with Store(db) as store:
        return [i.session_id for i in import_files(store, [FIXTURES / f"{n}.jsonl" for n in names])]


def shape(store: Store, session_id: int):
    return types_per_turn((e.direction, e.frame) for e in store.events(session_id, with_frames=True))


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.jsonl")))
async def test_each_fixture_replays_against_the_mock_with_the_originals_events_per_turn(db_path, name):
    (original,) = imported(db_path, name)
    (result,) = await replay_sessions(db_path, [original], options=ASAP)
    with Store(db_path) as store:
        info = store.session(result.session_id)
        assert (info.source, info.replay_of, info.status) == ("replay", original, SessionStatus.CLOSED)
        assert info.error_events == 0
        before, after = shape(store, original), shape(store, result.session_id)
    assert result.counts.sent == result.counts.client_events > 0
    if name in AUDIO_FIXTURES:
        # Known difference: the fixtures' appends are a few bytes of silence (the audio was cut),
        # so the mock's VAD hears no speech: no turn, and the final wait times out.
        assert len(after) == 1 and len(before) > 1
        assert [d.kind for d in result.divergences] == ["timeout"] and result.exit_code == 1
    else:
        assert after == before
        assert result.divergences == [] and result.exit_code == 0


async def test_the_tool_output_carries_the_mocks_call_id_and_the_mock_accepts_it(db_path):
    (original,) = imported(db_path, "tool_call_round")
    (result,) = await replay_sessions(db_path, [original], options=ASAP)
    with Store(db_path) as store:
        events = [(e.direction, e.data()) for e in store.events(result.session_id, with_frames=True)]
        recorded_call = next(d["call_id"] for _, d in store_events(store, original) if "call_id" in d)
    call = next(d["call_id"] for dr, d in events if d["type"] == "response.function_call_arguments.done")
    out = next(
        d for dr, d in events if dr == Direction.CLIENT and d.get("item", {}).get("type") == "function_call_output"
    )
    assert out["item"]["call_id"] == call != recorded_call
    assert not [d for _, d in events if d["type"] == "error"]  # no invalid_tool_call_id
    assert result.counts.remapped == 1 and result.exit_code == 0


def store_events(store: Store, session_id: int):
    return [(e.direction, e.data()) for e in store.events(session_id, with_frames=True)]


async def answer_without_tools(ws, up) -> None:
    """A target that answers every response.create with a text response: never a tool call."""
    await ws.send(json.dumps({"type": "session.created", "session": {"id": "sess_x"}}))
    n = 0
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            kind = json.loads(message)["type"]
            if kind == "session.update":
                await ws.send(json.dumps({"type": "session.updated", "session": {}}))
            elif kind == "response.create":
                n += 1
                for event in ("response.created", "response.done"):
                    await ws.send(json.dumps({"type": event, "response": {"id": f"resp_{n}", "output": []}}))


async def test_a_target_that_makes_no_tool_call_gets_the_output_skipped_and_reported(db_path):
    (original,) = imported(db_path, "tool_call_round")
    async with run_upstream(answer_without_tools) as up:
        (result,) = await replay_sessions(db_path, [original], target=up.url + "/v1/realtime", options=ASAP)
    assert result.counts.skipped == 1 and result.exit_code == 1
    skipped = [d for d in result.divergences if d.kind == "skipped"]
    assert "call_uMNE0Myi2tDTPu0w" in skipped[0].message
    assert not any("function_call_output" in str(m) for m in up.received)


async def stall(ws, up) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            up.received.append(message)


async def test_a_target_that_stalls_times_out_the_wait_and_the_replay_ends(db_path):
    (original,) = imported(db_path, "text_in_audio_out_turn")
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with run_upstream(stall) as up:
        (result,) = await replay_sessions(db_path, [original], target=up.url + "/v1/realtime", options=ASAP)
    assert loop.time() - started < 10
    assert result.counts.timed_out >= 1 and result.exit_code == 1
    assert "session.created" in result.divergences[0].message


async def test_a_stop_request_ends_the_replay_and_keeps_what_was_recorded(db_path):
    (original,) = imported(db_path, "text_in_audio_out_turn")
    stop = asyncio.Event()

    def stop_soon(plan) -> None:  # as Ctrl-C would, once the replay is under way
        asyncio.get_running_loop().call_later(0.2, stop.set)

    async with run_upstream(stall) as up:
        options = ReplayOptions(pace=Pace.ASAP, timeout=30, wait=False)  # the end waits 30 s
        (result,) = await replay_sessions(
            db_path, [original], target=up.url + "/v1/realtime", options=options, stop=stop, progress=stop_soon
        )
    assert result.counts.sent == result.counts.client_events == len(up.received)
    assert result.interrupted and result.exit_code == 1
    with Store(db_path) as store:
        assert store.session(result.session_id).status == SessionStatus.INTERRUPTED


async def test_a_replay_through_the_tap_records_two_sessions_with_the_same_events_per_turn(db_path, tmp_path):
    (original,) = imported(db_path, "tool_call_round")
    tap_db = tmp_path / "tap.db"
    async with run_mock() as mock, run_tap(mock.url, tap_db) as tap:
        url = f"ws://127.0.0.1:{tap.port}/v1/realtime?model=gpt-realtime"
        (result,) = await replay_sessions(db_path, [original], target=url, options=ASAP)
    assert result.exit_code == 0
    with Store(db_path) as store, Store(tap_db) as tapped:
        (tap_session,) = tapped.sessions()
        assert shape(tapped, tap_session.id) == shape(store, result.session_id) == shape(store, original)


async def test_original_pacing_sends_at_the_recorded_offsets(db_path):
    offsets = [0.2, 0.25, 0.4, 0.7, 0.71, 0.9]
    append = '{"type":"input_audio_buffer.append","audio":"AAAAAAAA"}'
    with Store(db_path) as store:
        original = store.import_session([FrameIn(Direction.CLIENT, int(t * 1e9), append) for t in offsets])
    (result,) = await replay_sessions(db_path, [original])
    with Store(db_path) as store:
        sent = [e.t_ns / 1e9 for e in store.events(result.session_id) if e.direction == Direction.CLIENT]
    assert len(sent) == len(offsets)
    assert max(abs(a - b) for a, b in zip(sent, offsets)) < 0.015, (sent, offsets)


def test_the_key_from_api_key_env_reaches_the_target_and_no_file_the_run_wrote(tmp_path):
    db = tmp_path / "replay.db"
    (original,) = imported(db, "tool_call_round")
    key = "azure0123456789abcdefSECRETkey"  # not sk- shaped: the header itself must be kept out
    with mock_in_a_thread(require_key=True) as url:
        target = f"{url}/v1/realtime?model=gpt-realtime"
        refused = CliRunner().invoke(main, ["replay", str(original), "--db", str(db), "--target", target])
        result = CliRunner(env={"MY_KEY": key}).invoke(
            main,
            ["replay", str(original), "--db", str(db), "--target", target, "--api-key-env", "MY_KEY", "--pace", "asap"],
        )
    assert refused.exit_code == 1, refused.output  # no key: invalid_api_key, the replay diverges
    assert result.exit_code == 0, result.output
    assert "complete" in result.output and key not in result.output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


def test_plan_prints_the_waits_and_remaps_and_sends_nothing(tmp_path):
    db = tmp_path / "replay.db"
    (original,) = imported(db, "tool_call_round")
    result = CliRunner().invoke(main, ["replay", str(original), "--db", str(db), "--plan"])
    assert result.exit_code == 0, result.output
    assert "wait for session.created #1 of turn 0" in result.output
    assert "remap call_uMNE0Myi2tDTPu0w → the target's call #1 of turn 1" in result.output
    with Store(db) as store:
        assert len(store.sessions()) == 1


def test_replay_all_prints_a_line_per_session_a_total_and_fails_if_one_failed(tmp_path):
    db = tmp_path / "replay.db"
    imported(db, "tool_call_round", "audio_in_server_vad_turn")
    args = ["replay", "--all", "--db", str(db), "--pace", "asap", "--timeout", "0.5"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert " pass " in lines[1] and " FAIL " in lines[2]
    assert lines[-1] == "2 replayed, 1 passed, 1 failed"


def test_an_unknown_session_or_file_is_an_error_line_and_exit_2(tmp_path):
    db = tmp_path / "replay.db"
    imported(db, "tool_call_round")
    for source in ("99", str(tmp_path / "missing.jsonl")):
        result = CliRunner().invoke(main, ["replay", source, "--db", str(db)])
        assert result.exit_code == 2 and result.output.startswith("error: "), result.output


def test_a_file_source_is_imported_then_replayed_and_linked_to_it(tmp_path):
    db = tmp_path / "replay.db"
    source = FIXTURES / "message_history_seeding.jsonl"
    result = CliRunner().invoke(main, ["replay", str(source), "--db", str(db), "--pace", "asap"])
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        replay, imported_session = store.sessions()
        assert (imported_session.source, replay.replay_of) == ("import", imported_session.id)


def test_replay_diff_exits_0_when_the_replay_is_equivalent_and_1_when_it_differs(tmp_path):
    db = tmp_path / "replay.db"
    (original,) = imported(db, "text_in_audio_out_turn")
    asap = ["--db", str(db), "--pace", "asap"]
    # The recorded session holds the real model's words: against the mock, content differs.
    first = CliRunner().invoke(main, ["replay", str(original), *asap, "--diff"])
    assert first.exit_code == 1 and "DIFFERENT under content" in first.output, first.output
    # Under structure only the mock's extra rate_limits.updated remains (a known difference).
    with Store(db) as store:
        mock_recording = store.sessions()[0].id
        assert store.session(mock_recording).replay_of == original
    # A session recorded from the mock, replayed against the mock: equivalent, exit 0.
    again = CliRunner().invoke(main, ["replay", str(mock_recording), *asap, "--diff"])
    assert again.exit_code == 0 and "EQUIVALENT under content" in again.output, again.output
    wrong = CliRunner().invoke(main, ["replay", str(original), *asap, "--mode", "structure"])
    assert wrong.exit_code == 2 and "--mode applies to --diff" in wrong.output


async def test_a_replay_through_the_tap_diffs_as_equivalent_to_what_the_tap_recorded(db_path, tmp_path):
    from inspector.diff import DiffOptions, Mode, Side, diff_sides

    (original,) = imported(db_path, "tool_call_round")
    tap_db = tmp_path / "tap.db"
    async with run_mock() as mock, run_tap(mock.url, tap_db) as tap:
        url = f"ws://127.0.0.1:{tap.port}/v1/realtime?model=gpt-realtime"
        (result,) = await replay_sessions(db_path, [original], target=url, options=ASAP)
    with Store(db_path) as store, Store(tap_db) as tapped:
        (tap_session,) = tapped.sessions()
        report = diff_sides(
            Side(tapped, tap_session.id, "tap"), Side(store, result.session_id, "replay"), DiffOptions(mode=Mode.EXACT)
        )
    assert report.equivalent and report.counts.equal > 40  # the same frames, ids and all
