"""The writer's commits: gathered into fewer, bigger transactions when many sessions are recorded
(each commit rewrites a few pages per session, see `inspector.store.writer.LINGER_PER_SESSION`)."""

from __future__ import annotations

import os
import threading
import time

from inspector.store import Store
from inspector.store._batch import write_batch
from inspector.store._buffer import Buffer
from inspector.store._wire import FRAME, OPEN, numbered
from inspector.store.writer import LINGER_PER_SESSION, MAX_LINGER, _Writer


def frames(count: int, key: int = 1) -> list:
    return numbered([(FRAME, key, False, i, '{"type":"x"}') for i in range(count)], 0)


def test_a_take_with_linger_waits_for_more_items_and_returns_once_it_has_them():
    buffer = Buffer(1 << 20)
    buffer.put(frames(10))
    feeder = threading.Timer(0.05, lambda: buffer.put(frames(40)))
    feeder.start()
    started = time.monotonic()
    taken = buffer.take(50, timeout=1.0, linger=30.0)
    feeder.join()
    assert len(taken) == 50  # it waited for the second put ...
    assert time.monotonic() - started < 10  # ... and not for the whole linger once it had them


def test_a_take_without_linger_returns_what_is_there():
    buffer = Buffer(1 << 20)
    buffer.put(frames(10))
    feeder = threading.Timer(0.3, lambda: buffer.put(frames(40)))
    feeder.start()
    assert len(buffer.take(50, timeout=1.0)) == 10
    feeder.join()


def test_a_closed_buffer_ends_the_linger_at_once():
    buffer = Buffer(1 << 20)
    buffer.put(frames(3))
    threading.Timer(0.05, buffer.close).start()
    started = time.monotonic()
    assert len(buffer.take(50, timeout=1.0, linger=30.0)) == 3
    assert time.monotonic() - started < 10


def test_the_writer_lingers_in_proportion_to_the_sessions_its_last_commit_wrote(tmp_path):
    """Sessions open but silent do not make a live tail of another one wait."""
    store = Store(tmp_path / "x.db")
    buffer = Buffer(1 << 20)
    writer = _Writer(store, buffer, open(os.devnull, "wb"), 1.0)  # noqa: SIM115 - closed below
    opens = [(OPEN, key, 0, 0, {"source": "tap", "uid": f"u{key}"}) for key in range(300)]
    assert writer._commit(numbered(opens, 0))
    assert writer._linger() == 0  # 300 sessions open, none has sent a frame
    assert writer._commit(numbered([(FRAME, key, False, 1, '{"type":"x"}') for key in range(300)], 300))
    assert writer._linger() == MAX_LINGER
    assert writer._commit(numbered([(FRAME, key, False, 2, '{"type":"x"}') for key in (4, 5, 4)], 600))
    assert writer._linger() == 2 * LINGER_PER_SESSION < MAX_LINGER
    store.close()
    assert not writer._commit(numbered([(FRAME, key, False, 3, '{"type":"x"}') for key in range(300)], 603))
    assert writer._linger() == 2 * LINGER_PER_SESSION  # a failed commit leaves the pace as it was
    writer.sink.close()


def test_the_writers_connection_is_tuned_for_bulk_writes_and_no_other(tmp_path):
    def settings(store: Store) -> tuple[int, int]:
        conn = store._conn
        return conn.execute("PRAGMA cache_size").fetchone()[0], conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]

    with Store(tmp_path / "x.db", bulk_writer=True) as store:
        assert settings(store) == (-32768, 4096)
    with Store(tmp_path / "x.db") as store:
        assert settings(store) == (-2000, 1000)


class _QuietPipe:
    """A reader whose pipe is never full: only the buffer's size can wake the catch-up."""

    def pipe_full(self) -> bool:
        return False

    def read_once(self) -> bool:
        return True


def _audio_frames(count: int, first: int) -> list:
    text = '{"type":"input_audio_buffer.append","audio":"' + "A" * 1000 + '"}'
    return numbered([(FRAME, 1, False, i, text) for i in range(count)], first)


def _catch_up_for(writer: _Writer, seconds: float, until=lambda: False) -> None:
    worker = threading.Thread(target=writer.catch_up, args=(_QuietPipe(),))
    worker.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        time.sleep(0.02)
    writer.finished = True
    worker.join()


def test_the_catch_up_thread_writes_only_once_the_buffer_is_three_quarters_full(tmp_path):
    store = Store(tmp_path / "x.db")
    buffer = Buffer(100 * 1070)
    sink = open(os.devnull, "wb")  # noqa: SIM115 - closed below
    writer = _Writer(store, buffer, sink, 1.0)
    write_batch(store, writer.sessions, numbered([(OPEN, 1, 0, 0, {"source": "tap", "uid": "u1"})], 0))
    buffer.put(_audio_frames(70, 1))  # 70% full: left to the idle thread
    _catch_up_for(writer, 0.3)
    assert store.count(writer.sessions.ids[1]) == 0 and buffer.size() > 60 * 1070
    writer.finished = False
    buffer.put(_audio_frames(10, 71))  # 80%: written down to half
    _catch_up_for(writer, 10.0, until=lambda: buffer.size() < 50 * 1070)
    assert store.count(writer.sessions.ids[1]) >= 30 and buffer.size() < 50 * 1070
    sink.close()
    store.close()


def test_a_take_is_bounded_by_bytes_too_and_stops_lingering_at_that_bound():
    buffer = Buffer(1 << 30)
    big = '{"type":"x","audio":"' + "A" * 100_000 + '"}'
    buffer.put(numbered([(FRAME, 1, False, i, big) for i in range(50)], 0))
    started = time.monotonic()
    taken = buffer.take(10_000, timeout=1.0, linger=30.0, max_bytes=1_000_000)
    assert len(taken) == 10  # ~1 MB of 100 KB frames, though 10,000 items were asked for
    assert time.monotonic() - started < 10  # no linger once the bytes are there
    assert buffer.size() == 40 * len(big)
    assert len(buffer.take(10_000, timeout=1.0, max_bytes=1)) == 1  # one item at least
