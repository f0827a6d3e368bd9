"""A recorder's writer process that dies (OOM, a bug, kill -9) is replaced: recording goes on."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from pathlib import Path

from conftest import echo_handler, run_tap, run_upstream, wait_for
from websockets.asyncio.client import connect

from inspector.protocol import Direction
from inspector.store import Store, open_store
from inspector.store._unacked import Unacked
from inspector.store._wire import FRAME, OPEN, dump


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # reaped
    return stat[stat.rfind(")") + 2] == "Z"


async def test_a_killed_writer_is_replaced_and_the_session_is_recorded_whole_and_closed(any_db, caplog):
    # On both backends: the new writer adopts the session (its lease, last seq) on each.
    audio = "QUJD" * 320  # an append's worth of base64
    async with run_upstream(echo_handler) as up, run_tap(up.url, any_db) as tap:
        recorder = tap.recorder
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:

            async def send(numbers: range) -> None:
                for i in numbers:
                    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio, "i": i}))

            async def echoed(numbers: range) -> None:
                for i in numbers:
                    assert json.loads(await ws.recv())["i"] == i

            await send(range(40))
            await echoed(range(40))
            await wait_for(lambda: recorder.stats.frames >= 2)  # the row exists: it is adopted
            await send(range(40, 60))
            await wait_for(lambda: not recorder._queue)  # handed to the writer, perhaps not yet acknowledged
            old = recorder._process
            assert old is not None
            with caplog.at_level(logging.ERROR, logger="inspector.recorder"):
                os.kill(old.pid, signal.SIGKILL)
                await echoed(range(40, 60))
                await send(range(60, 100))
                await echoed(range(60, 100))
                await wait_for(lambda: recorder.stats.restarts == 1)
            await wait_for(lambda: recorder.stats.frames >= 200, timeout=10)
        assert recorder._process is not old and not _zombie(old.pid)
    (line,) = [r.getMessage() for r in caplog.records if "writer process died" in r.getMessage()]
    assert "adopts 1 open sessions" in line
    with open_store(any_db, create=False) as store:
        (info,) = store.sessions()
        assert (info.status, info.close_code, info.error) == ("closed", 1000, None)
        assert info.unrecorded_frames == 0 and recorder.stats.lost_to_restarts == 0
        assert (info.client_events, info.server_events) == (100, 100)
        events = list(store.events(info.id, with_frames=True))
        assert [e.seq for e in events] == list(range(1, 201))  # none twice, none missing
        client = [json.loads(e.frame)["i"] for e in events if e.direction == Direction.CLIENT]
        assert client == list(range(100))


async def test_a_writer_killed_before_a_session_row_exists_still_creates_it(db_path):
    # The creation of a row the dead writer never acknowledged is sent again, with the frames.
    async with run_upstream(echo_handler) as up, run_tap(up.url, db_path) as tap:
        process = tap.recorder._process
        assert process is not None
        os.kill(process.pid, signal.SIGSTOP)  # it reads and commits nothing from now on
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
            for i in range(5):
                await ws.send(json.dumps({"type": "x", "i": i}))
                await ws.recv()
            # Handed over to the stopped writer (the feeder sends every flush interval): the
            # creation and the frames are then only in what the tap keeps unacknowledged.
            await wait_for(lambda: not tap.recorder._queue)
            assert tap.recorder.stats.frames == 0
            os.kill(process.pid, signal.SIGKILL)
            await wait_for(lambda: tap.recorder.stats.frames == 10, timeout=10)
    with Store(db_path, create=False) as store:
        (info,) = store.sessions()
        assert info.status == "closed" and info.client_events == 5 and info.unrecorded_frames == 0


def test_what_is_not_acknowledged_is_sent_again_and_frames_let_go_past_the_bound_are_counted():
    unacked = Unacked(limit=250)
    opened = (OPEN, 1, 0, 0, {"source": "tap"})
    first = [opened, (FRAME, 1, 0, 0, "a" * 200)]
    second = [(FRAME, 1, 0, 1, "b" * 100), (FRAME, 2, 1, 2, "c" * 100)]
    unacked.sent(dump(first), first, 200)  # items 0, 1
    unacked.sent(dump(second), second, 200)  # items 2, 3: past the bound, the first batch's frame goes
    assert unacked.ack(1) == 0  # item 0 committed; its batch is not done yet
    again, lost = unacked.restart(first=5)
    # The frame let go is lost, counted on session 1; the committed open is not sent again.
    assert lost == {1: 1} and again == second
    unacked.sent(dump(again), again, 200)  # numbered from 5 for the new writer
    assert unacked.ack(7) == 200
    assert unacked.restart(first=0) == ([], {})
    # Unacknowledged and never let go: everything after the acknowledged items comes back.
    unacked = Unacked(limit=1000)
    unacked.sent(dump(first + second), first + second, 400)
    unacked.ack(1)
    assert unacked.restart(first=0) == ([first[1], *second], {})


async def test_a_writer_that_keeps_dying_stops_recording_but_not_forwarding(db_path, caplog):
    async with run_upstream(echo_handler) as up, run_tap(up.url, db_path, recorder_options={"restarts": 1}) as tap:
        recorder = tap.recorder
        for dead in ("replaced", "for good"):
            process = recorder._process
            assert process is not None
            os.kill(process.pid, signal.SIGKILL)
            if dead == "replaced":
                await wait_for(lambda: recorder.stats.restarts == 1)
            else:
                await wait_for(lambda: recorder._failed is not None)
        assert "2 times in a row" in (recorder._failed or "")
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
            await ws.send('{"type":"ping"}')
            assert await asyncio.wait_for(ws.recv(), 5) == '{"type":"ping"}'


def test_what_is_kept_of_frames_let_go_stays_bounded_however_long_nothing_is_acknowledged():
    """A writer that cannot commit (disk full, a lock held elsewhere) acknowledges nothing for as
    long as it lasts: what the tap keeps must not grow with it (it kept each frame's key, ~9 B
    a frame, ~650 MB an hour at 20,000 frames/s, and walked every chunk let go at each send)."""
    import tracemalloc

    unacked = Unacked(limit=64 * 1024)
    opened = [(OPEN, key, 0, 0, {"source": "tap"}) for key in range(200)]
    unacked.sent(dump(opened), opened, 0)

    def send(rounds: int, start: int) -> None:
        for n in range(start, start + rounds):
            chunk = [(FRAME, (n * 256 + i) % 200, 0, n, "x" * 64) for i in range(256)]
            unacked.sent(dump(chunk), chunk, 256 * 64)

    send(500, 0)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    send(5000, 500)  # 1.28 million frames more
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown < 512 * 1024
    again, lost = unacked.restart(first=0)
    assert again[:200] == opened  # never acknowledged: the creations come again
    assert sum(lost.values()) + sum(1 for entry in again if entry[0] == FRAME) == 5500 * 256
    # Acknowledged past everything let go: nothing of it is lost any more.
    unacked.sent(dump(opened), opened, 0)
    send(100, 0)
    unacked.ack(200 + 100 * 256 - 256)
    assert unacked.restart(first=0)[1] == {}


def test_frames_let_go_are_acknowledged_run_by_run_while_the_writer_catches_up(monkeypatch):
    """A writer behind by more than the bound: acknowledgements release what was let go as they
    pass it (the tap's backlog figure follows, and a death then counts only what is left)."""
    from inspector.store import _unacked

    monkeypatch.setattr(_unacked, "SEGMENT_BYTES", 1000)
    unacked = Unacked(limit=500)
    for n in range(100):  # 100 chunks of 2 frames, 100 bytes each: all but 5 let go
        chunk = [(FRAME, 1, 0, 2 * n, "a" * 50), (FRAME, 2, 0, 2 * n + 1, "b" * 50)]
        unacked.sent(dump(chunk), chunk, 100)
    assert unacked.ack(100) >= 4000  # through chunk 50: the runs it passed, 1000 bytes each
    again, lost = unacked.restart(first=0)
    assert sum(lost.values()) + len(again) <= 2 * 60  # at most one run beyond the acknowledged
    assert sum(lost.values()) + len(again) >= 2 * 50
