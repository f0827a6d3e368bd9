"""Pilot tests of the TUI: every screen and binding, on databases imported from the real
fixtures or written by the real recorder."""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from rich.console import Console

from inspector.cli import main
from inspector.protocol import Direction
from inspector.store import FrameIn, Recorder, Store
from inspector.tui.app import make_app
from inspector.tui.db import WorkerStores
from inspector.tui.screens.dialogs import ConfirmScreen, PromptScreen
from inspector.tui.screens.help import HelpScreen, bindings_table
from inspector.tui.screens.session import SessionScreen
from inspector.tui.screens.sessions import SessionsScreen
from inspector.tui.screens.turns import TurnsScreen
from inspector.tui.widgets._keys import HELP_BINDING
from inspector.tui.widgets.event_list import EventList
from tests.tui_helpers import SIZE, build_db, running_app, settle


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "inspector.db"
    return path, build_db(path, ("text_in_audio_out_turn", "tool_call_round", "audio_in_server_vad_turn"))


async def wait_until(pilot, predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


# --- sessions screen ---------------------------------------------------------------------------


async def test_sessions_screen_lists_sessions_newest_first(db):
    path, ids = db
    async with running_app(path) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        assert screen.table.row_count == 3
        assert screen.table.selected_id == ids["audio_in_server_vad_turn"]  # newest first
        await pilot.press("j")
        assert screen.table.selected_id == ids["tool_call_round"]
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SessionScreen) and app.screen.session_id == ids["tool_call_round"]
        await pilot.press("escape")
        assert app.screen is screen


async def test_sessions_sort_search_and_mark(db):
    path, ids = db
    async with running_app(path) as (app, pilot):
        screen = app.screen
        await pilot.press("s")  # started → duration
        assert screen.sort == "duration"
        assert screen.table.selected_id is not None
        await pilot.press("slash", *"tool")
        await settle(app, pilot)  # the search runs in a worker
        assert screen.table.row_count == 0  # the model and source do not say "tool"…
        screen.query_one("#sessions-search").value = str(ids["tool_call_round"])
        await settle(app, pilot)
        assert screen.table.row_count == 1
        await pilot.press("escape")
        await settle(app, pilot)
        assert screen.table.row_count == 3 and not screen.search
        await pilot.press("m", "j", "m")
        assert len(screen.marked) == 2
        await pilot.press("m")  # unmark the second one
        assert len(screen.marked) == 1


async def test_a_slow_sessions_search_does_not_freeze_the_ui(db, monkeypatch):
    path, ids = db
    read = Store.session_ids

    def slow(self, *, sort="started", search=""):
        if search:
            time.sleep(0.6)  # 100k sessions, or a PostgreSQL server far away
        return read(self, sort=sort, search=search)

    monkeypatch.setattr(Store, "session_ids", slow)
    async with running_app(path) as (app, pilot):
        ticks: list[float] = []
        app.set_interval(0.02, lambda: ticks.append(time.monotonic()))
        await pilot.pause(0.1)
        await pilot.press("slash", *str(ids["tool_call_round"]))
        await settle(app, pilot)
        longest = max(b - a for a, b in itertools.pairwise(ticks))
        assert longest < 0.4, longest  # the loop went on while each keystroke's query slept
        assert app.screen.table.row_count == 1


async def test_sessions_label_and_delete_with_confirmation(db):
    path, _ids = db
    async with running_app(path) as (app, pilot):
        screen = app.screen
        target = screen.table.selected_id
        await pilot.press("l")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"slow one", "enter")
        await pilot.pause()
        assert app.store.session(target).label == "slow one"
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # no: nothing deleted
        assert len(app.store.sessions()) == 3
        await pilot.press("d", "y")
        await pilot.pause()
        assert target not in [s.id for s in app.store.sessions()]
        assert screen.table.row_count == 2


async def test_sessions_screen_is_live(db):
    path, _ids = db
    async with running_app(path) as (app, pilot):
        screen = app.screen
        with Recorder(path, flush_interval=0.005) as recorder:
            session = recorder.open_session(source="tap", model="gpt-live")
            session.record(Direction.CLIENT, '{"type":"session.update","session":{"type":"realtime"}}')
            await asyncio.to_thread(session.id.result, 5)
            await wait_until(pilot, lambda: screen.table.row_count == 4)
            new_id = session.id.result()
            session.record(Direction.SERVER, '{"type":"session.updated"}')
        await wait_until(pilot, lambda: screen.table.info(screen.table.ids.index(new_id)).events == 2)


# --- session screen ----------------------------------------------------------------------------


async def test_session_screen_navigation_keys(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, SessionScreen)
        el = screen.event_list
        assert el.total == 50 and el.cursor == 0 and app.focused is el
        await pilot.press("j", "j", "down")
        assert el.cursor_seq == 4
        await pilot.press("k", "up")
        assert el.cursor_seq == 2
        await pilot.press("G")
        assert el.cursor_seq == 50
        await pilot.press("g")
        assert el.cursor_seq == 1
        await pilot.press("pagedown")
        assert el.cursor_seq > 10
        await pilot.press("home")
        await settle(app, pilot)
        assert screen.detail.event is not None and screen.detail.event.seq == 1


async def test_event_list_rows_and_mouse(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        el = app.screen.event_list
        text = el.render_line(3).text
        assert "conversation.item.create" in text and "→" in text and "user: What is the" in text
        await pilot.click(EventList, offset=(5, 8))  # row 7 under the pane title
        assert el.cursor_seq == 8
        await settle(app, pilot)
        assert app.screen.detail.event.seq == 8


async def test_detail_shows_pretty_json_with_audio_summarised_and_raw_toggle(db):
    path, ids = db
    async with running_app(path, ids["audio_in_server_vad_turn"]) as (app, pilot):
        screen = app.screen
        screen.event_list.go_to_seq(4)  # an input_audio_buffer.append
        await settle(app, pilot)
        body = str(screen.detail.query_one("#detail-body").render())
        assert "<audio" in body and "ms," in body
        frame = app.store.frame(ids["audio_in_server_vad_turn"], 4)
        audio = orjson.loads(frame)["audio"]
        assert audio[:40] not in body
        await pilot.press("r")
        await settle(app, pilot)
        assert audio[:40] in str(screen.detail.query_one("#detail-body").render())
        await pilot.press("enter")  # focus the detail pane, escape returns to the list
        assert app.focused is screen.detail
        await pilot.press("escape")
        assert app.focused is screen.event_list


async def test_filter_bar_applies_filters_and_shows_errors(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        screen = app.screen
        await pilot.press("slash")
        assert app.focused is screen.filter_bar.input
        screen.filter_bar.input.value = "type:response.done"
        await pilot.press("enter")
        await settle(app, pilot)
        assert list(screen.event_list.seqs) == [27, 50]
        assert "2 of 50 events match" in str(screen.query_one("#filter-status").render())
        assert app.focused is screen.event_list
        await pilot.press("slash")
        screen.filter_bar.input.value = "type:response.done foo:bar"
        await pilot.press("enter")
        await pilot.pause()
        error = str(screen.query_one("#filter-error").render())
        assert "unknown field 'foo'" in error and screen.filter_bar.has_class("-error")
        assert list(screen.event_list.seqs) == [27, 50]  # the last good filter stays
        screen.filter_bar.input.value = ""
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.event_list.seqs is None and not screen.filter_bar.has_class("-error")


async def test_initial_filter_from_make_app(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"], filter_text="dir:client") as (app, pilot):
        await wait_until(
            pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.event_list.seqs is not None
        )
        assert len(app.screen.event_list.seqs) == 5


async def test_next_previous_error(tmp_path):
    path = tmp_path / "inspector.db"
    with Store(path) as store:
        frames = [FrameIn(Direction.SERVER, i * 1000, '{"type":"x"}') for i in range(10)]
        frames[3] = FrameIn(Direction.SERVER, 3000, '{"type":"error","error":{"code":"c","message":"m"}}')
        frames[7] = FrameIn(Direction.SERVER, 7000, "not json")
        sid = store.import_session(frames)
    async with running_app(path, sid) as (app, pilot):
        el = app.screen.event_list
        await pilot.press("e")
        assert el.cursor_seq == 4
        await pilot.press("e")
        assert el.cursor_seq == 8
        await pilot.press("e")  # no more: stays
        assert el.cursor_seq == 8
        await pilot.press("E")
        assert el.cursor_seq == 4


async def test_next_previous_turn_and_reference_jump(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        el = app.screen.event_list
        await pilot.press("t")
        assert el.cursor_seq == 4  # conversation.item.create
        await pilot.press("t")  # neither response.create (5) nor the tool's output (24): one turn
        assert el.cursor_seq == 4
        el.go_to_seq(40)  # in the answer after the tool round
        await pilot.press("T")
        assert el.cursor_seq == 4
        el.go_to_seq(15)  # a function_call_arguments.delta
        await pilot.press("o")
        assert el.cursor_seq == 8  # its response.created


async def test_reference_jump_clears_a_filter_that_hides_the_target(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"], filter_text="type:*.delta") as (app, pilot):
        await wait_until(
            pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.event_list.seqs is not None
        )
        el = app.screen.event_list
        await pilot.press("o")
        assert el.seqs is None and el.cursor_seq == 8


async def test_copy_save_and_export(db, tmp_path, monkeypatch):
    path, ids = db
    monkeypatch.chdir(tmp_path)
    app = make_app(path, ids["tool_call_round"])
    copied = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        assert copied == [app.store.frame(ids["tool_call_round"], 1)]
        await pilot.press("s")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("enter")
        saved = tmp_path / f"session-{ids['tool_call_round']}-event-1.json"
        assert saved.read_text() == copied[0]
        # export everything, then only a filter's events
        await pilot.press("x")
        assert isinstance(app.screen, PromptScreen) and "re-importable" in app.screen.question
        await pilot.press("enter")
        await settle(app, pilot)
        lines = (tmp_path / f"session-{ids['tool_call_round']}.jsonl").read_bytes().splitlines()
        header, first = orjson.loads(lines[0]), orjson.loads(lines[1])
        assert header["format"] == "realtime-inspector/1" and header["frames"] == 50 and len(lines) >= 51
        assert set(first) == {"direction", "t_ns", "opcode", "text"}
        assert first["text"] == copied[0]
        app.screen.set_filter_text("type:response.done")
        await settle(app, pilot)
        await pilot.press("x", "enter")
        await settle(app, pilot)
        filtered = (tmp_path / f"session-{ids['tool_call_round']}-filtered.jsonl").read_bytes().splitlines()
        assert orjson.loads(filtered[0])["frames"] == 2
        assert [orjson.loads(line)["text"] for line in filtered[1:3]] == [
            app.store.frame(ids["tool_call_round"], 27),
            app.store.frame(ids["tool_call_round"], 50),
        ]


def _frames(store: Store, session_id: int, seqs=None) -> list:
    events = store.events(session_id, with_frames=True)
    return [(e.direction, e.t_ns, e.opcode, e.frame) for e in events if seqs is None or e.seq in seqs]


async def test_tui_export_imports_back_with_the_same_frames(db, tmp_path, monkeypatch):
    path, ids = db
    monkeypatch.chdir(tmp_path)
    sid = ids["audio_in_server_vad_turn"]
    async with running_app(path, sid) as (app, pilot):
        await pilot.press("x", "enter")
        await settle(app, pilot)
        app.screen.set_filter_text("dir:client")
        await settle(app, pilot)
        client_seqs = set(app.screen.event_list.seqs)
        await pilot.press("x", "enter")
        await settle(app, pilot)
    assert 0 < len(client_seqs) < Store(path).count(sid)
    assert not list(tmp_path.glob("*.partial"))
    target = tmp_path / "reimported.db"
    full, filtered = tmp_path / f"session-{sid}.jsonl", tmp_path / f"session-{sid}-filtered.jsonl"
    result = CliRunner().invoke(main, ["import", str(full), str(filtered), "--db", str(target), "--json"])
    assert result.exit_code == 0, result.output
    new_full, new_filtered = (orjson.loads(line)["session_id"] for line in result.stdout.splitlines())
    with Store(path) as source, Store(target) as copy:
        assert _frames(copy, new_full) == _frames(source, sid)
        assert _frames(copy, new_filtered) == _frames(source, sid, client_seqs)
        original, back = source.session(sid), copy.session(new_full)
        assert (back.started_at, back.model, back.close_code) == (
            original.started_at,
            original.model,
            original.close_code,
        )


def test_a_cancelled_tui_export_leaves_no_file(db, tmp_path, monkeypatch):
    import inspector.tui.export
    from inspector.tui.export import ExportCancelled, export_jsonl

    monkeypatch.setattr(inspector.tui.export, "_CHUNK", 10)
    path, ids = db
    out = tmp_path / "cancelled.jsonl"
    with Store(path) as store, pytest.raises(ExportCancelled):
        export_jsonl(store, ids["audio_in_server_vad_turn"], out, cancelled=lambda: True)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


# --- turns and help ---------------------------------------------------------------------------


async def test_turns_view_and_jump_to_a_turn(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        await pilot.press("v")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TurnsScreen)
        table = screen.query_one("#turns-table")
        assert table.row_count == 1  # the tool round belongs to the turn that asked for it
        (turn,) = table.turns
        assert turn.inputs == ["What is the weather in London?"] and turn.tool_calls[0].output
        assert "foggy" in turn.text and turn.statuses == ["completed", "completed"]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SessionScreen) and app.screen.event_list.cursor_seq == turn.start_seq == 4
        await pilot.press("v")
        await settle(app, pilot)
        await pilot.press("escape")
        assert isinstance(app.screen, SessionScreen)


async def test_turns_view_writes_a_turns_audio_and_the_sessions_as_wav(tmp_path, monkeypatch):
    import wave

    name = "input_audio_retention_segments_three_server_vad_turns"
    path = tmp_path / "three.db"
    sid = build_db(path, (name,))[name]
    monkeypatch.chdir(tmp_path)
    async with running_app(path, sid) as (app, pilot):
        await pilot.press("v")
        await settle(app, pilot)
        assert isinstance(app.screen, TurnsScreen)
        await pilot.press("j", "w")  # the second turn
        assert isinstance(app.screen, PromptScreen) and "turn 2" in app.screen.question
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("W")
        await pilot.press("ctrl+u", *"all/", "enter")
        await settle(app, pilot)
        # the same turn again: asked first; "n" leaves the files alone
        turn_input = tmp_path / f"session-{sid}-turn-2-input.wav"
        turn_input.write_bytes(b"kept")
        await pilot.press("w", "enter")
        assert isinstance(app.screen, ConfirmScreen) and "Overwrite" in app.screen.question
        await pilot.press("n")
        await settle(app, pilot)
        assert turn_input.read_bytes() == b"kept"
        await pilot.press("w", "enter", "y")
        await settle(app, pilot)
        assert turn_input.read_bytes() != b"kept"
    # the same files, frame for frame, as `inspector export --format wav [--turn 2]`
    for name, extra in ((f"session-{sid}-turn-2", ["--turn", "2"]), (f"session-{sid}", [])):
        cli = tmp_path / "cli" / name
        result = CliRunner().invoke(
            main, ["export", str(sid), "--db", str(path), "--format", "wav", *extra, "-o", str(cli)]
        )
        assert result.exit_code == 0, result.output
        where = tmp_path if extra else tmp_path / "all"
        for role in ("input", "output"):
            with wave.open(str(where / f"{name}-{role}.wav")) as a, wave.open(str(cli) + f"-{role}.wav") as b:
                assert a.getnframes() == b.getnframes() > 0
                assert a.readframes(a.getnframes()) == b.readframes(b.getnframes())
    assert not (tmp_path / f"session-{sid}-turn-1-input.wav").exists()


async def test_help_screen_lists_every_binding(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(bindings_table(app.screen.sections))
        text = console.export_text()
        for screen_class in (SessionsScreen, SessionScreen, EventList, TurnsScreen, type(app)):
            for binding in screen_class.BINDINGS:
                assert binding.description in text
        await pilot.press("escape")
        assert isinstance(app.screen, SessionScreen)


async def test_command_palette_has_namespaced_entries_for_every_action(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, _pilot):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "session: Export…" in titles and "session: Next error" in titles and "app: Help" in titles
        for binding in SessionScreen.BINDINGS:
            if binding is HELP_BINDING:  # once, as "app: Help"
                assert "session: Help" not in titles
                continue
            assert any(t.startswith(f"session: {binding.description}") for t in titles)
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "session: Next turn")
        await command.callback()
        assert app.screen.event_list.cursor_seq == 4


async def test_quit(db):
    path, _ids = db
    async with running_app(path) as (app, pilot):
        await pilot.press("q")
    assert app.return_code == 0


# --- errors ---------------------------------------------------------------------------------


async def test_missing_database_is_shown_not_raised(tmp_path):
    async with running_app(tmp_path / "nope.db") as (app, pilot):
        text = str(app.screen.query_one("#error-box").render())
        assert "no database at" in text
        await pilot.press("q")


def test_cli_tui_reports_a_missing_database_and_session(tmp_path, db):
    result = CliRunner().invoke(main, ["tui", "--db", str(tmp_path / "nope.db")])
    assert result.exit_code == 1 and result.output.startswith("error: no database at")
    path, _ = db
    result = CliRunner().invoke(main, ["tui", "--db", str(path), "999"])
    assert result.exit_code == 1 and "no session 999" in result.output
    result = CliRunner().invoke(main, ["tui", "--db", str(path), "1", "--filter", "foo:bar"])
    assert result.exit_code == 1 and "bad filter" in result.output


def test_bare_inspector_runs_the_tui(tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECTOR_DB", str(tmp_path / "none.db"))
    result = CliRunner().invoke(main, [])
    assert result.exit_code == 1 and "no database at" in result.output


NO_TERMINAL = "error: the UI needs a terminal; use inspector sessions / inspector events"


def test_the_tui_refuses_to_start_without_a_terminal(db, monkeypatch):
    # `inspector tui > out.txt < /dev/null`: no escape codes into the file, no wait for keys.
    path, _ = db
    started = []
    import inspector.tui.app

    monkeypatch.setattr(inspector.tui.app, "make_app", lambda *a: started.append(a))
    for args in (["tui", "--db", str(path)], ["tui", "--db", str(path), "1", "--filter", "type:*"]):
        result = CliRunner().invoke(main, args)  # CliRunner's stdout and stdin are not a TTY
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr.startswith(NO_TERMINAL) and result.stderr.count("\n") == 1
    monkeypatch.setenv("INSPECTOR_DB", str(path))
    result = CliRunner().invoke(main, [])  # bare `inspector`
    assert result.exit_code == 1 and result.stderr.startswith(NO_TERMINAL)
    assert started == []


def test_the_tui_starts_in_a_terminal(db, monkeypatch):
    path, _ = db
    started = []
    import inspector.tui.app
    import inspector.tui.cli

    class FakeApp:
        def __init__(self, *args):
            started.append(args)

        def run(self):
            pass

    monkeypatch.setattr(inspector.tui.app, "make_app", FakeApp)
    monkeypatch.setattr(inspector.tui.cli, "has_terminal", lambda: True)
    result = CliRunner().invoke(main, ["tui", "--db", str(path), "2"])
    assert result.exit_code == 0 and started == [(path, 2, None)]


# --- live tail --------------------------------------------------------------------------------


async def test_live_tail_follows_new_events_and_badges_when_scrolled_away(tmp_path):
    path = tmp_path / "inspector.db"
    recorder = Recorder(path, flush_interval=0.005).start()
    try:
        session = recorder.open_session(source="tap", model="gpt-live")
        for _i in range(5):
            session.record(
                Direction.CLIENT, orjson.dumps({"type": "input_audio_buffer.append", "audio": "AAAA" * 8}).decode()
            )
        sid = session.id.result(5)
        deadline = time.monotonic() + 5
        while Store(path).count(sid) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        async with running_app(path, sid) as (app, pilot):
            screen = app.screen
            el = screen.event_list
            assert screen.follow and el.row_count == 1 and el.cursor_seq == 1  # the five chunks, collapsed
            el.action_toggle_all_runs()  # every event its own row: this test counts rows
            screen.action_follow()
            assert screen.follow and el.cursor_seq == 5

            def record(n: int) -> None:  # another thread, like the tap's event loop
                for _ in range(n):
                    session.record(Direction.SERVER, '{"type":"response.output_audio.delta","delta":"AAAA"}')

            await asyncio.to_thread(record, 3)
            await wait_until(pilot, lambda: el.total == 8)
            assert el.cursor_seq == 8  # following
            await pilot.press("k")  # scrolling away stops following
            assert not screen.follow
            await asyncio.to_thread(record, 4)
            await wait_until(pilot, lambda: el.total == 12)
            assert el.cursor_seq == 7 and screen.has_class("-new")
            assert "+4 new" in str(screen.query_one("#new-badge").render())
            await pilot.press("F")
            assert screen.follow and el.cursor_seq == 12 and not screen.has_class("-new")
            # with a filter, new matching events are appended too
            screen.set_filter_text("type:response.output_audio.delta")
            await settle(app, pilot)
            assert len(el.seqs) == 7
            await asyncio.to_thread(record, 2)
            await wait_until(pilot, lambda: el.seqs is not None and len(el.seqs) == 9)
            assert el.cursor_seq == 14
    finally:
        recorder.close()


def test_duration_sort_follows_the_duration_shown(tmp_path):
    # A session closed long after its last event lasts until its close: the column shows that,
    # and the store's sort must agree with the column; unknown durations come last.
    from inspector.tui.sessions_model import session_cells

    frames = [FrameIn(Direction.SERVER, t, '{"type":"session.updated"}') for t in (0, 2_000_000_000)]
    with Store(tmp_path / "d.db") as store:
        idle = store.import_session(frames, started_at=100.0, ended_at=700.0)  # 10m00s
        busy = store.import_session(
            [FrameIn(Direction.SERVER, 59_000_000_000, '{"type":"session.updated"}')], started_at=100.0, ended_at=160.0
        )
        untimed = store.import_session([FrameIn(Direction.SERVER, 0, '{"type":"x"}')] * 2, started_at=100.0)
        running = store.import_session(
            [*frames[:1], FrameIn(Direction.SERVER, 30000000000, '{"type":"x"}')], started_at=100.0, status="open"
        )
        order = store.session_ids(sort="duration")
        shown = [
            session_cells(info, False, [1, 2, 19, 8, 13, 6, 6, 6, 12, 6, 10])[3].strip()
            for info in store.sessions_at(order)
        ]
    assert order == [idle, busy, running, untimed]
    assert shown == ["10m00s", "1m00s", "30.0s", "—"]


# --- fixes from the fourth audit ----------------------------------------------------------------


def _notes(app) -> list[str]:
    """Record the app's notifications (still shown: markup in them is rendered for real)."""
    seen: list[str] = []
    notify = app.notify

    def recording(message, **kwargs):
        seen.append(message)
        notify(message, **kwargs)

    app.notify = recording  # type: ignore[method-assign]
    return seen


def _live_session(path: Path, n: int = 5) -> int:
    """A session a tap is still recording (status open) with `n` events."""
    frames = [
        # one item each: consecutive deltas of one item would be one (collapsed) row
        FrameIn(Direction.SERVER, i * 1000, f'{{"type":"response.output_audio.delta","item_id":"i{i}","delta":"AAAA"}}')
        for i in range(n)
    ]
    with Store(path) as store:
        return store.import_session(frames, source="tap", status="open")


async def test_deleting_a_session_being_recorded_is_refused(db):
    path, _ids = db
    live = _live_session(path)
    async with running_app(path) as (app, pilot):
        notes = _notes(app)
        screen = app.screen
        assert screen.table.selected_id == live  # the newest
        await pilot.press("d")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmScreen)  # not even asked
        assert f"session {live} is still being recorded; stop the tap first" in notes
        # and the worker asks the database again (the list may be older than the tap)
        screen.delete_session(live)
        await settle(app, pilot)
        assert notes.count(f"session {live} is still being recorded; stop the tap first") == 2
        assert live in [s.id for s in app.store.sessions()]


async def test_label_and_delete_do_not_freeze_the_ui_while_a_tap_holds_the_write_lock(db):
    import sqlite3

    path, _ids = db
    async with running_app(path) as (app, pilot):
        screen = app.screen
        target = screen.table.selected_id
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # what a recording tap does for each batch
        try:
            await pilot.press("l", *"busy all day", "enter")
            started = time.monotonic()
            await pilot.press("j")  # the UI still answers at once
            assert time.monotonic() - started < 2 and screen.table.selected_id != target
        finally:
            locker.execute("ROLLBACK")
        await wait_until(pilot, lambda: app.store.session(target).label == "busy all day")
        await pilot.pause()
        assert "busy all day" in screen.table.render_line(1).text  # wider than the column was
        await pilot.press("k")
        locker.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("d", "y")
            started = time.monotonic()
            await pilot.press("j")
            assert time.monotonic() - started < 2 and screen.table.selected_id != target
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await wait_until(pilot, lambda: screen.table.row_count == 2)
        assert target not in [s.id for s in app.store.sessions()]


MARKUP = "[/b] [docs](http://x.io) [red"  # fits the turns table's columns


async def test_markup_in_recorded_text_labels_and_paths_is_shown_as_text(tmp_path, monkeypatch):
    path = tmp_path / "inspector.db"
    frames = [
        FrameIn(
            Direction.CLIENT,
            0,
            orjson.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": MARKUP}]},
                }
            ).decode(),
        ),
        FrameIn(Direction.CLIENT, 1000, '{"type":"response.create"}'),
        FrameIn(
            Direction.SERVER, 2000, '{"type":"response.created","response":{"id":"resp_1","status":"in_progress"}}'
        ),
        FrameIn(Direction.SERVER, 3000, '{"type":"response.output_text.delta","response_id":"resp_1","delta":"x"}'),
        FrameIn(
            Direction.SERVER,
            4000,
            orjson.dumps({"type": "response.output_text.done", "response_id": "resp_1", "text": MARKUP}).decode(),
        ),
        FrameIn(Direction.SERVER, 5000, orjson.dumps({"type": "weird[/b]", "x": 1}).decode()),
    ]
    with Store(path) as store:
        store.import_session(frames, label=MARKUP)
    monkeypatch.chdir(tmp_path)
    async with running_app(path, size=(200, 40)) as (app, pilot):
        notes = _notes(app)
        assert MARKUP in app.screen.table.render_line(1).text  # the label
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("G")  # the event whose type looks like markup, in the detail title
        await settle(app, pilot)
        assert "weird[/b]" in str(app.screen.detail.query_one("#detail-title").render())
        await pilot.press("v")
        await settle(app, pilot)
        table = app.screen.query_one("#turns-table")
        user, answer = (table.get_row_at(0)[i].plain for i in (2, 3))
        assert user == answer == MARKUP
        await pilot.press("escape", "s", "ctrl+u", *"frame[/b].json", "enter")
        await settle(app, pilot)
        assert (tmp_path / "frame[/b].json").exists() is False  # `/` makes it a directory path…
        assert any("cannot save" in n for n in notes)  # …and the error quoting it is shown
        await pilot.press("s", "ctrl+u", *"frame[b].json", "enter")
        await settle(app, pilot)
        assert (tmp_path / "frame[b].json").exists()
        assert notes[-1].startswith("saved event #6 (") and notes[-1].endswith(" to frame[b].json")


async def test_a_filter_reports_a_database_it_cannot_open(db, tmp_path):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        notes = _notes(app)
        screen = app.screen
        # Workers that open a connection from now on fail: the filter's own one, and the
        # thread's shared one (a new WorkerStores has none open yet).
        app.db_path = tmp_path / "gone.db"
        app.worker_stores = WorkerStores(app.db_path)
        screen.set_filter_text("type:response.done")
        await settle(app, pilot)
        assert any(n.startswith("filter failed: no database at") for n in notes)
        assert "filter failed" in str(screen.query_one("#filter-status").render())
        # the live tail's filter worker too
        screen.filter_new_events(screen.filter, 0, 50)
        await settle(app, pilot)
        assert any(n.startswith("cannot read new events: no database at") for n in notes)
        assert app.is_running


async def test_end_goes_to_the_last_event_and_resumes_following(db):
    path, ids = db
    live = _live_session(path, 30)
    async with running_app(path, live) as (app, pilot):
        screen, el = app.screen, app.screen.event_list
        assert screen.follow and el.cursor_seq == 30
        await pilot.press("g")
        assert not screen.follow and el.cursor_seq == 1
        await pilot.press("end")
        assert screen.follow and el.cursor_seq == 30
        assert "● following" in str(screen.query_one("#session-title").render())
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):  # closed: the last event, nothing to follow
        screen, el = app.screen, app.screen.event_list
        await pilot.press("end")
        assert el.cursor_seq == 50 and not screen.follow
        assert "following" not in str(screen.query_one("#session-title").render())


async def test_following_leaves_the_title_when_the_session_closes(db):
    path, _ids = db
    live = _live_session(path)
    async with running_app(path, live) as (app, pilot):
        title = app.screen.query_one("#session-title")
        assert "● following" in str(title.render())
        with Store(path) as store:  # the tap closes the session
            store.update_session(live, status="closed")
        await wait_until(pilot, lambda: "closed" in str(title.render()))
        assert "following" not in str(title.render())


async def test_diff_marks_are_visible(db):
    path, _ids = db
    async with running_app(path) as (app, pilot):
        table = app.screen.table
        await pilot.press("m", "j", "m")
        rows = [table.render_line(y).text for y in (1, 2, 3)]  # under the header
        assert [row.lstrip().startswith("◆") for row in rows] == [True, True, False]


async def test_ids_column_at_160_columns_and_the_detail_pane_hides(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"], size=(160, 40)) as (app, pilot):
        screen, el = app.screen, app.screen.event_list
        ev = app.store.event(ids["tool_call_round"], 9)  # response.output_item.added
        assert ev.item_id and ev.response_id
        row = el.render_line(8).text
        assert f"item_…{ev.item_id[-4:]} resp_…{ev.response_id[-4:]}" in row
        width = el.size.width
        await pilot.press("d")
        assert not screen.detail.display and el.size.width > width + 50
        await pilot.press("d")
        assert screen.detail.display and el.size.width == width


async def test_event_types_stay_distinct_in_a_narrow_list(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"], size=(80, 60)) as (app, _pilot):
        el = app.screen.event_list
        el.action_toggle_all_runs()  # one row per event
        events = list(app.store.events(ids["tool_call_round"]))
        shown = {}
        for row, ev in enumerate(events[: el.size.height]):
            cell = el.render_line(row).text[el._seq_width + 14 :].split(" ")[0]
            shown.setdefault(cell, set()).add(ev.type)
        assert all(len(types) == 1 for types in shown.values()), shown
        assert len(shown) > 10


async def test_turns_latency_bar_fits_in_120_columns(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"], size=(120, 30)) as (app, pilot):
        await pilot.press("v")
        await settle(app, pilot)
        table = app.screen.query_one("#turns-table")
        assert "→output" in table.render_line(0).text and "░▒█" in table.render_line(0).text
        assert any(c in table.render_line(1).text for c in "░▒█")


async def test_footers_show_enter_and_help_lists_the_table_keys(db):
    from textual.widgets._footer import FooterKey

    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        await pilot.press("escape")
        await pilot.pause()
        assert "Open" in [k.description for k in app.screen.query(FooterKey)]
        await pilot.press("enter", "v")
        await settle(app, pilot)
        assert "Go to turn" in [k.description for k in app.screen.query(FooterKey)]
        turns_keys = dict(app.help_sections())["Turns"]
        assert {"j", "k", "g", "G"} <= {b.key for b in turns_keys}


async def test_next_turn_stops_where_the_turns_view_starts_a_turn(tmp_path):
    from tests.tui_helpers import FIXTURE_NAMES

    path = tmp_path / "inspector.db"
    ids = build_db(path, FIXTURE_NAMES)
    for sid in ids.values():
        async with running_app(path, sid) as (app, pilot):
            el = app.screen.event_list
            stops = []
            while True:
                await pilot.press("t")
                if stops and el.cursor_seq == stops[-1]:
                    break
                stops.append(el.cursor_seq)
            await pilot.press("v")
            await settle(app, pilot)
            starts = [t.start_seq for t in app.screen.query_one("#turns-table").turns]
            assert stops == [s for s in starts if s > 1], sid


async def test_save_and_export_ask_before_overwriting(db, tmp_path, monkeypatch):
    path, ids = db
    monkeypatch.chdir(tmp_path)
    sid = ids["tool_call_round"]
    saved, exported = tmp_path / f"session-{sid}-event-1.json", tmp_path / f"session-{sid}.jsonl"
    saved.write_text("mine")
    exported.write_text("mine too")
    async with running_app(path, sid) as (app, pilot):
        await pilot.press("s", "enter")
        assert isinstance(app.screen, ConfirmScreen) and "exists" in app.screen.question
        await pilot.press("n")
        await pilot.press("x", "enter")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(app, pilot)
        assert saved.read_text() == "mine" and exported.read_text() == "mine too"
        await pilot.press("s", "enter", "y", "x", "enter", "y")
        await settle(app, pilot)
        assert saved.read_text() == app.store.frame(sid, 1)
        assert exported.read_bytes().startswith(b'{"format"')
        await pilot.press("x")  # never over the database
        app.screen.query_one("#prompt-input").value = str(path)
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmScreen) and app.store.count(sid) == 50


async def test_an_empty_file_is_refused_not_made_a_database(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    async with running_app(empty) as (app, _pilot):
        assert "is an empty file, not a recordings database" in str(app.screen.query_one("#error-box").render())
    result = CliRunner().invoke(main, ["tui", "--db", str(empty)])
    assert result.exit_code == 1 and "is an empty file" in result.output
    assert empty.stat().st_size == 0 and not list(tmp_path.glob("empty.db-*"))


async def test_workers_share_one_connection_per_thread(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, pilot):
        el = app.screen.event_list
        for seq in range(2, 22):  # twenty detail loads, each a thread worker
            el.go_to_seq(seq)
            await settle(app, pilot)
        assert app.screen.detail.event.seq == 21  # the last load landed
        assert 1 <= app.worker_stores.opened <= 6  # the default pool's threads, not one per load


async def test_the_cursor_row_is_highlighted_across_every_column(db):
    path, ids = db
    async with running_app(path, ids["tool_call_round"]) as (app, _pilot):
        el = app.screen.event_list
        cursor_backgrounds = {s.style.bgcolor for s in el._render_row(el.cursor, 140, True) if s.text.strip()}
        other_backgrounds = {s.style.bgcolor for s in el._render_row(el.cursor + 1, 140, False) if s.text.strip()}
        assert len(cursor_backgrounds) == 1 and cursor_backgrounds != other_backgrounds


async def test_an_attached_sessions_header_names_its_call_and_says_it_holds_only_what_the_sideband_saw(tmp_path):
    path = tmp_path / "a.db"
    with Store(path) as store:
        sid = store.import_session(
            [FrameIn(Direction.SERVER, 0, '{"type":"response.created","response":{"id":"resp_1"}}')],
            source="attach",
            query="call_id=rtc_abc",
        )
    async with running_app(path, sid) as (app, _pilot):
        title = str(app.screen.query_one("#session-title").render())
        assert "call rtc_abc" in title and "only what the sideband saw" in title
