"""The tap against hostile input: request targets that would redirect the client's credentials,
listening beyond loopback, and an upstream that vanishes. Real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest
from conftest import run_tap, run_upstream, wait_for
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from inspector.tap import BadTarget, upstream_url

KEY = "sk-proj-TARGETinj0123"


async def _raw_upgrade(port: int, target: str) -> bytes:
    """Send a WebSocket upgrade for `target` as raw bytes (no client library would send these
    targets) with a credential, and return the status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {KEY}\r\n\r\n".encode()
    )
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return status


def _hostile_targets(evil_port: int) -> list[str]:
    return [
        f"@127.0.0.1:{evil_port}/v1/realtime?model=m",  # the upstream host becomes userinfo
        f":x@127.0.0.1:{evil_port}/v1/realtime",  # ... with a port-shaped password
        f"//127.0.0.1:{evil_port}/v1/realtime",  # a network-path reference
        f"ws://127.0.0.1:{evil_port}/v1/realtime",  # absolute-form
        f"http://127.0.0.1:{evil_port}/v1/realtime",
        "*",  # asterisk-form
        "v1/realtime",  # no leading slash
        f"/v1/realtime#x?api-key={KEY}",  # a fragment swallowing the query
        "/v1/realtime\\@evil",  # a backslash some URL parsers read as a slash
    ]


async def test_targets_that_are_not_a_path_get_400_and_reach_no_host(db_path, open_store):
    async with run_upstream() as evil, run_upstream() as up, run_tap(up.url, db_path) as tap:
        evil_port = int(evil.url.rsplit(":", 1)[1])
        for target in _hostile_targets(evil_port):
            status = await _raw_upgrade(tap.port, target)
            assert b" 400 " in status, (target, status)
        await asyncio.sleep(0.2)
        assert (evil.connections, up.connections) == (0, 0)  # the key went nowhere
        # An ordinary client still gets through, with its path and query intact.
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m&x=%40y") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
        assert up.paths == ["/v1/realtime?model=m&x=%40y"]
    assert len(open_store().sessions()) == 1  # refused targets open no session


def test_upstream_url_keeps_the_upstream_host_and_joins_the_paths():
    assert upstream_url("wss://api.openai.com", "/v1/realtime?model=m") == "wss://api.openai.com/v1/realtime?model=m"
    assert (
        upstream_url("wss://r.openai.azure.com/openai", "/realtime?a=1")
        == "wss://r.openai.azure.com/openai/realtime?a=1"
    )
    assert (
        upstream_url("ws://127.0.0.1:9000", "/v1/@x:1/y") == "ws://127.0.0.1:9000/v1/@x:1/y"
    )  # '@' in a path is harmless
    for target in _hostile_targets(1):
        with pytest.raises(BadTarget):
            upstream_url("wss://api.openai.com", target)


@pytest.mark.parametrize("command", ["tap", "mock"])
def test_listening_beyond_loopback_needs_allow_remote_and_warns(command, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from inspector.cli import main

    result = CliRunner().invoke(main, [command, "--listen", "0.0.0.0:1", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "--allow-remote" in result.output and "not a loopback" in result.output
    assert not (tmp_path / "x.db").exists()  # refused before anything started

    # With the flag it warns, then goes on (to the serving code, stubbed here: port 1 is taken).
    import asyncio as asyncio_module

    monkeypatch.setattr(asyncio_module, "run", lambda coro: coro.close())
    result = CliRunner().invoke(
        main, [command, "--listen", "0.0.0.0:1", "--allow-remote", "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 0, result.output
    assert "warning: listening on 0.0.0.0:1" in result.output and "anyone who can reach" in result.output
    for loopback in ("127.0.0.1:1", "[::1]:1", "localhost:1"):
        result = CliRunner().invoke(main, [command, "--listen", loopback, "--db", str(tmp_path / "x.db")])
        assert result.exit_code == 0 and "warning" not in result.output, (loopback, result.output)


def test_a_handshake_with_huge_headers_stores_a_bounded_row_that_says_it_was_cut(db_path):
    from inspector.store import Store
    from inspector.store._codec import HEADERS_TOTAL_CAP, TRUNCATED_HEADER

    headers = [("Authorization", "Bearer sk-proj-" + "K" * 8000)]
    headers += [(f"X-Big-{i}", "v" * 8192) for i in range(120)]  # 960 KB, as a client sent once
    with Store(db_path) as store:
        session_id = store.create_session(source="tap", request_headers=headers, user_agent="UA" * 5000)
        stored = store.session(session_id)
        small_id = store.create_session(source="tap", request_headers=[("User-Agent", "sdk/1.0")])
        small = store.session(small_id).request_headers
    size = sum(len(name) + len(value) for name, value in stored.request_headers)
    assert size <= HEADERS_TOTAL_CAP + 200  # the limit, plus the note
    name, note = stored.request_headers[-1]
    assert name == TRUNCATED_HEADER and "16 of 121 headers stored" in note and "cut to" in note
    assert tuple(stored.request_headers[0]) == ("Authorization", "[REDACTED]")  # redacted before cut
    assert stored.request_headers[1][1].endswith("more characters not stored]")
    assert len(stored.user_agent or "") < 1100
    assert [tuple(h) for h in small] == [("User-Agent", "sdk/1.0")]  # no note when nothing was cut


async def test_an_upstream_that_crashes_closes_the_client_with_1014_saying_so(db_path, open_store):
    async def crash(ws, up):
        await ws.recv()
        ws.transport.abort()  # no close frame: a crash or a reset

    async with run_upstream(crash) as up, run_tap(up.url, db_path) as tap:
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
            await ws.send('{"type":"session.update"}')
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        assert ws.close_code == 1014 and "upstream" in ws.close_reason and "lost" in ws.close_reason
    store = open_store()
    await wait_for(lambda: store.sessions()[0].status != "open")
    info = store.sessions()[0]
    assert (info.close_side, info.close_code) == ("server", 1006)
    assert "upstream" in (info.close_reason or "") and "1014" in (info.error or "")
