"""The TUI's diff screen, driven by its Pilot: opened from two marked sessions or from a session
and a file, aligned rows, n/N between differences, the field-level detail, mode switching."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from inspector.diff import Mode, RowKind
from inspector.protocol import Direction
from inspector.store import FrameIn, Store
from inspector.tui.screens.dialogs import PromptScreen
from inspector.tui.screens.diff import DiffScreen
from inspector.tui.screens.session import SessionScreen
from inspector.tui.screens.sessions import SessionsScreen
from tests.tui_helpers import FIXTURES, build_db, fixture_frames, running_app, settle

TOOL_ROUND = "tool_call_round"


def _edited_tool_round() -> list[FrameIn]:
    """The tool round with its answer's text changed and its tool argument changed."""
    frames = []
    for frame in fixture_frames(TOOL_ROUND):
        data = orjson.loads(frame.data)
        if data.get("type") == "response.output_text.done":
            data["text"] = "It is sunny in London."
        if data.get("type") == "response.function_call_arguments.done":
            data["arguments"] = '{"city": "Paris"}'
        frames.append(FrameIn(frame.direction, frame.t_ns, orjson.dumps(data).decode()))
    return frames


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "inspector.db"
    ids = build_db(path, (TOOL_ROUND, "text_in_audio_out_turn"))
    with Store(path) as store:
        ids["edited"] = store.import_session(_edited_tool_round(), source="import", label="edited")
    return path, ids


def _title(app) -> str:
    return str(app.screen.query_one("#diff-title").render())


def _detail(app) -> str:
    return str(app.screen.query_one("#diff-detail-text").render())


async def test_two_marked_sessions_open_the_diff_screen_at_the_first_difference(db):
    path, ids = db
    async with running_app(path) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        # newest first: edited, text_in_audio_out_turn, tool_call_round
        await pilot.press("m", "j", "j", "m", "D")  # A = edited, B = the original tool round
        await settle(app, pilot)
        diff = app.screen
        assert isinstance(diff, DiffScreen) and diff.report is not None
        assert diff.sources == (ids["edited"], ids[TOOL_ROUND])
        assert "different" in _title(app) and "changed" in _title(app)
        report = diff.report
        first = report.first_divergence
        assert first is not None and diff.diff_list.cursor == first
        assert report.rows.kinds[first] == RowKind.CHANGED
        assert "$.arguments" in _detail(app) or "$.item.arguments" in _detail(app)
        # n walks every difference in order, then says there is none after the last
        seen = [diff.diff_list.cursor]
        for _ in range(report.counts.differences - 1):
            await pilot.press("n")
            seen.append(diff.diff_list.cursor)
        assert seen == report.difference_rows()
        await pilot.press("N")
        assert diff.diff_list.cursor == seen[-2]
        await pilot.press("escape")
        assert isinstance(app.screen, SessionsScreen)


async def test_structure_mode_forgives_the_text_but_not_the_tool_argument(db):
    path, ids = db
    async with running_app(path) as (app, pilot):
        app.push_screen(DiffScreen(ids["edited"], ids[TOOL_ROUND]))
        await settle(app, pilot)
        diff = app.screen
        assert isinstance(diff, DiffScreen)
        content_paths = {c.path for changes in diff.report.changes.values() for c in changes}
        assert any("text" in p for p in content_paths)
        await pilot.press("m")  # content → structure
        await settle(app, pilot)
        assert diff.mode is Mode.STRUCTURE and "mode structure" in _title(app)
        structure_paths = {c.path for changes in diff.report.changes.values() for c in changes}
        assert structure_paths and all("arguments" in p for p in structure_paths)


async def test_a_session_and_its_own_file_are_equivalent_from_diff_with(db):
    path, ids = db
    fixture = FIXTURES / f"{TOOL_ROUND}.jsonl"
    async with running_app(path, ids[TOOL_ROUND]) as (app, pilot):
        assert isinstance(app.screen, SessionScreen)
        await pilot.press("D")
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one("Input").value = str(fixture)
        await pilot.press("enter")
        await settle(app, pilot)
        diff = app.screen
        assert isinstance(diff, DiffScreen) and diff.sources == (ids[TOOL_ROUND], fixture)
        assert diff.report is not None and diff.report.equivalent
        assert "equivalent" in _title(app)
        await pilot.press("n")  # nothing to jump to: it says so and stays
        assert diff.diff_list.cursor == 0


async def test_diff_with_a_missing_file_is_refused_and_diff_without_two_marks_warns(db, tmp_path):
    path, ids = db
    async with running_app(path, ids[TOOL_ROUND]) as (app, pilot):
        await pilot.press("D")
        app.screen.query_one("Input").value = str(tmp_path / "nope.jsonl")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SessionScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, SessionsScreen)
        await pilot.press("m", "D")  # one mark only
        await settle(app, pilot)
        assert isinstance(app.screen, SessionsScreen)


async def test_an_unknown_session_is_an_error_line_not_a_crash(db):
    path, ids = db
    async with running_app(path) as (app, pilot):
        app.push_screen(DiffScreen(ids[TOOL_ROUND], 999))
        await settle(app, pilot)
        assert "cannot compare" in _title(app) and "999" in _title(app)
        assert app.is_running


async def test_rows_show_both_sides_and_gaps(db):
    path, ids = db
    frames = fixture_frames(TOOL_ROUND)
    with Store(path) as store:  # one event fewer on B's side
        shorter = store.import_session(frames[:5] + frames[6:], source="import")
    async with running_app(path) as (app, pilot):
        app.push_screen(DiffScreen(ids[TOOL_ROUND], shorter))
        await settle(app, pilot)
        diff = app.screen
        report = diff.report
        only_a = [i for i, k in enumerate(report.rows.kinds) if k == RowKind.ONLY_A]
        assert len(only_a) == 1 and report.rows.b_seqs[only_a[0]] == 0
        line = diff.diff_list.render_line(only_a[0] - diff.diff_list.scroll_offset.y).text
        assert " - " in line and frames[5].direction == Direction.SERVER


async def test_replay_screen_replays_against_the_mock_then_opens_the_diff(db):
    from inspector.tui.screens.replay import ReplayScreen

    path, ids = db
    async with running_app(path, ids["text_in_audio_out_turn"]) as (app, pilot):
        await pilot.press("R")
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        screen.query_one("#pace").value = "fast"
        await pilot.press("enter")
        assert "pacing is original, asap or a speed factor" in str(screen.query_one("#replay-status").render())
        screen.query_one("#pace").value = "asap"
        await pilot.press("enter")
        for _ in range(100):  # the replay runs on its own thread and loop
            await settle(app, pilot)
            if isinstance(app.screen, DiffScreen):
                break
        diff = app.screen
        assert isinstance(diff, DiffScreen) and screen.result is not None
        replay_id = screen.result.session_id
        assert diff.sources == (ids["text_in_audio_out_turn"], replay_id) and diff.mode is Mode.CONTENT
        with Store(path) as store:
            assert store.session(replay_id).replay_of == ids["text_in_audio_out_turn"]
        await pilot.press("escape")
        assert app.screen is screen and "recorded as session" in str(screen.query_one("#replay-status").render())
