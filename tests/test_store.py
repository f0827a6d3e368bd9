"""The store on real SQLite files: permissions, schema checks, atomic imports, exact frames."""

from __future__ import annotations

import base64
import os
import sqlite3

import pytest

from inspector.protocol import Direction
from inspector.store import FrameIn, Store, StoreError
from inspector.store.store import PAGE_ROWS


def test_database_is_created_private_in_wal_mode_with_its_schema_version(tmp_path):
    import sqlite3

    from inspector.store.schema import SCHEMA_VERSION

    with Store(tmp_path / "sub" / "x.db") as store:
        store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')])
        # the side files hold frames too: private as well
        for path in (tmp_path / "sub").iterdir():
            assert os.stat(path).st_mode & 0o777 == 0o600, path.name
    conn = sqlite3.connect(tmp_path / "sub" / "x.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
    conn.close()


def test_missing_corrupt_foreign_and_newer_databases_give_clear_errors(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        Store(tmp_path / "missing.db", create=False)
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a usable database"):
        Store(corrupt)
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not one the inspector wrote"):
        Store(foreign)
    newer = tmp_path / "newer.db"
    Store(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store(newer)


def test_an_import_that_fails_half_way_leaves_nothing(tmp_path):
    store = Store(tmp_path / "x.db")

    def frames():
        yield FrameIn(Direction.CLIENT, 1, '{"type":"a"}')
        raise ValueError("bad line 2")

    with pytest.raises(ValueError):
        store.import_session(frames())
    assert store.sessions() == []


def test_frames_come_back_byte_for_byte_across_pages_and_audio_storage(tmp_path):
    store = Store(tmp_path / "x.db")
    audio = base64.b64encode(bytes(range(256)) * 4).decode()
    frames = [
        '{"type":"input_audio_buffer.append","audio":"' + audio + '"}',
        '{"type":"input_audio_buffer.append","audio":"' + audio.replace("/", "\\/") + '"}',  # escaped
        '{"type":"response.output_audio.delta","delta":"QUJD"}',
        '{"type":"response.output_audio.delta","delta":"QUJ"}',  # not canonical base64
        '{"type":"input_audio_buffer.append","audio":"QUJD","x":"QUJD"}',  # value twice
        "ünïcödé 日本",
        b"\x00\x01binary",
    ] * (PAGE_ROWS // 3)
    sid = store.import_session(FrameIn(Direction(("client", "server")[i % 2]), i, f) for i, f in enumerate(frames))
    got = list(store.events(sid, with_frames=True))
    assert [e.frame for e in got] == frames
    assert [e.seq for e in got] == list(range(1, len(frames) + 1))
    assert store.frame(sid, 2) == frames[1]
    info = store.session(sid)
    assert info.client_events + info.server_events == len(frames)
    assert store.count(sid) == len(frames)


def test_deleting_a_session_removes_its_events_only(tmp_path):
    store = Store(tmp_path / "x.db")
    a = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')])
    b = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"b"}')])
    store.delete_session(a)
    assert [s.id for s in store.sessions()] == [b]
    assert store.frame(b, 1) == '{"type":"b"}'
    with pytest.raises(StoreError):
        store.frame(a, 1)


def test_recorder_writes_from_its_own_process_and_reports_a_bad_database(tmp_path):
    from inspector.store import Recorder

    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="not a usable database"):
        Recorder(bad).start()
    good = tmp_path / "good.db"
    with Recorder(good, flush_interval=0.001) as recorder:
        session = recorder.open_session(source="tap", model="m")
        for i in range(5000):
            session.record(Direction.CLIENT if i % 2 else Direction.SERVER, f'{{"type":"x","i":{i}}}')
        session.update(status="closed", close_code=1000)
    assert session.id.result() == 1 and recorder.stats.frames == 5000
    store = Store(good, create=False)
    assert [e.seq for e in store.events(1)] == list(range(1, 5001))
    assert store.frame(1, 5000) == '{"type":"x","i":4999}'
    assert (store.session(1).status, store.session(1).client_events) == ("closed", 2500)


def test_the_writer_yields_the_cpu_to_the_relay_and_outlives_a_signal_to_its_group(tmp_path):
    # Own process group (Ctrl-C to the tap's group does not reach it) but the same session: a new
    # session is a new autogroup on Linux, where the writer's low priority would count for nothing.
    import os

    from inspector.store import Recorder

    with Recorder(tmp_path / "x.db") as recorder:
        pid = recorder._process.pid
        assert os.getsid(pid) == os.getsid(0)
        assert os.getpgid(pid) == pid != os.getpgid(0)
        policy = os.sched_getscheduler(pid)
        assert policy == os.SCHED_IDLE or os.getpriority(os.PRIO_PROCESS, pid) == 19


def test_a_session_deleted_while_recorded_stops_only_its_own_recording(tmp_path):
    import time

    from inspector.store import Recorder

    db = tmp_path / "x.db"
    with Recorder(db, flush_interval=0.005) as recorder:
        doomed = recorder.open_session(source="tap")
        doomed.record(Direction.CLIENT, '{"type":"a"}')
        doomed_id = doomed.id.result(timeout=10)
        with Store(db) as store:
            store.delete_session(doomed_id)  # as the TUI's `d` would, in another connection
        for i in range(3):
            doomed.record(Direction.SERVER, f'{{"type":"late","i":{i}}}')
        doomed.update(status="closed")
        time.sleep(0.1)  # let that batch go first, then open another session
        other = recorder.open_session(source="tap")
        other.record(Direction.CLIENT, '{"type":"mine"}')
        other.update(status="closed")
    assert recorder._failed is None
    with Store(db, create=False) as store:
        (info,) = store.sessions()
        assert info.id == other.id.result() and info.status == "closed"
        assert [e.type for e in store.events(info.id)] == ["mine"]
    import sqlite3

    with sqlite3.connect(db) as conn:  # no orphan rows of the deleted session
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM frames").fetchone()[0] == 1


def test_a_closed_sessions_duration_runs_to_its_close(tmp_path):
    store = Store(tmp_path / "x.db")
    sid = store.import_session(
        [FrameIn(Direction.CLIENT, 12_000_000, '{"type":"a"}')], started_at=100.0, ended_at=102.5
    )
    assert store.session(sid).duration == 2.5
    open_sid = store.import_session([FrameIn(Direction.CLIENT, 12_000_000, '{"type":"a"}')], status="open")
    assert store.session(open_sid).duration == 0.012


def test_the_writer_waits_out_a_locked_database_and_loses_nothing(tmp_path, capsys):
    # Another process holding the write lock past the busy timeout (a long import, a sqlite3
    # shell) once stopped recording for good.
    import sqlite3
    import threading
    import time

    from inspector.store.writer import FRAME, OPEN, UPDATE, _Sessions, write_waiting

    db = tmp_path / "x.db"
    store = Store(db, busy_timeout=0.05)
    sessions = _Sessions()
    write_waiting(store, sessions, [(OPEN, 1, {"started_at": 1.0, "source": "tap", "status": "open"})])
    blocker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, lambda: blocker.execute("COMMIT")).start()
    batch = [(FRAME, 1, False, i, f'{{"type":"f{i}"}}') for i in range(3)] + [
        (OPEN, 2, {"started_at": 2.0, "source": "tap", "status": "open"}),
        (FRAME, 2, True, 0, '{"type":"g"}'),
        (UPDATE, 1, {"status": "closed"}),
    ]
    started = time.monotonic()
    opened, frames, _ = write_waiting(store, sessions, batch)
    assert time.monotonic() - started >= 0.4  # it did wait, several attempts
    assert "recording waits for the lock" in capsys.readouterr().err
    assert (opened, frames) == ({2: 2}, 4)
    assert [e.seq for e in store.events(1)] == [1, 2, 3]  # no seq skipped by the failed attempts
    assert [e.seq for e in store.events(2)] == [1]
    assert store.session(1).status == "closed"
    store.close()
    blocker.close()


def test_an_empty_file_is_not_taken_for_a_database_by_a_reader(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch(mode=0o644)
    with pytest.raises(StoreError, match="empty file"):
        Store(empty, create=False)
    assert empty.stat().st_size == 0
    Store(empty).close()  # a writer may make it a database, private like any other
    assert empty.stat().st_mode & 0o777 == 0o600
    with pytest.raises(StoreError, match="cannot create"):
        Store(tmp_path / "empty.db" / "x.db")


def test_events_of_type_by_exact_type_or_glob_in_seq_order(tmp_path):
    with Store(tmp_path / "x.db") as store:
        frames = [
            FrameIn(Direction.SERVER, i, f'{{"type":"{t}"}}')
            for i, t in enumerate(
                [
                    "response.created",
                    "response.output_text.delta",
                    "error",
                    "response.output_text.delta",
                    "response.done",
                ]
            )
        ]
        sid = store.import_session(frames)
        other = store.import_session(frames)
        assert [e.seq for e in store.events_of_type(sid, "response.output_text.delta")] == [2, 4]
        assert [e.seq for e in store.events_of_type(sid, "response.*")] == [1, 2, 4, 5]
        assert [e.seq for e in store.events_of_type(other, "*.delta")] == [2, 4]
        assert [e.frame for e in store.events_of_type(sid, "error", with_frames=True)] == ['{"type":"error"}']
        assert list(store.events_of_type(sid, "Response.*")) == []  # case-sensitive, as documented
        assert [e.seq for e in store.events_of_type(sid, "[!r]*")] == [3]  # fnmatch's negation
        untyped = store.import_session(
            [FrameIn(Direction.CLIENT, 0, b"\x00"), FrameIn(Direction.CLIENT, 1, "not json")]
        )
        assert [e.seq for e in store.events_of_type(untyped, "*")] == [1, 2]  # every event, as before


def test_a_deleted_sessions_id_is_never_given_to_another(tmp_path):
    with Store(tmp_path / "x.db") as store:
        first = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')])
        newest = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"b"}')])
        store.delete_session(newest)
        assert store.import_session([]) == newest + 1 and first == newest - 1


def test_a_version_1_database_migrates_keeping_its_sessions_and_events(tmp_path):
    from inspector.store.schema import MIGRATIONS

    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA page_size=16384")
    conn.execute("PRAGMA journal_mode=WAL")
    for statement in MIGRATIONS[0].split(";"):  # exactly what version 1 created
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO sessions (id, started_at, source, status, label) VALUES (3, 1.0, 'tap', 'closed', 'kept')"
    )
    conn.execute(
        "INSERT INTO events (id, dir, t_ns, opcode, size, type) VALUES (?, 0, 0, 1, 12, 'a')", ((3 << 32) | 1,)
    )
    conn.execute('INSERT INTO frames (id, body) VALUES (?, \'{"type":"a"}\')', ((3 << 32) | 1,))
    conn.close()
    with Store(db) as store:
        (info,) = store.sessions()
        assert (info.id, info.label, info.status) == (3, "kept", "closed")
        assert store.frame(3, 1) == '{"type":"a"}'
        store.delete_session(3)
        assert store.import_session([]) == 4  # AUTOINCREMENT remembers 3
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert "AUTOINCREMENT" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'sessions'").fetchone()[0]
    conn.close()
