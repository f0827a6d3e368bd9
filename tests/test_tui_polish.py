"""Polish for real users: the filter bar's hint and stale count, esc on the session screen, labels,
the pane with focus, help opened at the current screen, live turns, and the WAV dialog."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest
from textual.containers import VerticalScroll

from inspector.protocol import Direction
from inspector.store import FrameIn, Recorder, Store
from inspector.tui.screens.dialogs import PromptScreen
from inspector.tui.screens.help import HelpScreen, section_id
from inspector.tui.screens.sessions import SessionsScreen
from inspector.tui.screens.turns import TurnsScreen
from tests.tui_helpers import build_db, running_app, settle


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "inspector.db"
    return path, build_db(path, ("tool_call_round", "audio_in_server_vad_turn"))


def _status(screen) -> str:
    return str(screen.filter_bar.query_one("#filter-status").render())


async def _wait(pilot, predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


async def test_the_filter_hint_is_short_and_a_count_for_another_text_says_so(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        screen = app.screen
        bar = screen.filter_bar
        assert bar.input.placeholder.startswith("/ filter: type:…") and "-type:*.delta" not in bar.input.placeholder
        screen.set_filter_text("type:response.done")
        await settle(app, pilot)
        assert _status(screen) == "2 of 50 events match" and not bar.has_class("-stale")
        bar.input.value = "type:response.done foo:bar"  # invalid: the list keeps the last good filter
        await pilot.pause()
        assert bar.has_class("-error") and bar.has_class("-stale")
        assert _status(screen) == "2 of 50 events match · for type:response.done; enter applies the text above"
        bar.input.value = "type:response.done"
        await pilot.pause()
        assert not bar.has_class("-stale") and _status(screen) == "2 of 50 events match"


async def test_esc_clears_an_applied_filter_before_it_leaves_the_session(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"], "type:response.done") as (app, pilot):
        screen = app.screen
        await _wait(pilot, lambda: screen.event_list.seqs is not None)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen and screen.filter.empty and screen.event_list.seqs is None
        assert screen.filter_bar.value == "" and _status(screen) == "50 events"
        await pilot.press("escape")
        assert isinstance(app.screen, SessionsScreen)


async def test_labels_focus_and_one_help_entry_in_the_palette(tmp_path):
    path = tmp_path / "inspector.db"
    frames = [
        FrameIn(Direction.CLIENT, 0, '{"type":"response.create"}'),
        FrameIn(Direction.SERVER, 1000, '{"type":"error","error":{"type":"invalid_request_error","message":"no"}}'),
    ]
    with Store(path) as store:
        sid = store.import_session(frames, source="import")
    async with running_app(path, sid) as (app, pilot):
        screen = app.screen
        title = str(screen.query_one("#session-title").render())
        assert " · 1 error · " in title and "errors" not in title and "2 events" in title
        el, detail = screen.event_list, screen.detail
        assert (el.border_title, detail.border_title) == ("Events", "Detail")
        focused_rule = el.styles.border_top
        assert detail.styles.border_top != focused_rule  # the pane without the keys is dimmer
        await pilot.press("enter")  # the detail pane takes the keys
        assert app.focused is detail and detail.styles.border_top == focused_rule != el.styles.border_top
        titles = [c.title for c in app.get_system_commands(screen)]
        assert "Keys" not in titles and sum("Help" in t for t in titles) == 1


async def test_help_opens_at_the_current_screens_section(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"], size=(120, 30)) as (app, pilot):

        async def help_top() -> str:
            await pilot.press("question_mark")
            await pilot.pause()
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            scroll = app.screen.query_one(VerticalScroll)
            tops = {w.id: w.virtual_region.y for w in scroll.children if w.id}
            top = next(name for name, y in sorted(tops.items(), key=lambda kv: kv[1]) if y >= scroll.scroll_y)
            await pilot.press("escape")
            return top

        assert await help_top() == section_id("Session")
        await pilot.press("v")
        await settle(app, pilot)
        assert await help_top() == section_id("Turns")
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, SessionsScreen)
        assert await help_top() in (section_id("Everywhere"), section_id("Sessions"))  # at the top already


async def test_the_turns_view_follows_a_session_being_recorded(tmp_path):
    path = tmp_path / "inspector.db"
    recorder = Recorder(path, flush_interval=0.005).start()

    def turn(n: int) -> None:
        session.record(Direction.CLIENT, '{"type":"response.create"}')
        session.record(
            Direction.SERVER, orjson.dumps({"type": "response.created", "response": {"id": f"r{n}"}}).decode()
        )
        done = {"type": "response.done", "response": {"id": f"r{n}", "status": "completed"}}
        session.record(Direction.SERVER, orjson.dumps(done).decode())

    try:
        session = recorder.open_session(source="tap", model="gpt-live")
        turn(1)
        sid = session.id.result(5)
        async with running_app(path, sid) as (app, pilot):
            await _wait(pilot, lambda: app.screen.event_list.total == 3)
            await pilot.press("v")
            await settle(app, pilot)
            screen = app.screen
            assert isinstance(screen, TurnsScreen)
            table = screen.query_one("#turns-table")
            assert table.row_count == 1 and "1 turn ·" in str(screen.query_one("#turns-title").render())
            assert "latencies in ms from each turn's input" in str(screen.query_one("#turns-title").render())
            await asyncio.to_thread(turn, 2)
            await _wait(pilot, lambda: table.row_count == 2)
            assert "2 turns" in str(screen.query_one("#turns-title").render())
    finally:
        recorder.close()


async def test_the_wav_dialog_needs_audio_and_an_emptied_path_is_a_cancel(db, tmp_path, monkeypatch):
    path, ids = db
    monkeypatch.chdir(tmp_path)
    seen: list[str] = []
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        notify = app.notify
        app.notify = lambda message, **kw: (seen.append(message), notify(message, **kw))[1]  # type: ignore[method-assign]
        await pilot.press("v")
        await settle(app, pilot)
        await pilot.press("W")
        assert isinstance(app.screen, TurnsScreen)  # no dialog: there is nothing to write
        assert any("there is none" in note for note in seen)
        await pilot.press("w")
        assert isinstance(app.screen, TurnsScreen) and any("turn 1's audio: there is none" in n for n in seen)
    async with running_app(path, ids["audio_in_server_vad_turn"]) as (app, pilot):
        notify = app.notify
        app.notify = lambda message, **kw: (seen.append(message), notify(message, **kw))[1]  # type: ignore[method-assign]
        await pilot.press("v")
        await settle(app, pilot)
        await pilot.press("W")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("ctrl+u", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TurnsScreen) and "no directory given: nothing written" in seen
        assert not list(tmp_path.glob("*.wav"))
