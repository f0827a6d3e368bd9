"""Snapshots of the TUI (pytest-textual-snapshot; Textual is pinned). The databases are imported
from the fixtures with pinned start times and 40 ms between frames, and the clock is UTC, so
the pictures never change unless the UI does. Update with `pytest --snapshot-update`."""

from __future__ import annotations

import time

import pytest

from inspector.tui.app import make_app
from tests.tui_helpers import build_db

SIZE = (140, 36)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "inspector.db"
    return path, build_db(path)


async def _settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_sessions_screen(db, snap_compare, monkeypatch):
    """The home screen: five imported sessions, newest (id 5) first and highlighted, with
    start times 2025-01-02 03:04:05 … 07:04:05 UTC, durations, model gpt-realtime, source
    import, client/server counts, status closed (after a one-column mark column, empty: no
    session is marked); the footer shows ⏎ Open, Filter, Sort, Mark for diff, D Diff marked,
    Label, Delete, Quit, Help."""
    path, _ = db
    monkeypatch.chdir(path.parent)  # the title shows the database path: keep it constant
    assert snap_compare(make_app(path.name), terminal_size=SIZE)


def test_session_screen_with_filter(db, snap_compare):
    """Session 2 (the tool call round) filtered with `type:response.* -type:*.delta`: 14 of 50
    events match (status line under the filter bar); rows show seq, +time, arrows (→ client in
    the primary colour, ← server in green), type, size and summary; the first row (seq 5,
    response.create) is highlighted and its JSON is in the detail pane on the right."""
    path, ids = db

    async def run_before(pilot) -> None:
        await _settle(pilot)
        pilot.app.screen.set_filter_text("type:response.* -type:*.delta")
        await _settle(pilot)

    assert snap_compare(make_app(path, ids["tool_call_round"]), terminal_size=SIZE, run_before=run_before)


def test_session_screen_with_a_bad_filter(db, snap_compare):
    """The filter bar holds `type:response.* foo:bar`; under it, in red, a caret points at
    `foo:bar` with "unknown field 'foo' …". The list still shows all 50 events."""
    path, ids = db

    async def run_before(pilot) -> None:
        await _settle(pilot)
        pilot.app.screen.filter_bar.input.value = "type:response.* foo:bar"
        await pilot.pause()

    assert snap_compare(make_app(path, ids["tool_call_round"]), terminal_size=SIZE, run_before=run_before)


def test_detail_pane_with_audio_summary(db, snap_compare):
    """Session 4 (server VAD audio) on event 4, an `input_audio_buffer.append`: the detail pane
    shows pretty, highlighted JSON where the audio is `"<audio … ms, … B>"` instead of base64."""
    path, ids = db

    async def run_before(pilot) -> None:
        await _settle(pilot)
        pilot.app.screen.event_list.go_to_seq(4)
        await _settle(pilot)

    assert snap_compare(make_app(path, ids["audio_in_server_vad_turn"]), terminal_size=SIZE, run_before=run_before)


def test_turns_view(db, snap_compare):
    """The turns of session 5 (three server-VAD turns): one row per turn with the user's
    transcript, the answer's transcript, ms to first output with a bar per turn (░ ▒ █; slow
    turns in red with "slow"), status completed, then the latencies in ms from the input
    (→created, →done); the footer starts with ⏎ Go to turn."""
    path, ids = db

    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("v")
        await _settle(pilot)

    assert snap_compare(
        make_app(path, ids["input_audio_retention_segments_three_server_vad_turns"]),
        terminal_size=SIZE,
        run_before=run_before,
    )


def test_help_screen(db, snap_compare):
    """The help screen over the session screen: every key binding grouped by Everywhere,
    Sessions (with D Diff marked), Session (with D Diff with and R Replay), Event list, Filter
    bar, Turns, Diff and Replay (the first of these on screen, the rest below it)."""
    path, ids = db

    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(path, ids["tool_call_round"]), terminal_size=(140, 60), run_before=run_before)


def test_diff_screen(tmp_path, snap_compare):
    """The diff screen on the tool-call fixture (A) and a copy that says Paris wherever it said
    London (B): the header says "different · 33 equal · 17 changed · 0 only in A · 0 only in B ·
    2 turns", mode content; aligned rows with A's events on the left and B's on the right, turn
    labels at "set-up" and "turn 1", "~" between changed pairs; the cursor on the first
    difference (row 4, the user's question) with the turn's timings and the JSON path
    $.item.content[0].text with both values (A in red, B in green) in the detail pane; the
    footer shows n Next diff, N Prev diff, m Mode, d Detail pane."""
    from inspector.store import FrameIn, Store
    from inspector.tui.screens.diff import DiffScreen
    from tests.tui_helpers import fixture_frames

    path = tmp_path / "inspector.db"
    ids = build_db(path, ("tool_call_round",))
    edited = []
    for frame in fixture_frames("tool_call_round"):
        edited.append(FrameIn(frame.direction, frame.t_ns, frame.data.replace("London", "Paris")))
    with Store(path) as store:
        other = store.import_session(edited, source="import")

    async def run_before(pilot) -> None:
        await _settle(pilot)
        pilot.app.push_screen(DiffScreen(ids["tool_call_round"], other))
        await _settle(pilot)

    assert snap_compare(make_app(path), terminal_size=SIZE, run_before=run_before)
