"""A batch the writer commits twice (a writer that died after its commit, before its answer; a
commit whose answer was lost with the connection) is written once, on both backends."""

from __future__ import annotations

import pytest

from inspector.protocol import Direction
from inspector.store import FrameIn, _batch, open_store
from inspector.store._batch import Sessions, write_batch
from inspector.store._codec import event_rows
from inspector.store._wire import ADOPT, FRAME, LOST, OPEN, UPDATE, numbered
from inspector.store.values import new_uid

FRAMES = [FrameIn(Direction.CLIENT, i * 1000, f'{{"type": "ping", "i": {i}}}') for i in range(3)]


def test_rows_written_again_are_skipped_and_counted_once(any_db):
    with open_store(any_db) as store:
        sid = store.create_session(source="tap")
        rows = [event_rows(sid, seq, frame) for seq, frame in enumerate(FRAMES, start=1)]
        for first in (0, 2, 0):  # part of a batch, then the whole batch twice
            with store.transaction():
                store.insert_rows([e for e, _ in rows[first:]], [b for _, b in rows[first:]])
                store.add_counts(sid, [e for e, _ in rows[first:]])
        assert [e.seq for e in store.events(sid)] == [1, 2, 3]
        info = store.session(sid)
        assert info.client_events == 3 and info.bytes == sum(e.size for e, _ in rows)


def test_a_session_whose_creation_and_frames_are_sent_to_a_new_writer_is_written_once(any_db):
    uid = new_uid()  # the tap makes it, so that a creation sent twice finds its row
    entries = [(OPEN, 1, 0, 0, {"source": "tap", "started_at": 1.0, "uid": uid})]
    entries += [(FRAME, 1, i % 2, i * 1000, f'{{"type": "x", "i": {i}}}') for i in range(5)]
    entries += [(UPDATE, 1, 0, 0, {"status": "closed"})]
    with open_store(any_db) as store:
        lease = store.take_lease()
        first = write_batch(store, Sessions(), numbered(entries, 0), lease)
        # The answer never reached the tap: a new writer, knowing nothing, gets it all again.
        again = write_batch(store, Sessions(), numbered(entries, 0), store.take_lease())
        (info,) = store.sessions()
        assert first.opened == again.opened == {1: info.id}
        assert (info.uid, info.status, info.client_events, info.server_events) == (uid, "closed", 3, 2)
        assert [e.frame for e in store.events(info.id, with_frames=True)] == [e[4] for e in entries[1:6]]
        store.release_lease(lease, "done")


def test_frames_of_an_adopted_session_committed_by_the_writer_that_died_are_written_once(any_db):
    """The session was created long before (acknowledged); the writer died between committing
    frames 3-6 and acknowledging them, so the tap sends 3-6 again, then 7-8, to the new writer."""
    uid = new_uid()
    opened = [(OPEN, 1, 0, 0, {"source": "tap", "started_at": 1.0, "uid": uid})]
    frames = [(FRAME, 1, i % 2, i * 1000, f'{{"type": "x", "i": {i}}}') for i in range(9)]
    with open_store(any_db) as store:
        dead = Sessions()
        write_batch(store, dead, numbered(opened + frames[:3], 0), store.take_lease())  # acknowledged
        write_batch(store, dead, numbered(frames[3:7], 4), None)  # committed, never acknowledged
        sid = dead.ids[1]
        new = Sessions()
        lease = store.take_lease()
        adopted = write_batch(store, new, numbered([(ADOPT, 1, 0, sid, None)], 0), lease)
        again = write_batch(store, new, numbered(frames[3:], 1), lease)
        later = write_batch(store, new, numbered([(FRAME, 1, 1, 9000, '{"type": "x", "i": 9}')], 7), lease)
        assert adopted.frames == 0 and again.frames == 6 and later.frames == 1  # the tap's count
        events = list(store.events(sid, with_frames=True))
        assert [e.seq for e in events] == list(range(1, 11))
        assert [e.frame for e in events] == [f[4] for f in frames] + ['{"type": "x", "i": 9}']
        info = store.session(sid)
        assert (info.client_events, info.server_events) == (5, 5)
        store.release_lease(lease, "done")


TIMES = [1000, 2000, 5000, 5000, 5000, 6000]  # the three 5000s came in one read: one time


@pytest.mark.parametrize("committed", [3, 4, 5])
def test_frames_sharing_one_time_are_written_once_after_a_writer_death(any_db, committed, monkeypatch):
    """The dead writer committed frames up to `committed` (the first two acknowledged); the tap
    sends the rest of what it holds again, from frame 2."""
    monkeypatch.setattr(_batch, "TAIL_PAGE", 2)  # the shared time spans pages
    opened = [(OPEN, 1, 0, 0, {"source": "tap", "uid": new_uid()})]
    frames = [(FRAME, 1, 0, t, f'{{"type": "x", "i": {i}}}') for i, t in enumerate(TIMES)]
    with open_store(any_db) as store:
        dead = Sessions()
        write_batch(store, dead, numbered(opened + frames[:2], 0), store.take_lease())
        write_batch(store, dead, numbered(frames[2:committed], 3), None)
        sid, new, lease = dead.ids[1], Sessions(), store.take_lease()
        write_batch(store, new, numbered([(ADOPT, 1, 0, sid, None)], 0), lease)
        again = write_batch(store, new, numbered(frames[2:], 1), lease)
        assert again.frames == len(TIMES) - 2
        assert [e.frame for e in store.events(sid, with_frames=True)] == [f[4] for f in frames]
        store.release_lease(lease, "done")


def test_a_creation_sent_again_without_its_oldest_frames_loses_none_of_the_later_ones(any_db):
    """The dead writer committed the creation and frames 0-4 and acknowledged nothing; the tap,
    past its bound, let frames 0-2 go: it sends the creation, their loss, then frames 3-7."""
    opened = (OPEN, 1, 0, 0, {"source": "tap", "uid": new_uid()})
    frames = [(FRAME, 1, i % 2, i * 1000, f'{{"type": "x", "i": {i}}}') for i in range(8)]
    with open_store(any_db) as store:
        dead = Sessions()
        write_batch(store, dead, numbered([opened, *frames[:5]], 0), store.take_lease())
        lease = store.take_lease()
        again = write_batch(store, Sessions(), numbered([opened, (LOST, 1, 0, 3, None), *frames[3:]], 0), lease)
        (info,) = store.sessions()
        assert again.opened == {1: info.id} and again.frames == 5
        events = list(store.events(info.id, with_frames=True))
        assert [e.frame for e in events] == [f[4] for f in frames]
        assert [e.seq for e in events] == list(range(1, 9))
        store.release_lease(lease, "done")
