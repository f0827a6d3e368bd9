"""Recording to PostgreSQL when the server goes away: a real tap recording through killed
connections and a server restart loses nothing; a COMMIT whose answer is lost with the
connection is resolved (landed: a success; not landed: an error, and the retry writes it once);
a batch written again skips what is there and counts nothing twice. A real server throughout; the
lost answers come from a TCP proxy on 127.0.0.1 that cuts the connection at a COMMIT."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pg_server as pg
import psycopg
import pytest
from conftest import echo_handler, run_tap, run_upstream, wait_for
from websockets.asyncio.client import connect

from inspector.protocol import Direction
from inspector.store import FrameIn, StoreError, open_store

FRAMES = [FrameIn(Direction.CLIENT, i, f'{{"type":"t{i}"}}') for i in range(3)]


class CommitCutter:
    """A TCP proxy to the server that, when armed, cuts the connection at the next COMMIT:
    "after" forwards the COMMIT and drops the server's answer, "before" never forwards it."""

    def __init__(self, server_url: str) -> None:
        self.target = urlsplit(server_url)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = server_url.replace(f":{self.target.port}/", f":{self.listener.getsockname()[1]}/", 1)
        self.armed: str | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection((self.target.hostname, self.target.port))
            muted = threading.Event()
            threading.Thread(target=self._up, args=(client, server, muted), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, muted), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, muted: threading.Event) -> None:
        try:
            while data := client.recv(65536):
                if self.armed and b"COMMIT" in data:
                    mode, self.armed = self.armed, None
                    muted.set()
                    if mode == "after":
                        server.sendall(data)
                        time.sleep(0.3)  # the server commits, and its answer goes nowhere
                    break
                server.sendall(data)
        except OSError:
            pass
        for sock in (client, server):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # now: close() waits for the other thread's recv
            except OSError:
                pass
            sock.close()

    @staticmethod
    def _down(server: socket.socket, client: socket.socket, muted: threading.Event) -> None:
        try:
            while (data := server.recv(65536)) and not muted.is_set():
                client.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def cutter(pg_url):
    proxy = CommitCutter(pg_url)
    yield proxy
    proxy.close()


def test_a_commit_whose_answer_was_lost_but_landed_is_a_success_written_once(cutter, pg_url):
    with open_store(cutter.url) as store:
        sid = store.create_session(source="tap")
        cutter.armed = "after"
        assert store.append_events(sid, FRAMES) == 3  # no error: the server says it committed
        assert cutter.armed is None  # the cut did happen
        assert store.count(sid) == 3 and store.session(sid).client_events == 3
    with open_store(pg_url) as direct:
        assert [e.type for e in direct.events(sid)] == ["t0", "t1", "t2"]


def test_a_commit_lost_before_the_server_saw_it_is_an_error_and_the_retry_writes_it_once(cutter):
    with open_store(cutter.url) as store:
        sid = store.create_session(source="tap")
        cutter.armed = "before"
        with pytest.raises(StoreError, match="lost the connection"):
            store.append_events(sid, FRAMES)
        assert store.count(sid) == 0
        assert store.append_events(sid, FRAMES) == 3
        assert store.count(sid) == 3 and store.session(sid).client_events == 3


def kill_connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


async def test_a_tap_recording_through_killed_connections_and_a_server_restart_loses_nothing():
    with pg.own_server_for_test() as (url, directory):
        async with run_upstream(echo_handler) as up, run_tap(up.url, url) as tap:
            async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
                sent: list[str] = []
                restart: asyncio.Future[None] | None = None
                while len(sent) < 300 or not (restart and restart.done()):  # and on while it is down
                    if len(sent) == 100:
                        assert kill_connections(url) >= 1  # the writer's among them
                    if len(sent) == 200:  # down for a second: the tap forwards on meanwhile
                        restart = asyncio.ensure_future(asyncio.to_thread(pg.restart, directory, 1.0))
                    sent.append(json.dumps({"type": "ping", "i": len(sent)}))
                    await ws.send(sent[-1])
                    assert await ws.recv() == sent[-1]
                    await asyncio.sleep(0.005)
                assert restart is not None
                await restart
            with open_store(url, create=False) as store:
                await wait_for(lambda: store.sessions()[0].status == "closed", timeout=20)
        with open_store(url, create=False) as store:
            (info,) = store.sessions()
            events = list(store.events(info.id, with_frames=True))
            assert [e.seq for e in events] == list(range(1, 2 * len(sent) + 1))
            assert [e.frame for e in events[::2]] == sent and [e.frame for e in events[1::2]] == sent
            assert (info.client_events, info.server_events, info.unrecorded_frames) == (len(sent), len(sent), 0)
