"""Recording under faults, for real: recorders killed with SIGKILL, a full disk (a small tmpfs),
another process holding the write lock while the tap stops, a second signal."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import echo_handler, run_tap, run_upstream, wait_for
from websockets.asyncio.client import connect

from inspector.cli import main as cli_main
from inspector.protocol import Direction
from inspector.store import FrameIn, Recorder, Store, is_url, open_store
from inspector.store.leases import Holder, holder_alive, process_start, this_host


def _wait(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _stored_status(db: Path | str, session_id: int) -> str:
    """The status as written in the database, read past the store (which reports a dead
    recorder's session as interrupted without writing it)."""
    if is_url(db):
        import psycopg

        with psycopg.connect(str(db)) as raw:
            return raw.execute("SELECT status FROM sessions WHERE id = %s", (session_id,)).fetchone()[0]
    with contextlib.closing(sqlite3.connect(db)) as raw:
        return raw.execute("SELECT status FROM sessions WHERE id = ?", (session_id,)).fetchone()[0]


# -- leases -----------------------------------------------------------------------------------


def test_a_lease_is_alive_only_for_its_own_process_and_a_foreign_one_only_while_renewed():
    now = time.time()
    me = Holder(os.getpid(), this_host(), process_start(os.getpid()), now - 3600)
    assert holder_alive(me, now)
    assert not holder_alive(Holder(os.getpid(), this_host(), "1", now), now)  # a reused pid
    assert holder_alive(Holder(1, "elsewhere", "", now - 10), now)
    assert not holder_alive(Holder(1, "elsewhere", "", now - 600), now)


def test_the_sessions_of_a_killed_recorder_read_as_interrupted_at_once_and_the_next_one_writes_it(any_db):
    # kill -9 once left a session `open` forever (and undeletable in the UI); here two
    # recorders share the database and only the dead one's session changes. On PostgreSQL the
    # death shows through the advisory lock its connection held.
    db = any_db
    # `restarts=0`: the doomed recorder does not replace its dead writer, as a killed tap would not.
    doomed = Recorder(db, flush_interval=0.005, restarts=0).start()
    alive = Recorder(db, flush_interval=0.005).start()
    try:
        a, b = doomed.open_session(source="tap", model="a"), alive.open_session(source="tap", model="b")
        for i in range(10):
            a.record(Direction.CLIENT, f'{{"type":"a{i}"}}')
            b.record(Direction.CLIENT, f'{{"type":"b{i}"}}')
        _wait(lambda: doomed.stats.frames == 10 and alive.stats.frames == 10)
        id_a, id_b = a.id.result(), b.id.result()
        reader = open_store(db, create=False)
        version = reader.data_version()
        assert {s.id: s.status for s in reader.sessions()} == {id_a: "open", id_b: "open"}

        assert doomed._process is not None
        os.kill(doomed._process.pid, signal.SIGKILL)
        doomed._process.wait()

        # A live view notices without a commit: at once on SQLite; on PostgreSQL as soon as the
        # server has seen the dead process's connection drop (milliseconds).
        _wait(lambda: reader.data_version() != version, timeout=5)
        info = reader.session(id_a)
        assert info.status == "interrupted" and "ended without closing" in (info.error or "")
        assert reader.session(id_b).status == "open"
        assert reader.count(id_a) == 10  # what was committed stays
        assert _stored_status(db, id_a) == "open"  # a reader does not write...
        Recorder(db).start().close()  # ...the next recorder to start does
        assert _stored_status(db, id_a) == "interrupted"
        assert _stored_status(db, id_b) == "open"
        reader.close()
    finally:
        doomed.close(timeout=5)
        alive.close()
    with open_store(db) as store:  # a recorder that stops cleanly interrupts what it left open
        assert store.session(id_b).status == "interrupted"


def test_a_version_2_database_is_migrated_and_its_stale_open_sessions_interrupted(tmp_path):
    from inspector.store.schema import MIGRATIONS

    db = tmp_path / "v2.db"
    raw = sqlite3.connect(db, isolation_level=None)
    for script in MIGRATIONS[:2]:
        for statement in script.split(";"):
            if statement.strip():
                raw.execute(statement)
    raw.execute("PRAGMA user_version=2")
    raw.execute("INSERT INTO sessions (started_at, source, status, label) VALUES (1.0, 'tap', 'open', 'stale')")
    raw.execute("INSERT INTO sessions (started_at, source, status) VALUES (2.0, 'tap', 'closed')")
    raw.close()
    with Store(db) as store:
        stale, closed = sorted(store.sessions(), key=lambda s: s.id)
        assert (stale.status, stale.label, stale.unrecorded_frames) == ("interrupted", "stale", 0)
        assert "earlier version" in (stale.error or "")
        assert closed.status == "closed"


# -- a tap process killed with SIGKILL ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_tap(port: int, upstream: str, db: Path) -> subprocess.Popen[bytes]:
    args = ["tap", "--listen", f"127.0.0.1:{port}", "--upstream", upstream, "--db", str(db)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspector", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _wait(lambda: _listening(port), timeout=30)
    return proc


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.1):
            return True
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def test_kill_9_of_a_tap_and_its_writer_leaves_an_interrupted_session_with_every_frame_forwarded_before(tmp_path):
    db = tmp_path / "x.db"
    port = _free_port()

    async def scenario() -> list[int]:
        async with run_upstream(echo_handler) as up:
            proc = _start_tap(port, up.url, db)
            try:
                ws = await connect(f"ws://127.0.0.1:{port}/v1/realtime?model=m")
                for i in range(200):
                    await ws.send(json.dumps({"type": "input_audio_buffer.append", "i": i}))
                    assert json.loads(await ws.recv())["i"] == i
                # Forwarded more than 100 ms ago (with margin for a loaded 2-core machine:
                # the feeder hands frames over every 100 ms, then the writer commits).
                await asyncio.sleep(0.4)
                victims = [proc.pid, *_children(proc.pid)]
                for pid in victims:
                    os.kill(pid, signal.SIGKILL)
                proc.wait()
                return victims
            finally:
                if proc.poll() is None:
                    proc.kill()

    victims = asyncio.run(scenario())
    assert len(victims) == 2  # the tap and its writer process
    # SIGKILL takes effect when the process next leaves the kernel (the writer may be in a
    # write): "at once" means once it is gone, which the kernel decides, not the tap.
    deadline = time.monotonic() + 10
    while any(process_start(pid) for pid in victims) and time.monotonic() < deadline:
        time.sleep(0.01)
    listing = CliRunner().invoke(cli_main, ["sessions", "--db", str(db)])
    assert listing.exit_code == 0 and "interrupted" in listing.output and "open" not in listing.output
    with Store(db, create=False) as store:
        (info,) = store.sessions()
        assert info.status == "interrupted"
        client = [json.loads(e.frame)["i"] for e in store.events(info.id, with_frames=True, direction=Direction.CLIENT)]
        assert client == list(range(200)) and info.server_events == 200


async def test_the_tui_shows_a_killed_recorders_session_interrupted_at_once_and_deletes_it(tmp_path):
    from tui_helpers import running_app

    db = tmp_path / "x.db"
    Store(db).close()
    recorder = Recorder(db, flush_interval=0.005, restarts=0).start()  # a dead writer stays dead
    session = recorder.open_session(source="tap", model="doomed")
    session.record(Direction.CLIENT, '{"type":"a"}')
    await asyncio.to_thread(_wait, lambda: recorder.stats.frames == 1)
    async with running_app(db) as (app, pilot):
        screen = app.screen
        assert "open" in screen.table.render_line(1).text
        assert recorder._process is not None
        os.kill(recorder._process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while "interrupted" not in screen.table.render_line(1).text:
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        await pilot.press("d", "y")
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        assert app.store.sessions() == []
    recorder.close(timeout=5)


# -- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MB tmpfs: a real ENOSPC (needs root, or CAP_SYS_ADMIN, to mount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Take every free byte of the file system; deleting the file gives them back."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


async def _echo_all(port: int, frames: list[str]) -> None:
    async with connect(f"ws://127.0.0.1:{port}/v1/realtime?model=m") as ws:
        for frame in frames:
            await ws.send(frame)
            assert await asyncio.wait_for(ws.recv(), 5) == frame  # forwarding goes on


async def test_on_a_full_disk_forwarding_goes_on_the_log_says_why_and_frames_are_written_once_there_is_room(
    small_disk, caplog
):
    db = small_disk / "x.db"
    Store(db).close()
    frames = [json.dumps({"type": "input_audio_buffer.append", "audio": "QUJD" * 300, "i": i}) for i in range(300)]
    with caplog.at_level(logging.WARNING, logger="inspector.recorder"):
        async with run_upstream(echo_handler) as up, run_tap(up.url, db) as tap:
            filler = _fill(small_disk)
            await _echo_all(tap.port, frames)
            await wait_for(lambda: "database or disk is full" in caplog.text, timeout=10)
            assert "no transaction is active" not in caplog.text
            filler.unlink()
            await wait_for(lambda: tap.recorder.stats.frames == 600, timeout=20)
    assert "recording writes again" in caplog.text
    with Store(db, create=False) as store:
        (info,) = store.sessions()
        assert (info.events, info.unrecorded_frames, info.status) == (600, 0, "closed")


async def test_past_the_buffer_the_oldest_frames_are_dropped_and_counted_on_the_session(small_disk):
    db = small_disk / "x.db"
    Store(db).close()
    frames = [json.dumps({"type": "input_audio_buffer.append", "audio": "QUJD" * 300, "i": i}) for i in range(300)]
    async with (
        run_upstream(echo_handler) as up,
        run_tap(up.url, db, recorder_options={"buffer_bytes": 64 * 1024}) as tap,
    ):
        filler = _fill(small_disk)
        await _echo_all(tap.port, frames)
        await wait_for(lambda: tap.recorder.stats.dropped > 0, timeout=10)
        filler.unlink()
    with Store(db, create=False) as store:
        (info,) = store.sessions()
        assert info.unrecorded_frames > 0 and info.events + info.unrecorded_frames == 600
        assert [e.seq for e in store.events(info.id)] == list(range(1, info.events + 1))  # dense
        client = [json.loads(e.frame)["i"] for e in store.events(info.id, with_frames=True, direction=Direction.CLIENT)]
        assert client[-1] == 299 and client == sorted(client)  # the newest kept, in order
        listing = CliRunner().invoke(cli_main, ["sessions", "--db", str(db)])
        assert f"{info.unrecorded_frames} frames not recorded" in listing.output


# -- stopping while another process holds the write lock ----------------------------------------


def _tap_with_a_locked_database(tmp_path: Path, signals: int) -> tuple[float, str, Path]:
    """A tap with a live session whose database gets locked for good; returns how long the
    tap took to exit after the first signal, its output and the database."""
    db = tmp_path / "x.db"
    port = _free_port()

    async def scenario() -> tuple[float, str]:
        async with run_upstream(echo_handler) as up:
            proc = _start_tap(port, up.url, db)
            blocker = sqlite3.connect(db, isolation_level=None)
            try:
                async with connect(f"ws://127.0.0.1:{port}/v1/realtime?model=m") as ws:
                    await ws.send('{"type":"before"}')
                    await ws.recv()
                    await asyncio.sleep(0.3)
                    blocker.execute("BEGIN IMMEDIATE")  # and never released
                    for i in range(50):
                        await ws.send(json.dumps({"type": "during", "i": i}))
                        await ws.recv()
                    started = time.monotonic()
                    for _ in range(signals):
                        proc.send_signal(signal.SIGTERM)
                        await asyncio.sleep(0.5)
                    output, _ = await asyncio.to_thread(proc.communicate, timeout=30)
                    return time.monotonic() - started, output.decode()
            finally:
                blocker.close()
                if proc.poll() is None:
                    proc.kill()

    elapsed, output = asyncio.run(scenario())
    return elapsed, output, db


def test_sigterm_while_the_database_is_locked_for_good_exits_within_10_s_saying_what_was_lost(tmp_path):
    elapsed, output, db = _tap_with_a_locked_database(tmp_path, signals=1)
    assert elapsed < 12, output  # 10 s and the interpreter's own exit
    assert "database is locked" in output
    assert "100 forwarded frames could not be recorded" in output  # 50 each way
    with Store(db, create=False) as store:
        (info,) = store.sessions()
        assert info.status == "interrupted" and (info.client_events, info.server_events) == (1, 1)


def test_a_second_signal_exits_at_once_saying_so(tmp_path):
    elapsed, output, _db = _tap_with_a_locked_database(tmp_path, signals=2)
    assert elapsed < 3, output  # the second signal came after 0.5 s
    assert "second signal: exiting now; 100 forwarded frames are not recorded" in output


async def test_the_tuis_sessions_list_and_session_header_say_how_many_frames_were_not_recorded(tmp_path):
    from textual.widgets import Static
    from tui_helpers import running_app

    db = tmp_path / "x.db"
    with Store(db) as store:
        lossy = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')], unrecorded_frames=7)
        store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"b"}')])
    async with running_app(db) as (app, pilot):
        rows = [app.screen.table.render_line(1 + i).text for i in range(2)]
        assert sum("7 frames not recorded" in row for row in rows) == 1
        app.open_session(lossy)
        await pilot.pause(0.3)
        title = str(app.screen.query_one("#session-title", Static).render())
        assert "7 frames not recorded" in title
