"""Runs of deltas in the event list: the row ↔ event map (pure), and the list itself collapsing
them, opening them with z / Z and when a jump lands inside one, under filters and while live."""

from __future__ import annotations

import asyncio
from array import array
from pathlib import Path

import pytest

from inspector.protocol import Direction
from inspector.store import Recorder, Store
from inspector.tui.runs import RunFinder, RunIndex
from inspector.tui.widgets import _event_rows
from tests.tui_helpers import build_db, running_app, settle

FUNCTION_ARGS = range(11, 23)  # tool_call_round: 12 `function_call_arguments.delta` of one item
TEXT = range(35, 46)  # and 11 `output_text.delta` of another


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "inspector.db"
    return path, build_db(path, ("tool_call_round", "audio_in_server_vad_turn"))


def test_runs_are_consecutive_deltas_of_one_type_and_item():
    finder = RunFinder()
    text, audio = "response.output_text.delta", "response.output_audio.delta"
    for row, key in [(1, (text, "a")), (2, (text, "a")), (3, (text, "a")), (4, (text, "b")), (5, (text, "b"))]:
        finder.feed(row, key)
    finder.feed(7, (text, "b"))  # row 6 is no delta: 7 stands alone
    finder.feed(8, (audio, "b"))  # another type: not the same run
    finder.feed(9, (audio, "b"))
    assert list(zip(finder.starts, finder.lengths)) == [(1, 3), (4, 2), (8, 2)]
    finder.feed(10, (audio, "b"))  # a live session's next delta grows the last run
    assert list(zip(finder.starts, finder.lengths)) == [(1, 3), (4, 2), (8, 3)]


def test_the_run_index_maps_rows_both_ways_and_toggles():
    runs = RunIndex(array("i", [2, 10]), array("i", [5, 3]), 20)  # rows 2–6 and 10–12
    assert runs.count == 20 - 4 - 2
    shown = [runs.event_row(row) for row in range(runs.count)]
    assert shown[:4] == [(0, None), (1, None), (2, 0), (7, None)]
    assert shown[6] == (10, 1) and shown[7] == (13, None) and shown[-1] == (19, None)
    assert [runs.display_row(r) for r in (0, 2, 4, 6, 7, 11, 13, 19)] == [0, 2, 2, 2, 3, 6, 7, 13]
    runs.toggle(0)
    assert runs.count == 18 and runs.event_row(4) == (4, None) and runs.opens_at(2) and not runs.opens_at(3)
    runs.set_collapsed(False)
    assert runs.count == 20 and runs.display_row(11) == 11 and runs.run_at(11) == 1 and runs.run_at(9) is None


async def test_deltas_collapse_into_one_row_with_count_duration_and_text(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, _pilot):
        el = app.screen.event_list
        assert el.event_count == 50 and el.row_count == 50 - 11 - 10
        row = el.row_of(11)
        assert el.row_of(17) == row and el.seq_at(row) == 11 and el.seq_at(row + 1) == 23
        text = el.render_line(row).text
        assert "←▸12× respon…_call_arguments.delta" in text and 'in 440ms: { "city": "Lond' in text
        assert "▸11× response.output_text.delta" in el.render_line(el.row_of(35)).text
        assert "in 400ms: It is foggy and" in el.render_line(el.row_of(35)).text
        assert app.screen.filter_bar.query_one("#filter-status").render().plain == "50 events"
    async with running_app(path, ids["audio_in_server_vad_turn"]) as (app, pilot):
        el = app.screen.event_list
        appends = el.render_line(el.row_of(4)).text  # the client's 55 input audio chunks
        assert "55× input_audio_buffer.append" in appends
        assert "in 2.2s: <audio 38 ms, 1.8" in appends  # 55 × 33 B at 48 B/ms
        assert el.seq_at(el.row_of(4) + 1) == 59
        # hiding the audio and the input transcription between them joins the answer's
        # transcript deltas into one run
        app.screen.set_filter_text("type:response.output_audio_transcript.delta")
        await settle(app, pilot)
        assert el.event_count > 10 and el.row_count == 1
        assert f"▸{el.event_count}× respon" in el.render_line(0).text


async def test_z_opens_and_closes_the_run_under_the_cursor_and_Z_all_of_them(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        el = app.screen.event_list
        title = app.screen.detail.query_one("#detail-title")
        el.move_cursor(el.row_of(11))
        await settle(app, pilot)
        assert "the first of 12 deltas, #11–#22 (z shows them all)" in str(title.render())
        await pilot.press("z")
        await settle(app, pilot)
        assert el.row_count == 40 and el.cursor_seq == 11 and "deltas" not in str(title.render())
        assert "←▾response.f" in el.render_line(el.cursor).text and "12×" not in el.render_line(el.cursor).text
        el.move_cursor(el.row_of(15))
        await pilot.press("z")  # inside the open run: closes it, the cursor on its row
        assert el.row_count == 29 and el.cursor_seq == 11
        await pilot.press("Z")
        assert el.row_count == 50 and el.cursor_seq == 11 and not el.collapse
        el.move_cursor(el.row_of(35))
        await pilot.press("Z")
        assert el.row_count == 29 and el.cursor_seq == 35
        el.move_cursor(0)
        await pilot.press("z")  # not a delta: says so, nothing moves
        assert el.row_count == 29 and any("no run of deltas" in str(n.message) for n in app._notifications)


async def test_a_jump_into_a_collapsed_run_opens_it_and_filters_match_the_events(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        screen, el = app.screen, app.screen.event_list
        screen.go_to_seq(40)  # what t/T, e/E, o and the turns view's enter call
        assert el.cursor_seq == 40 and el.row_count == 39
        # a filter matches the events inside runs; the runs are found again among its rows
        screen.set_filter_text("type:*.delta")
        await settle(app, pilot)
        assert len(el.seqs) == 23 and el.row_count == 2
        assert screen.filter_bar.query_one("#filter-status").render().plain == "23 of 50 events match"
        screen.go_to_seq(20)
        assert el.cursor_seq == 20 and el.row_count == 13
        screen.set_filter_text("london")  # matches deltas 14, 36… and done events between them
        await settle(app, pilot)
        assert all(el.contains(seq) for seq in el.seqs) and not el.contains(11)


async def test_runs_are_found_in_a_worker_in_a_large_session(db, monkeypatch):
    monkeypatch.setattr(_event_rows, "SYNC_EVENTS", 0)
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        el = app.screen.event_list
        await settle(app, pilot)
        assert el.row_count == 29 and el.seq_at(el.row_of(12)) == 11
        app.screen.set_filter_text("type:*.delta")
        await settle(app, pilot)
        await settle(app, pilot)  # the filter's worker, then the runs' worker it started
        assert el.row_count == 2 and el.cursor_seq == 11


async def test_a_live_run_grows_in_place(tmp_path):
    path = tmp_path / "inspector.db"
    recorder = Recorder(path, flush_interval=0.005).start()
    try:
        session = recorder.open_session(source="tap", model="gpt-live")
        session.record(Direction.SERVER, '{"type":"response.created","response":{"id":"r1"}}')
        sid = session.id.result(5)

        def record(n: int) -> None:
            for _ in range(n):
                session.record(Direction.SERVER, '{"type":"response.output_text.delta","item_id":"i1","delta":"ab"}')

        await asyncio.to_thread(record, 3)
        async with running_app(path, sid) as (app, pilot):
            el = app.screen.event_list
            await _wait(pilot, lambda: el.total == 4)
            assert el.row_count == 2 and "3× response" in el.render_line(1).text and el.cursor == 1
            await asyncio.to_thread(record, 4)
            await _wait(pilot, lambda: el.total == 8)
            assert (
                el.row_count == 2 and "7× response" in el.render_line(1).text and "abababab" in el.render_line(1).text
            )
    finally:
        recorder.close()
    with Store(path) as store:
        assert store.count(sid) == 8


async def _wait(pilot, predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")
