"""The TUI at the edges of terminal sizes: at 80×24 every sessions column (status and errors
before a shrinking label), "? Help" in every footer, the error count in the session header and
the turns view's latency columns are on screen; at 300 columns the event list shows ids whole.
The latencies carry the same names everywhere (`display.LATENCIES`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.widgets._footer import FooterKey

from inspector.cli import main
from inspector.display import LATENCIES
from inspector.formats import import_files
from inspector.store import Store
from inspector.tui.screens.session import SessionScreen
from inspector.tui.screens.turns import TurnsScreen
from inspector.turns import read_turns
from tests.tui_helpers import build_db, running_app, settle

REPO = Path(__file__).resolve().parents[1]
LONG_LABEL = "a label much longer than any eighty-column terminal leaves room for, really"


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, int]:
    """Two fixture sessions and the demo sample (one error), labelled at length."""
    path = tmp_path / "inspector.db"
    tool_call = build_db(path, ("tool_call_round", "text_in_audio_out_turn"))["tool_call_round"]
    with Store(path) as store:
        (imported,) = import_files(store, [REPO / "recordings/samples/demo.jsonl"])
        store.set_label(imported.session_id, LONG_LABEL)
        store.set_label(tool_call, "tool call")
    return path, imported.session_id


def _help_key_fits(app, width: int) -> bool:
    keys = [k for k in app.screen.query(FooterKey) if k.key == "question_mark"]
    return len(keys) == 1 and keys[0].region.width > 0 and keys[0].region.right <= width


async def test_every_sessions_column_is_on_screen_at_80x24_and_the_label_shrinks(db):
    path, demo = db
    async with running_app(path, size=(80, 24)) as (app, _pilot):
        table = app.screen.table
        header = table.render_line(0).text
        names = ("ID", "Started", "Dur", "Status", "Err", "Model", "Source", "Label")
        assert all(f" {name}" in f" {header}" for name in names), header
        assert header.index("Status") < header.index("Err") < header.index("Label")
        row = table.render_line(1).text  # the newest: the demo sample
        assert table.selected_id == demo
        assert len(row.rstrip()) <= table.scrollable_content_region.width
        err = header.index("Err")
        assert row[err : err + 3].strip() == "1"  # its one error event, in red, on screen
        status = header.index("Status")
        assert row[status:].startswith("closed")
        assert LONG_LABEL[:6] in row and LONG_LABEL not in row and row.rstrip().endswith("…")
        assert _help_key_fits(app, 80)


async def test_help_stays_in_the_footer_and_the_header_keeps_the_error_count_at_80x24(db):
    path, demo = db
    async with running_app(path, demo, size=(80, 24)) as (app, pilot):
        assert isinstance(app.screen, SessionScreen) and _help_key_fits(app, 80)
        title = str(app.screen.query_one("#session-title").render())
        assert "1 error" in title[:78] and f"session {demo} [" in title
        await pilot.press("v")
        await settle(app, pilot)
        assert isinstance(app.screen, TurnsScreen) and _help_key_fits(app, 80)


async def test_the_turns_latency_columns_are_on_screen_at_80x24_under_the_models_names(db):
    path, demo = db
    with Store(path) as store:
        turns = read_turns(store, demo)
    async with running_app(path, demo, size=(80, 24)) as (app, pilot):
        await pilot.press("v")
        await settle(app, pilot)
        table = app.screen.query_one("#turns-table")
        header = table.render_line(0).text
        width = table.size.width
        for (attribute, name, _what), column in zip(LATENCIES, ("→created", "→output", "→done")):
            assert name == column and name in header and header.index(name) + len(name) <= width
            end = header.index(name) + len(name)
            value = getattr(turns[1], attribute)  # turn 2: every latency known
            assert table.render_line(2).text[:end].rstrip().endswith(f"{value:,.0f}")
        legend = str(app.screen.query_one("#turns-legend").render())
        assert all(f"{name} {what}" in " ".join(legend.split()) for _, name, what in LATENCIES)


def test_inspector_turns_names_the_latencies_as_the_tui_does(db):
    path, demo = db
    result = CliRunner().invoke(main, ["turns", str(demo), "--db", str(path)])
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0]
    assert all(name.upper() in header for _, name, _ in LATENCIES)


async def test_ids_are_whole_at_300_columns_and_short_at_160(db):
    path, _demo = db
    with Store(path) as store:
        session = store.session_ids(search="tool call")[0]
        ev = store.event(session, 9)  # response.output_item.added: item, response and call ids
    assert ev.item_id and ev.response_id and ev.call_id
    async with running_app(path, session, size=(300, 30)) as (app, _pilot):
        row = app.screen.event_list.render_line(8).text
        assert f"{ev.item_id} {ev.response_id}" in row
    async with running_app(path, session, size=(160, 30)) as (app, _pilot):
        row = app.screen.event_list.render_line(8).text
        assert ev.item_id not in row and f"item_…{ev.item_id[-4:]}" in row
