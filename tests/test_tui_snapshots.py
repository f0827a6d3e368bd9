"""Snapshots of the TUI (pytest-textual-snapshot; Textual is pinned). The databases are imported
from the fixtures with pinned start times and 40 ms between frames, and the clock is UTC, so
the pictures never change unless the UI does. Update with `pytest --snapshot-update`."""

from __future__ import annotations

import time

import pytest

from inspector.store import Store
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
    start times 2025-01-02 03:04:05 … 07:04:05 UTC, durations, status closed, errors (empty),
    client/server counts, model gpt-realtime, source import (after a one-column mark column,
    empty: no session is marked); the footer starts with ? Help, then ⏎ Open, Filter, Sort,
    Mark for diff, D Diff marked, Label, Delete, Quit."""
    path, _ = db
    monkeypatch.chdir(path.parent)  # the title shows the database path: keep it constant
    assert snap_compare(make_app(path.name), terminal_size=SIZE)


def test_session_screen_with_filter(db, snap_compare):
    """Session 2 (the tool call round) filtered with `type:response.* -type:*.delta`: 14 of 50
    events match (status line under the filter bar); rows show seq, +time, arrows (→ client in
    the primary colour, ← server in green), type, size and summary; the first row (seq 5,
    response.create) is highlighted and its JSON is in the detail pane on the right. The panes
    are titled Events (its rule lit: it has the keys) and Detail."""
    path, ids = db

    async def run_before(pilot) -> None:
        await _settle(pilot)
        pilot.app.screen.set_filter_text("type:response.* -type:*.delta")
        await _settle(pilot)

    assert snap_compare(make_app(path, ids["tool_call_round"]), terminal_size=SIZE, run_before=run_before)


def test_session_screen_with_a_bad_filter(db, snap_compare):
    """The filter bar holds `type:response.* foo:bar`; under it, in red, a caret points at
    `foo:bar` with "unknown field 'foo' …". The list still shows all 50 events, and the status
    line (in the warning colour) says so: "50 events · for no filter; enter applies the text
    above". Rows 11 and 35 are the collapsed runs of deltas (▸12× …, ▸11× …, "in 440ms", "in 400ms")."""
    path, ids = db

    async def run_before(pilot) -> None:
        await _settle(pilot)
        pilot.app.screen.filter_bar.input.value = "type:response.* foo:bar"
        await pilot.pause()

    assert snap_compare(make_app(path, ids["tool_call_round"]), terminal_size=SIZE, run_before=run_before)


def test_detail_pane_with_audio_summary(db, snap_compare):
    """Session 4 (server VAD audio) on event 4, an `input_audio_buffer.append`: the detail pane
    shows pretty, highlighted JSON where the audio is `"<audio … ms, … B>"` instead of base64.
    The jump opened the run of 55 appends it is in: row 4 is marked ▾ and 5, 6, … follow."""
    path, ids = db

    async def run_before(pilot) -> None:
        await _settle(pilot)
        pilot.app.screen.event_list.go_to_seq(4)
        await _settle(pilot)

    assert snap_compare(make_app(path, ids["audio_in_server_vad_turn"]), terminal_size=SIZE, run_before=run_before)


def test_turns_view(db, snap_compare):
    """The turns of session 5 (three server-VAD turns): one row per turn with the user's
    transcript, the answer's transcript, the latencies in ms from the input (→created,
    →output, →done), a bar per turn (░ ▒ █; slow turns in red with "slow") and status
    completed; the headline says "3 turns · 0 slow (→output > 1,000 ms)" and the legend under
    it says what each latency runs to and what the bar shows; the footer starts with ⏎ Go to
    turn, ? Help."""
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
    bar, Turns, Diff, Replay and the filter language; opened from the session screen, it is
    scrolled to the Session section (its first line at the top, z / Z under Event list)."""
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
    footer shows n Next diff, N Prev diff, m Mode, d Detail pane. The panes are titled "A | B"
    (its top rule lit: it has the keys) and "Detail"."""
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


def _collapsed_run(db, snap_compare, size: tuple[int, int]) -> bool:
    path, ids = db

    async def run_before(pilot) -> None:
        await _settle(pilot)
        el = pilot.app.screen.event_list
        el.move_cursor(el.row_of(11))
        await _settle(pilot)

    return snap_compare(make_app(path, ids["tool_call_round"]), terminal_size=size, run_before=run_before)


def test_session_screen_with_a_collapsed_delta_run_80x24(db, snap_compare):
    """Session 2 at 80×24: the list pane titled "Events" (its top rule lit: it has the keys),
    the detail pane "Detail" beside it. The cursor is on seq 11, one row `←▸12× re…guments.delta`
    of 3.1KB for the twelve function-call argument deltas (11–22); the next row is seq 23. At
    this width the summary column does not fit beside the detail pane, the count (before the
    type) does. The detail pane shows event 11's JSON under "the first of 12 deltas, #11–#22
    (z shows them all)"; the filter hint fits."""
    assert _collapsed_run(db, snap_compare, (80, 24))


def test_session_screen_with_a_collapsed_delta_run_200x50(db, snap_compare):
    """Session 2 at 200×50, all 29 rows on screen: seq 11 (highlighted) stands for the twelve
    argument deltas (`▸12× respon…_call_arguments.delta`, 3.1KB, `in 440ms: { "city": "London" }`)
    and seq 35 for the eleven text deltas (`▸11× response.output_text.delta`, `in 400ms: It is
    foggy and 12 degrees in London…`); the detail pane's title says "the first of 12 deltas,
    #11–#22 (z shows them all)"; the ids column shows (item_…, resp_…); the status line says "50 events"; the footer
    lists z Fold deltas."""
    assert _collapsed_run(db, snap_compare, (200, 50))


# -- each screen at 80×24 and at 200×50 ----------------------------------------------------------

SIZES = {"80x24": (80, 24), "200x50": (200, 50)}


@pytest.mark.parametrize("size", SIZES)
def test_sessions_screen_at(size, db, snap_compare, monkeypatch):
    """The five sessions. At 80×24: ID, Started (01-02 07:04, no year or seconds), Dur,
    Status (closed), Err, Model, Source and Label columns, the client and server counts left
    out to keep the label 16 wide, and "? Help" first in the footer. At 200×50: every column
    with its full name (Started 2025-01-02 07:04:05, Duration, Status, Errors, Client, Server,
    Model, Source, Label)."""
    path, _ = db
    monkeypatch.chdir(path.parent)
    with Store(path) as store:
        store.set_label(1, "the first fixture, a text turn with audio out")
    assert snap_compare(make_app(path.name), terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_turns_view_at(size, db, snap_compare):
    """The tool-call session's turn: at 80×24 the texts are cut so that →created, →output,
    →done and Status are on screen (no bar), the legend wraps; at 200×50 the texts are whole,
    the bar column (░▒█) shows before the status."""
    path, ids = db

    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("v")
        await _settle(pilot)

    assert snap_compare(make_app(path, ids["tool_call_round"]), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen_at(size, db, snap_compare, monkeypatch):
    """Help opened from the sessions screen, at its Sessions section: at 80×24 the panel fits
    the terminal (its right border on screen); at 200×50 it is 84 wide, centred."""
    path, _ = db
    monkeypatch.chdir(path.parent)

    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(path.name), terminal_size=SIZES[size], run_before=run_before)
