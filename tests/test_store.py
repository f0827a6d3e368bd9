"""The store on real SQLite files and a real PostgreSQL server (`any_db`: each contract test runs
on both): permissions, schema checks, atomic imports, exact frames."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.protocol import Direction
from inspector.store import FrameIn, Store, StoreError, open_store
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


def test_an_import_that_fails_half_way_leaves_nothing(any_db):
    store = open_store(any_db)

    def frames():
        yield FrameIn(Direction.CLIENT, 1, '{"type":"a"}')
        raise ValueError("bad line 2")

    with pytest.raises(ValueError):
        store.import_session(frames())
    assert store.sessions() == []


def test_frames_come_back_byte_for_byte_across_pages_and_audio_storage(any_db):
    store = open_store(any_db)
    audio = base64.b64encode(bytes(range(256)) * 4).decode()
    frames = [
        '{"type":"input_audio_buffer.append","audio":"' + audio + '"}',
        '{"type":"input_audio_buffer.append","audio":"' + audio.replace("/", "\\/") + '"}',  # escaped
        '{"type":"response.output_audio.delta","delta":"QUJD"}',
        '{"type":"response.output_audio.delta","delta":"QUJ"}',  # not canonical base64
        '{"type":"input_audio_buffer.append","audio":"QUJD","x":"QUJD"}',  # value twice
        "ünïcödé 日本",
        "text with a NUL \x00 inside",  # PostgreSQL text cannot hold it: kept as bytes
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


def test_audio_read_as_length_cuts_only_audio_stored_apart_and_says_how_long_it_was(any_db):
    import orjson

    from inspector.protocol import AUDIO_FIELDS

    store = open_store(any_db)
    audio = base64.b64encode(bytes(range(256)) * 4).decode()
    frames = [
        '{"type":"input_audio_buffer.append","audio":"' + audio + '","event_id":"e1"}',
        '{"type":"response.output_audio.delta","delta":"QUJD","item_id":"i"}',
        '{"type":"response.output_audio.delta","delta":"QUJ"}',  # not canonical: kept inline
        '{"type":"input_audio_buffer.append","audio":"QUJD","x":"QUJD"}',  # value twice: inline
        '{"type":"response.output_audio.delta","delta":""}',  # nothing to cut
        '{"type":"response.output_text.delta","delta":"QUJD"}',  # not an audio field
        b"\x00\x01binary",
    ] * (PAGE_ROWS // 3)
    sid = store.import_session(FrameIn(Direction.SERVER, i, f) for i, f in enumerate(frames))
    got = list(store.events(sid, with_frames=True, audio="length"))
    assert [e.seq for e in got] == list(range(1, len(frames) + 1))
    assert [e.audio_size for e in got[:7]] == [1024, 3, None, None, None, None, None]
    for event, frame in zip(got, frames):
        if event.audio_size is None:
            assert event.frame == frame
            continue
        whole, cut = orjson.loads(frame), orjson.loads(event.frame or "")
        field = AUDIO_FIELDS[whole["type"]]
        assert cut == {**whole, field: ""}
        assert event.audio_size == len(base64.b64decode(whole[field]))
    assert store.page(sid, 1, 2, with_frames=True, audio="length")[1].frame == frames[1].replace("QUJD", "")
    assert [e.frame for e in store.events(sid, with_frames=True)] == frames  # the default: exact


def test_deleting_a_session_removes_its_events_only(any_db):
    store = open_store(any_db)
    a = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')])
    b = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"b"}')])
    store.delete_session(a)
    assert [s.id for s in store.sessions()] == [b]
    assert store.frame(b, 1) == '{"type":"b"}'
    with pytest.raises(StoreError):
        store.frame(a, 1)


def test_recorder_writes_from_its_own_process_and_reports_a_bad_database(any_db, tmp_path):
    from inspector.store import Recorder

    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="not a usable database"):
        Recorder(bad).start()
    with Recorder(any_db, flush_interval=0.001) as recorder:
        session = recorder.open_session(source="tap", model="m")
        for i in range(5000):
            session.record(Direction.CLIENT if i % 2 else Direction.SERVER, f'{{"type":"x","i":{i}}}')
        session.update(status="closed", close_code=1000)
    assert recorder.stats.frames == 5000
    store = open_store(any_db, create=False)
    sid = session.id.result()
    assert [e.seq for e in store.events(sid)] == list(range(1, 5001))
    assert store.frame(sid, 5000) == '{"type":"x","i":4999}'
    assert (store.session(sid).status, store.session(sid).client_events) == ("closed", 2500)
    store.close()


def test_the_writer_yields_the_cpu_to_the_relay_and_outlives_a_signal_to_its_group(tmp_path):
    # Own process group (Ctrl-C to the tap's group does not reach it) but the same session: a new
    # session is a new autogroup on Linux, where the writer's low priority would count for nothing.
    import os
    import time

    from inspector.store import Recorder

    with Recorder(tmp_path / "x.db") as recorder:
        pid = recorder._process.pid
        assert os.getsid(pid) == os.getsid(0)
        assert os.getpgid(pid) == pid != os.getpgid(0)
        # Its reading and writing threads idle; its main thread keeps normal priority to catch up when the
        # machine is saturated (else the idle thread starves and the buffer drops frames).
        time.sleep(0.2)  # the writing thread lowers its own priority as it starts
        threads = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
        idle = [
            t for t in threads if os.sched_getscheduler(t) == os.SCHED_IDLE or os.getpriority(os.PRIO_PROCESS, t) == 19
        ]
        assert len(idle) == 2 and pid not in idle  # the reading and the writing threads


def test_a_session_deleted_while_recorded_stops_only_its_own_recording(any_db):
    import time

    from inspector.store import Recorder

    db = any_db
    with Recorder(db, flush_interval=0.005) as recorder:
        doomed = recorder.open_session(source="tap")
        doomed.record(Direction.CLIENT, '{"type":"a"}')
        doomed_id = doomed.id.result(timeout=10)
        with open_store(db) as store:
            store.delete_session(doomed_id)  # as the TUI's `d` would, in another connection
        for i in range(3):
            doomed.record(Direction.SERVER, f'{{"type":"late","i":{i}}}')
        doomed.update(status="closed")
        time.sleep(0.1)  # let that batch go first, then open another session
        other = recorder.open_session(source="tap")
        other.record(Direction.CLIENT, '{"type":"mine"}')
        other.update(status="closed")
    assert recorder._failed is None
    with open_store(db, create=False) as store:
        (info,) = store.sessions()
        assert info.id == other.id.result() and info.status == "closed"
        assert [e.type for e in store.events(info.id)] == ["mine"]
    assert _rows(db, "events") == _rows(db, "frames") == 1  # no orphan rows of the deleted session


def _rows(db: str, table: str) -> int:
    """How many rows a table holds, counted past the store."""
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_closed_sessions_duration_runs_to_its_close(any_db):
    store = open_store(any_db)
    sid = store.import_session(
        [FrameIn(Direction.CLIENT, 12_000_000, '{"type":"a"}')], started_at=100.0, ended_at=102.5
    )
    assert store.session(sid).duration == 2.5
    open_sid = store.import_session([FrameIn(Direction.CLIENT, 12_000_000, '{"type":"a"}')], status="open")
    assert store.session(open_sid).duration == 0.012
    # Several events all at offset 0 and no end: an import that kept no times; unknown, not 0.
    untimed = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')] * 3)
    assert store.session(untimed).duration is None
    from inspector.display import format_duration

    assert format_duration(None) == "—" and format_duration(0.0) == "0ms"


def test_the_writer_waits_out_a_locked_database_and_loses_nothing(tmp_path, caplog):
    # Another process holding the write lock past the busy timeout (a long import, a sqlite3
    # shell) once stopped recording for good; then it held it up forever (no bound).
    import logging
    import sqlite3

    from inspector.store import Recorder
    from inspector.store.values import SessionStatus

    db = tmp_path / "x.db"
    Store(db).close()
    blocker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    with caplog.at_level(logging.WARNING, logger="inspector.recorder"), Recorder(db, flush_interval=0.01) as recorder:
        session = recorder.open_session(source="tap", model="m")
        for i in range(3):
            session.record(Direction.CLIENT, f'{{"type":"f{i}"}}')
        session.update(status=SessionStatus.CLOSED)
        _wait(lambda: "the database is busy" in caplog.text or "locked" in caplog.text)
        assert recorder.stats.frames == 0
        blocker.execute("COMMIT")
        _wait(lambda: recorder.stats.frames == 3)
    assert "recording writes again" in caplog.text
    with Store(db) as store:
        (info,) = store.sessions()
        assert [e.type for e in store.events(info.id)] == ["f0", "f1", "f2"]
        assert info.status == "closed" and info.unrecorded_frames == 0
    blocker.close()


def _wait(condition, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


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


def test_seqs_matching_a_type_by_exact_type_or_glob_in_seq_order(any_db):
    from inspector.store.filter import compile_filter

    with open_store(any_db) as store:
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

        def seqs(session_id: int, text: str) -> list[int]:
            return store.seqs_matching(session_id, compile_filter(text))

        assert seqs(sid, "type:response.output_text.delta") == [2, 4]
        assert seqs(sid, "type:response.*") == [1, 2, 4, 5]
        assert seqs(other, "type:*.delta") == [2, 4]
        assert seqs(sid, "type:Response.*") == [1, 2, 4, 5]  # case-insensitive, as documented
        assert seqs(sid, "type:RESPONSE.DONE") == [5]
        assert seqs(sid, "type:[!r]*") == [3]  # fnmatch's negation
        assert seqs(sid, "type:response.* -dir:server") == []
        assert seqs(sid, "type:error").__len__() == 1 and store.frame(sid, 3) == '{"type":"error"}'
        untyped = store.import_session(
            [FrameIn(Direction.CLIENT, 0, b"\x00"), FrameIn(Direction.CLIENT, 1, "not json")]
        )
        assert seqs(untyped, "type:*") == [1, 2]  # every event, typed or not


def test_seqs_matching_after_a_seq_returns_only_later_events(any_db):
    from inspector.store.filter import compile_filter

    with open_store(any_db) as store:
        sid = store.import_session([FrameIn(Direction.SERVER, i, '{"type":"a"}') for i in range(6)])
        compiled = compile_filter("type:a")
        assert store.seqs_matching(sid, compiled.and_after(4)) == [5, 6]
        assert store.seqs_matching(sid, compile_filter("").and_after(5)) == [6]
        assert store.seqs_matching(sid, compiled.and_after(6)) == []
        assert store.seqs_matching(sid, compile_filter("seq>=2 seq<4")) == [2, 3]


def test_a_deleted_sessions_id_is_never_given_to_another(any_db):
    with open_store(any_db) as store:
        first = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')])
        newest = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"b"}')])
        store.delete_session(newest)
        assert store.import_session([]) == newest + 1 and first == newest - 1


def test_a_version_1_database_migrates_keeping_its_sessions_and_events(tmp_path):
    from inspector.store.schema import MIGRATIONS, SCHEMA_VERSION

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
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "AUTOINCREMENT" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'sessions'").fetchone()[0]
    conn.close()


# --- the sealed store -------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def test_importing_the_filter_module_loads_neither_sqlite_nor_the_recorder():
    code = (
        "import sys, inspector.store.filter, inspector.store.values; "
        "print(sorted(m for m in ('sqlite3', 'sqlite_utils', 'inspector.store.recorder', "
        "'inspector.store.store') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
    import inspector.store

    assert inspector.store.Store.__name__ == "Store" and "Recorder" in dir(inspector.store)
    with pytest.raises(AttributeError):
        inspector.store.event_key  # noqa: B018 - how ids are packed is not public


def _python_files_outside_the_store() -> list[Path]:
    return [p for p in (REPO / "inspector").rglob("*.py") if "store" not in p.relative_to(REPO / "inspector").parts]


def test_nothing_outside_the_store_imports_sqlite3_or_knows_how_event_ids_are_packed():
    files = _python_files_outside_the_store() + list((REPO / "benchmarks").glob("*.py"))
    assert len(files) > 20
    for path in files:
        text = path.read_text()
        for needle in ("import sqlite3", "SEQ_BITS", "event_key", "key_range", "inspector.store.store", "seqs_where"):
            assert needle not in text, f"{path.relative_to(REPO)} uses {needle}"


def test_an_interrupted_read_raises_store_interrupted_not_a_sqlite_error(tmp_path):
    from inspector.store import StoreInterrupted
    from inspector.store.filter import compile_filter

    with Store(tmp_path / "x.db") as store:
        sid = store.import_session([FrameIn(Direction.CLIENT, i, '{"type":"a"}') for i in range(50)])
        # What Store.interrupt() does from another thread, made deterministic: the connection's
        # progress handler aborts every statement as SQLite's interrupt would.
        store._conn.set_progress_handler(lambda: 1, 1)
        with pytest.raises(StoreInterrupted):
            store.seqs_matching(sid, compile_filter('"a"'))
        with pytest.raises(StoreInterrupted):
            list(store.events(sid))
        store._conn.set_progress_handler(None, 1)
        assert store.count(sid) == 50


def test_a_damaged_page_raises_store_error_from_reads(tmp_path):
    db = tmp_path / "damaged.db"
    with Store(db) as store:
        sid = store.import_session(
            [FrameIn(Direction.CLIENT, i, '{"type":"x","pad":"%s"}' % ("a" * 2000)) for i in range(200)]
        )
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(db, "r+b") as f:  # the header and the schema stay readable, data pages do not
        f.seek(16384 * 3)
        f.write(b"\xff" * 16384 * 6)
    with Store(db, create=False) as store:
        with pytest.raises(StoreError) as info:
            list(store.events(sid, with_frames=True))
        assert not isinstance(info.value, sqlite3.Error) and "damaged" in str(info.value)
        assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_event_rows_are_named_in_the_events_tables_column_order(tmp_path):
    from inspector.store._codec import EventRow, FrameRow, event_rows

    event, body = event_rows(7, 3, FrameIn(Direction.SERVER, 42, '{"type":"error","event_id":"e1"}'))
    assert (event.dir, event.t_ns, event.type, event.event_id, event.is_error) == (1, 42, "error", "e1", 1)
    assert event.size == len('{"type":"error","event_id":"e1"}') and body.body.startswith('{"type"')
    with Store(tmp_path / "x.db") as store:
        events_columns = [row[1] for row in store._conn.execute("PRAGMA table_info(events)")]
        frames_columns = [row[1] for row in store._conn.execute("PRAGMA table_info(frames)")]
    assert list(EventRow._fields) == events_columns and list(FrameRow._fields) == frames_columns


def test_session_statuses_are_an_enum_stored_as_the_same_text(tmp_path):
    from inspector.store import SessionStatus

    db = tmp_path / "x.db"
    assert {s.value for s in SessionStatus} == {"open", "closed", "failed", "interrupted"}
    with Store(db) as store:
        ids = {status: store.create_session(source="tap", status=status) for status in SessionStatus}
        legacy = store.create_session(source="tap")
        store.update_session(legacy, status="closed")  # plain text still works
    raw = dict(sqlite3.connect(db).execute("SELECT id, status FROM sessions").fetchall())
    assert {raw[ids[s]] for s in SessionStatus} == {"open", "closed", "failed", "interrupted"}
    assert raw[legacy] == "closed"
    sqlite3.connect(db, isolation_level=None).execute("UPDATE sessions SET status = 'paused' WHERE id = ?", (legacy,))
    with Store(db) as store:
        for status, sid in ids.items():
            info = store.session(sid)
            assert info.status is status and info.status == status.value and f"{info.status}" == status.value
        assert store.session(legacy).status == "paused"  # a status this version does not know reads as text


def test_events_matching_gives_the_events_of_seqs_matching_with_their_frames(any_db):
    from inspector.store.filter import compile_filter

    with open_store(any_db) as store:
        frames = [FrameIn(Direction.SERVER, i, f'{{"type":"t{i % 3}","n":{i}}}') for i in range(30)]
        sid = store.import_session(frames)
        store.import_session(frames)  # another session's events never leak in
        compiled = compile_filter("type:t1 OR type:t2")
        events = list(store.events_matching(sid, compiled, with_frames=True))
        assert [e.seq for e in events] == store.seqs_matching(sid, compiled)
        assert len(events) == 20 and all(e.session_id == sid for e in events)
        assert events[0].frame == frames[1].data and events[-1].frame == frames[29].data
        rows_only = list(store.events_matching(sid, compiled.and_after(25)))
        assert [e.seq for e in rows_only] == [26, 27, 29, 30] and rows_only[0].frame is None  # seqs are 1-based


def test_events_at_reads_dense_and_sparse_seqs_and_skips_missing_ones(any_db):
    with open_store(any_db) as store:
        frames = [FrameIn(Direction.SERVER, i, f'{{"type":"t","n":{i}}}') for i in range(3000)]
        sid = store.import_session(frames)
        wanted = [*range(1, 200), 900, 1500, 2999, 3000, 4000]  # 4000 does not exist
        events = store.events_at(sid, wanted, with_frames=True)
        assert [e.seq for e in events] == wanted[:-1]
        assert events[-1].frame == frames[2999].data
        assert store.events_at(sid, []) == []


def test_sessions_have_a_uid_of_their_own_and_the_host_that_recorded_them(any_db):
    import re

    given = "0123abcd" * 4
    with open_store(any_db) as store:
        a = store.create_session(source="tap", host="tap-1")
        b = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')])
        kept = store.import_session([], uid=given, host="tap-2")  # a pushed or exported session's
        ua, ub = store.session(a).uid, store.session(b).uid
        assert re.fullmatch("[0-9a-f]{32}", ua) and ua != ub
        assert (store.session(kept).uid, store.session(kept).host) == (given, "tap-2")
        assert (store.session(a).host, store.session(b).host) == ("tap-1", None)
        assert store.session_id_for_uid(ua) == a and store.session_id_for_uid(given) == kept
        assert store.session_id_for_uid("0" * 32) is None
        with pytest.raises(StoreError):  # one uid, one session
            store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')], uid=given)
        with pytest.raises(ValueError, match="uid never changes"):
            store.update_session(a, uid="x")
        assert len(store.sessions()) == 3 and store.session(a).uid == ua  # the refused import left nothing


def test_data_version_moves_when_another_connection_commits(any_db):
    with open_store(any_db) as reader, open_store(any_db) as writer:
        version = reader.data_version()
        reader.sessions()
        assert reader.data_version() == version  # reading is no change
        sid = writer.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')])
        moved = reader.data_version()
        assert moved != version
        writer.set_label(sid, "x")
        assert reader.data_version() != moved


def test_interrupt_from_another_thread_aborts_a_running_read_with_store_interrupted(any_db):
    import threading
    import time

    from inspector.store import StoreInterrupted
    from inspector.store.filter import compile_filter

    with open_store(any_db) as store:
        pad = "x" * 300
        sid = store.import_session(FrameIn(Direction.SERVER, i, f'{{"type":"t","p":"{pad}"}}') for i in range(20000))
        stop = threading.Event()

        def keep_interrupting() -> None:  # as a UI cancels a filter that a newer one replaced
            while not stop.is_set():
                store.interrupt()
                time.sleep(0.002)

        thread = threading.Thread(target=keep_interrupting)
        thread.start()
        try:
            with pytest.raises(StoreInterrupted):
                for _ in range(1000):
                    store.seqs_matching(sid, compile_filter('"needle"'))
        finally:
            stop.set()
            thread.join()
        assert store.count(sid) == 20000  # the store goes on working


def test_a_version_3_database_gets_a_uid_for_each_session(tmp_path):
    from inspector.store.schema import MIGRATIONS, SCHEMA_VERSION

    db = tmp_path / "v3.db"
    conn = sqlite3.connect(db, isolation_level=None)
    for script in MIGRATIONS[:3]:  # exactly what version 3 created
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version=3")
    for sid in (1, 2):
        conn.execute("INSERT INTO sessions (id, started_at, source, status) VALUES (?, 1.0, 'tap', 'closed')", (sid,))
    conn.close()
    with Store(db) as store:
        uids = [s.uid for s in store.sessions()]
        assert len(set(uids)) == 2 and all(len(u) == 32 for u in uids)
        assert store.session_id_for_uid(uids[0]) is not None and store.session(1).host is None
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    with pytest.raises(sqlite3.IntegrityError):  # unique in the database
        conn.execute("UPDATE sessions SET uid = (SELECT uid FROM sessions WHERE id = 1) WHERE id = 2")
    conn.close()


def test_both_backends_offer_the_same_calls_with_the_same_parameters():
    import inspect

    from inspector.store.postgres import PostgresStore

    def api(cls) -> dict[str, list[tuple[str, object, object]]]:
        return {
            name: [(p.name, p.kind, p.default) for p in inspect.signature(getattr(cls, name)).parameters.values()]
            for name in dir(cls)
            if not name.startswith("_") and callable(getattr(cls, name))
        }

    sqlite_api, pg_api = api(Store), api(PostgresStore)
    assert "session_id_for_uid" in sqlite_api and len(sqlite_api) > 25
    assert pg_api == sqlite_api
