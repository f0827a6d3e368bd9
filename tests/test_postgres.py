"""`--db postgresql://...` end to end on a real PostgreSQL server (tests/pg_server.py): what is the
server's own (opening errors, passwords never shown, the missing driver, secrets never reaching
the tables), and the commands, the TUI and the tap on it. The store contract itself runs on both
backends in tests/test_store.py and tests/test_filter.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, echo_handler, run_tap, run_upstream, wait_for
from websockets.asyncio.client import connect

from inspector.cli import main
from inspector.protocol import Direction
from inspector.store import FrameIn, Store, StoreError, open_store, show_db
from inspector.store.postgres import PostgresStore

PASSWORD = "PWbody0123456789"  # trust auth on the test server takes any password


def with_password(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(f"{parts.username}@", f"{parts.username}:{PASSWORD}@", 1)


def test_open_store_opens_a_path_with_sqlite_and_a_url_on_postgresql(pg_url, tmp_path):
    with open_store(tmp_path / "x.db") as lite, open_store(pg_url) as pg:
        assert type(lite) is Store and type(pg) is PostgresStore
    assert open_store(pg_url.replace("postgresql://", "postgres://", 1), create=False).sessions() == []


def test_a_database_url_is_shown_without_its_password():
    assert show_db("postgresql://me:pw@db:5432/rec") == "postgresql://me@db:5432/rec"
    assert show_db("postgres://me:p%40w@db/rec?sslmode=require&password=pw2") == "postgres://me@db/rec?sslmode=require"
    assert show_db("postgresql://db/rec") == "postgresql://db/rec"
    assert show_db(Path("a/b.db")) == "a/b.db"
    assert show_db("postgresql://me@db/rec?sslpassword=kp&sslmode=require") == "postgresql://me@db/rec?sslmode=require"
    assert show_db("postgresql://me:pw@[::1/rec") == "postgresql://…"  # unparseable: nothing of it


def test_opening_errors_are_one_line_store_errors_that_never_show_the_password(pg_url):
    parts = urlsplit(pg_url)
    closed = with_password(pg_url).replace(f":{parts.port}/", ":1/", 1)
    with pytest.raises(StoreError, match="cannot connect to") as info:
        open_store(closed)
    assert PASSWORD not in str(info.value) and "\n" not in str(info.value)
    # A password the driver cannot decode is quoted by its message on its own.
    bad = closed.replace(PASSWORD, "pw%zzbody", 1)
    for url in (bad, closed.replace(PASSWORD, "", 1) + "?sslpassword=pw%zzbody"):
        with pytest.raises(StoreError) as info:
            open_store(url)
        assert "zzbody" not in str(info.value)
    with pytest.raises(StoreError, match="no recordings in this database yet") as info:
        open_store(with_password(pg_url), create=False)
    assert PASSWORD not in str(info.value)
    open_store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE inspector_schema SET version = 99")
    with pytest.raises(StoreError, match="newer"):
        open_store(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE inspector_schema")
    with pytest.raises(StoreError, match="did not write"):
        open_store(pg_url)


def test_without_psycopg_a_url_is_one_error_line_naming_the_extra():
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from inspector.store import StoreError, open_store\n"
        "try:\n    open_store('postgresql://127.0.0.1:1/x')\n"
        "except StoreError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PostgreSQL needs psycopg: pip install 'realtime-inspector[postgres]'"


def test_no_planted_secret_reaches_the_servers_tables(pg_url):
    key = "sk-proj-PGsecretBody01"
    with open_store(pg_url) as store:
        store.import_session(
            [
                FrameIn(Direction.CLIENT, 0, f'{{"type":"session.update","key":"{key}"}}'),
                FrameIn(Direction.CLIENT, 1, f"Bearer {key}".encode()),
            ],
            target_url=f"wss://api.example/v1/realtime?api-key={key}&model=m",
            query=f"api-key={key}&model=m",
            request_headers=[["Authorization", f"Bearer {key}"]],
            label=f"note {key}",
            error=f"failed with {key}",
        )
    with psycopg.connect(pg_url) as conn:
        dump = "".join(
            str(row)
            for table in ("sessions", "events", "frames", "leases")
            for row in conn.execute(f"SELECT t::text FROM {table} t")  # bytea shows as hex: search that too
        )
    body = key.removeprefix("sk-proj-")
    assert dump and body not in dump and body.encode().hex() not in dump


# -- the commands, the TUI and the tap on a PostgreSQL URL ----------------------------------------


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    return result.exit_code, result.output


def test_import_sessions_events_turns_export_and_diff_on_a_url(pg_url, tmp_path):
    url = with_password(pg_url)
    code, out = cli(
        "import", FIXTURES / "tool_call_round.jsonl", FIXTURES / "message_history_seeding.jsonl", "--db", url
    )
    assert code == 0 and out.startswith("session 1:") and PASSWORD not in out, out
    code, out = cli("sessions", "--json", env={"INSPECTOR_DB": url})  # $INSPECTOR_DB may hold a URL
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and sorted(r["id"] for r in rows) == [1, 2] and all(len(r["uid"]) == 32 for r in rows)
    code, out = cli("events", "1", "--db", url, "--filter", "type:response.done")
    assert code == 0 and "response.done" in out
    code, out = cli("turns", "1", "--db", url, "--json")
    assert code == 0 and json.loads(out.splitlines()[0])["text"] == "It is foggy and 12 degrees in London."
    exported = tmp_path / "one.jsonl"
    assert cli("export", "1", "--db", url, "-o", exported)[0] == 0
    header = json.loads(exported.read_text().splitlines()[0])
    assert header["session"]["uid"] == rows[[r["id"] for r in rows].index(1)]["uid"]
    code, out = cli("diff", "1", str(exported), "--db", url)
    assert code == 0, out  # a session and its own export: the same
    code, out = cli("diff", "1", "2", "--db", url)
    assert code == 1 and PASSWORD not in out


async def test_the_tui_opens_on_a_url_and_names_it_without_the_password(pg_url):
    from textual.widgets import Static
    from tui_helpers import build_db, running_app

    ids = build_db(pg_url, ["tool_call_round", "message_history_seeding"])
    async with running_app(with_password(pg_url)) as (app, _pilot):
        title = str(app.screen.query_one("#sessions-title", Static).render())
        assert show_db(pg_url) in title and PASSWORD not in title
        assert sorted(app.screen.table.ids) == sorted(ids.values())


async def test_the_tap_records_through_its_writer_process_into_postgresql(pg_url):
    async with run_upstream(echo_handler) as up, run_tap(up.url, pg_url) as tap:
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
            for i in range(20):
                await ws.send(json.dumps({"type": "ping", "i": i}))
                assert json.loads(await ws.recv())["i"] == i
            await ws.send(b"\x00\x01")
            assert await ws.recv() == b"\x00\x01"
        store = open_store(pg_url, create=False)
        await wait_for(lambda: store.sessions() != [] and store.sessions()[0].status == "closed", timeout=10)
    (info,) = store.sessions()
    frames = [e.frame for e in store.events(info.id, with_frames=True)]
    assert len(frames) == 42 and frames[-1] == b"\x00\x01" and frames[0] == '{"type": "ping", "i": 0}'
    assert info.host and info.model == "m" and info.unrecorded_frames == 0
    store.close()


def command_lines() -> list[bytes]:
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes())
        except OSError:  # the process ended while we looked
            pass
    return lines


async def test_the_writer_process_gets_the_url_with_its_password_outside_its_command_line(pg_url):
    # Any user can read a process's command line; the password must not be in the writer's.
    async with run_upstream(echo_handler) as up, run_tap(up.url, with_password(pg_url)) as tap:
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
            await ws.send('{"type": "ping"}')
            await ws.recv()
            lines = command_lines()
            assert any(b"inspector.store.writer" in line for line in lines)  # the writer is running
            assert not [line for line in lines if PASSWORD.encode() in line]
        store = open_store(pg_url, create=False)
        await wait_for(lambda: store.sessions() != [] and store.sessions()[0].status == "closed", timeout=10)
    assert store.count(store.sessions()[0].id) == 2
    store.close()


def test_a_session_exported_from_sqlite_keeps_its_uid_and_host_in_postgresql_and_a_second_import_is_a_copy(
    pg_url, tmp_path
):
    local = tmp_path / "local.db"
    with open_store(local) as store:
        sid = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')], host="laptop")
        uid = store.session(sid).uid
    exported = tmp_path / "s.jsonl"
    assert cli("export", sid, "--db", local, "-o", exported)[0] == 0
    assert cli("import", exported, "--db", pg_url)[0] == 0
    assert cli("import", exported, "--db", pg_url)[0] == 0
    with open_store(pg_url, create=False) as central:
        first, second = sorted(central.sessions(), key=lambda s: s.id)
        assert (first.uid, first.host) == (uid, "laptop") and central.session_id_for_uid(uid) == first.id
        assert second.uid != uid and second.host == "laptop"


def test_a_row_locked_past_the_busy_timeout_is_store_busy(pg_url):
    from inspector.store import StoreBusy

    with open_store(pg_url, busy_timeout=0.2) as store, psycopg.connect(pg_url) as other:
        sid = store.create_session(source="tap")
        other.execute("SELECT * FROM sessions WHERE id = %s FOR UPDATE", (sid,))  # held until rollback
        with pytest.raises(StoreBusy, match="busy"):
            store.update_session(sid, label="x")
        other.rollback()
        store.update_session(sid, label="x")
        assert store.session(sid).label == "x"


def test_a_dropped_connection_is_one_store_error_and_the_next_call_connects_again(pg_url):
    with open_store(pg_url) as store, psycopg.connect(pg_url, autocommit=True) as admin:
        sid = store.create_session(source="tap")
        admin.execute(  # as a server restart or a failover would
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        with pytest.raises(StoreError, match="lost the connection") as info:
            store.session(sid)
        assert not isinstance(info.value, psycopg.Error)
        assert store.session(sid).id == sid
        store.append_events(sid, [FrameIn(Direction.CLIENT, 0, '{"type":"a"}')])
        assert store.count(sid) == 1


async def test_replay_and_the_mocks_playback_read_and_record_on_a_url(pg_url):
    from inspector.mock.playback import load_recording
    from inspector.replay.plan import Pace
    from inspector.replay.runner import ReplayOptions, replay_sessions

    assert cli("import", FIXTURES / "tool_call_round.jsonl", "--db", pg_url)[0] == 0
    recording, _close = load_recording(pg_url, 1)  # what `inspector mock --from-session 1` serves
    (result,) = await replay_sessions(pg_url, [1], options=ReplayOptions(pace=Pace.ASAP, timeout=0.5))
    with open_store(pg_url, create=False) as store:
        info = store.session(result.session_id)
        assert (info.source, info.replay_of, info.status) == ("replay", 1, "closed")
        assert len(recording) == store.count(1) and result.exit_code == 0
