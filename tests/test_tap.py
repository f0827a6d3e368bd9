"""The tap over real sockets: a client, the tap and a test upstream on 127.0.0.1, a real SQLite file."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from conftest import echo_handler, run_tap, run_upstream, wait_for
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Response

from inspector.protocol import Direction, Opcode


async def _session_done(open_store, count: int = 1):
    store = open_store()
    await wait_for(lambda: len(store.sessions()) >= count and all(s.status != "open" for s in store.sessions()))
    return store


async def test_tap_records_every_frame_in_both_directions_byte_exact(db_path, open_store):
    async def answer_twice(ws, up):
        async for message in ws:
            up.received.append(message)
            await ws.send(json.dumps({"type": "ack", "of": json.loads(message)["type"]}))
            await ws.send('{"type":"note","text":"héllo ✓ 日本"}')

    sent = [
        '{"type":"session.update","session":{"type":"realtime"}}',
        '{ "type" : "response.create" ,"x":[1,2,3]}',  # odd spacing must survive byte for byte
        '{"type":"conversation.item.create","item":{"id":"item_ABC","type":"message"}}',
    ]
    async with run_upstream(answer_twice) as up, run_tap(up.url, db_path) as tap:
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=gpt-realtime") as ws:
            got = []
            for frame in sent:
                await ws.send(frame)
                got += [await ws.recv(), await ws.recv()]
        assert up.received == sent
        assert up.paths == ["/v1/realtime?model=gpt-realtime"]
    store = await _session_done(open_store)
    events = list(store.events(store.sessions()[0].id, with_frames=True))
    expected = []
    for i, frame in enumerate(sent):
        expected += [(Direction.CLIENT, frame), (Direction.SERVER, got[2 * i]), (Direction.SERVER, got[2 * i + 1])]
    assert [(e.direction, e.frame) for e in events] == expected
    assert [e.seq for e in events] == list(range(1, 10))
    assert [e.type for e in events[:3]] == ["session.update", "ack", "note"]
    assert events[6].item_id == "item_ABC"
    assert all(b.t_ns >= a.t_ns for a, b in itertools.pairwise(events))
    info = store.sessions()[0]
    assert (info.client_events, info.server_events, info.model) == (3, 6, "gpt-realtime")
    assert (info.status, info.close_side, info.close_code) == ("closed", "client", 1000)


async def test_tap_forwards_binary_and_malformed_frames_and_flags_them(db_path, open_store):
    async with run_upstream() as up, run_tap(up.url, db_path) as tap:
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
            await ws.send(b"\x00\xffraw")
            assert await ws.recv() == b"\x00\xffraw"  # binary stays binary
            await ws.send("{not json")
            assert await ws.recv() == "{not json"
            await ws.send("[1, 2]")
            await ws.recv()
            await ws.send('{"no":"type"}')
            await ws.recv()
    store = await _session_done(open_store)
    events = list(store.events(store.sessions()[0].id, with_frames=True))
    assert [e.problem for e in events] == ["binary"] * 2 + ["not_json"] * 2 + ["not_object"] * 2 + ["no_type"] * 2
    assert events[0].opcode == Opcode.BINARY and events[0].frame == b"\x00\xffraw"
    assert all(e.is_error for e in events)
    assert store.sessions()[0].error_events == 8


async def test_tap_passes_a_15_mib_frame_and_refuses_a_larger_one_with_1009(db_path, open_store):
    big = '{"type":"input_audio_buffer.append","audio":"' + "A" * (15 * 1024 * 1024) + '"}'
    async with run_upstream() as up, run_tap(up.url, db_path) as tap:
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m", max_size=None) as ws:
            await ws.send(big)
            assert await ws.recv() == big
        # No `async with`: the tap may reset the socket while the client is still writing, and
        # websockets' client then fails in its own close.
        ws = await connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m", max_size=None)
        with pytest.raises(ConnectionClosed):
            await ws.send("x" * (16 * 1024 * 1024 + 1))
            await ws.recv()
        # 1009 when the close frame was read before the reset, 1006 when not.
        assert ws.close_code in (1009, 1006)
        await wait_for(lambda: len(up.closes) == 2)
        assert up.closes[1][0] == 1009  # the upstream is told why too
    store = await _session_done(open_store, 2)
    ok, refused = sorted(store.sessions(), key=lambda s: s.id)
    assert store.frame(ok.id, 1) == big and store.frame(ok.id, 2) == big
    assert (refused.close_code, refused.close_side, refused.client_events) == (1009, "tap", 0)


async def test_tap_passes_close_codes_and_reasons_both_ways(db_path, open_store):
    async def close_on_request(ws, up):
        async for message in ws:
            if message == "close please":
                await ws.close(4000, "beta_api_shape_disabled")

    async with run_upstream(close_on_request) as up, run_tap(up.url, db_path) as tap:
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
            await ws.close(4001, "client says bye")
        await wait_for(lambda: len(up.closes) == 1)
        assert up.closes[0] == (4001, "client says bye")

        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
            await ws.send("close please")
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert (ws.close_code, ws.close_reason) == (4000, "beta_api_shape_disabled")
    store = await _session_done(open_store, 2)
    first, second = sorted(store.sessions(), key=lambda s: s.id)
    assert (first.close_side, first.close_code, first.close_reason) == ("client", 4001, "client says bye")
    assert (second.close_side, second.close_code, second.close_reason) == ("server", 4000, "beta_api_shape_disabled")


async def test_client_sees_the_upstreams_401_and_the_session_is_failed(db_path, open_store):
    def refuse(connection, request):
        body = b'{"error":{"code":"invalid_api_key"}}'
        return Response(
            401, "Unauthorized", Headers({"Content-Type": "application/json", "Content-Length": str(len(body))}), body
        )

    async with run_upstream(process_request=refuse) as up, run_tap(up.url, db_path) as tap:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m"):
                pass
        assert refused.value.response.status_code == 401
        assert b"invalid_api_key" in refused.value.response.body
    store = await _session_done(open_store)
    info = store.sessions()[0]
    assert info.status == "failed" and "HTTP 401" in info.error


async def test_unreachable_upstream_closes_the_client_with_1014(db_path, open_store):
    async with run_upstream() as up:
        dead_url = up.url  # the port is free again once this server has stopped
    async with run_tap(dead_url, db_path) as tap, connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1014
        assert "unreachable" in ws.close_reason
    store = await _session_done(open_store)
    info = store.sessions()[0]
    assert (info.status, info.close_code) == ("failed", 1014)
    assert "unreachable" in info.error


async def test_fifty_concurrent_sessions_are_recorded_separately(db_path, open_store):
    async def one_client(port: int, n: int) -> None:
        async with connect(f"ws://127.0.0.1:{port}/v1/realtime?model=m{n}") as ws:
            for i in range(20):
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": "AAAA", "n": n, "i": i}))
                await ws.recv()

    async with run_upstream(echo_handler) as up, run_tap(up.url, db_path) as tap:
        await asyncio.gather(*(one_client(tap.port, n) for n in range(50)))
    store = await _session_done(open_store, 50)
    sessions = store.sessions()
    assert len(sessions) == 50
    for info in sessions:
        n = int(info.model[1:])
        frames = [json.loads(e.frame) for e in store.events(info.id, with_frames=True)]
        assert len(frames) == 40
        assert {f["n"] for f in frames} == {n}  # no frame leaked into another session
        assert [f["i"] for f in frames[::2]] == list(range(20))


async def test_subprotocol_chosen_by_upstream_reaches_the_client(db_path, open_store):
    async with run_upstream(echo_handler, subprotocols=["realtime"]) as up, run_tap(up.url, db_path) as tap:
        async with connect(
            f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m", subprotocols=["realtime", "openai-beta.realtime-v1"]
        ) as ws:
            assert ws.subprotocol == "realtime"
        offered = up.request_headers[0].get_all("Sec-WebSocket-Protocol")
        assert "realtime, openai-beta.realtime-v1" in offered[0]
    store = await _session_done(open_store)
    assert store.sessions()[0].subprotocol == "realtime"


async def test_openai_sdk_talks_through_the_tap_and_its_frames_are_recorded(db_path, open_store):
    from openai import AsyncOpenAI

    async def realtime_like(ws, up):
        await ws.send(json.dumps({"type": "session.created", "event_id": "event_1", "session": {"type": "realtime"}}))
        async for message in ws:
            up.received.append(message)
            event = json.loads(message)
            if event["type"] == "session.update":
                await ws.send(
                    json.dumps({"type": "session.updated", "event_id": "event_2", "session": event["session"]})
                )
            elif event["type"] == "response.create":
                await ws.send(
                    json.dumps(
                        {
                            "type": "response.done",
                            "event_id": "event_3",
                            "response": {"id": "resp_1", "status": "completed"},
                        }
                    )
                )

    async with run_upstream(realtime_like) as up, run_tap(up.url, db_path) as tap:
        client = AsyncOpenAI(api_key="sk-test-not-a-real-key", websocket_base_url=f"ws://127.0.0.1:{tap.port}/v1")
        async with client.realtime.connect(model="gpt-realtime") as conn:
            assert (await conn.recv()).type == "session.created"
            await conn.session.update(session={"type": "realtime", "instructions": "Be brief."})
            assert (await conn.recv()).type == "session.updated"
            await conn.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
            )
            await conn.response.create()
            done = await conn.recv()
            assert done.type == "response.done" and done.response.id == "resp_1"
        # The upstream got the SDK's credentials through the tap.
        assert up.request_headers[0]["Authorization"] == "Bearer sk-test-not-a-real-key"
    store = await _session_done(open_store)
    info = store.sessions()[0]
    client_frames = [e.frame for e in store.events(info.id, with_frames=True, direction=Direction.CLIENT)]
    assert client_frames == up.received  # exactly what the SDK sent, in order
    assert [json.loads(f)["type"] for f in client_frames] == [
        "session.update",
        "conversation.item.create",
        "response.create",
    ]
    assert info.path == "/v1/realtime" and info.model == "gpt-realtime"
    assert dict(info.request_headers)["Authorization"] == "[REDACTED]"
    assert info.user_agent  # the SDK's own User-Agent, kept for the session list


async def test_secrets_in_headers_subprotocols_query_and_frames_never_reach_the_database(db_path, tmp_path):
    secrets = {
        "header": "sk-proj-HEADERsecret01",
        "azure": "azureKEY0123456789abcdefSECRET",
        "subprotocol": "AzureSUBPROTOsecret0123456789",  # not key-shaped: found by position
        "query": "queryKEYsecret0123456789",
        "frame": "ek_FRAMEephemeral0123456789abcdef",
        "frame2": "sk-FRAMEsecret0123456",
        "organization": "org-ORGANIZATIONid0123",
        "project": "proj_PROJECTid0123456",
        "browser-project": "proj_SUBPROTOproject99",
    }
    async with run_upstream(echo_handler, subprotocols=["realtime"]) as up, run_tap(up.url, db_path) as tap:
        async with connect(
            f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m&api-key={secrets['query']}",
            additional_headers={
                "Authorization": f"Bearer {secrets['header']}",
                "api-key": secrets["azure"],
                "OpenAI-Organization": secrets["organization"],
                "OpenAI-Project": secrets["project"],
            },
            subprotocols=[
                "realtime",
                f"openai-insecure-api-key.{secrets['subprotocol']}",
                f"openai-project.{secrets['browser-project']}",
            ],
        ) as ws:
            await ws.send(
                json.dumps({"type": "session.update", "session": {"client_secret": {"value": secrets["frame"]}}})
            )
            await ws.recv()
            await ws.send(f'{{"type":"note","text":"my key is {secrets["frame2"]}"}}')
            await ws.recv()
        # The upstream still got every credential unchanged.
        headers = up.request_headers[0]
        assert headers["Authorization"] == f"Bearer {secrets['header']}" and headers["api-key"] == secrets["azure"]
        assert headers["OpenAI-Project"] == secrets["project"]
        assert secrets["query"] in up.paths[0]
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(db_path.name))
    assert b"session.update" in on_disk  # the recording is there...
    for where, secret in secrets.items():
        assert secret.encode() not in on_disk, f"the {where} secret reached the database file"


@pytest.mark.parametrize("to_group", [False, True], ids=["tap-pid", "process-group"])
def test_tap_drains_every_forwarded_frame_on_sigterm(db_path, tmp_path, to_group):
    """`inspector tap` in its own process: frames forwarded before SIGTERM are all on disk, and
    the session is marked interrupted, also when the signal goes to the whole process group
    (Ctrl-C, `timeout`, systemd), writer process included."""
    import contextlib
    import os
    import signal
    import socket
    import subprocess
    import sys

    from inspector.store import Store

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        tap_port = sock.getsockname()[1]

    async def scenario() -> int:
        async with run_upstream(echo_handler) as up:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "inspector",
                    "tap",
                    "--listen",
                    f"127.0.0.1:{tap_port}",
                    "--upstream",
                    up.url,
                    "--db",
                    str(db_path),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                for _ in range(200):  # wait until it listens
                    try:
                        with socket.create_connection(("127.0.0.1", tap_port), timeout=0.1):
                            break
                    except OSError:
                        await asyncio.sleep(0.05)
                ws = await connect(f"ws://127.0.0.1:{tap_port}/v1/realtime?model=m")
                echoes: list[str] = []

                async def read_echoes() -> None:
                    with contextlib.suppress(ConnectionClosed):
                        async for message in ws:
                            echoes.append(message)

                reader = asyncio.create_task(read_echoes())
                n = 3000
                for i in range(n):
                    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": "QUJD" * 300, "i": i}))
                await wait_for(lambda: len(up.received) == n, timeout=30)
                # At once: many frames are still queued.
                if to_group:
                    os.killpg(proc.pid, signal.SIGTERM)
                else:
                    proc.send_signal(signal.SIGTERM)
                output = await asyncio.to_thread(proc.communicate, timeout=30)
                assert proc.returncode == 0, output[0].decode()
                await reader
                assert ws.close_code == 1001  # the client was told the tap is going away
                return n
            finally:
                if proc.poll() is None:
                    proc.kill()

    n = asyncio.run(scenario())
    store = Store(db_path, create=False)
    info = store.sessions()[0]
    assert info.status == "interrupted" and info.close_side == "tap"
    client = [json.loads(e.frame)["i"] for e in store.events(info.id, with_frames=True, direction=Direction.CLIENT)]
    assert client == list(range(n))
    assert info.server_events >= 1
    store.close()


async def test_a_request_that_is_not_a_websocket_upgrade_opens_no_upstream(db_path, open_store):
    async with run_upstream() as up, run_tap(up.url, db_path) as tap:
        reader, writer = await asyncio.open_connection("127.0.0.1", tap.port)
        writer.write(
            b"GET /v1/realtime?model=m HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test-fake-key-xyz1\r\n\r\n"
        )
        status = await reader.readline()
        writer.close()
        assert b" 426 " in status or b" 400 " in status
        await asyncio.sleep(0.2)
        assert up.connections == 0  # no upstream session was opened on the caller's key
    store = open_store()
    assert store.sessions() == []


async def test_keys_after_json_escapes_and_in_binary_frames_are_redacted(db_path, tmp_path):
    key1, key2, key3 = "sk-proj-ESCAPEDkey012", "ek_TABBEDephemeral0123456789", "sk-BINARYkey012345678"
    async with run_upstream() as up, run_tap(up.url, db_path) as tap:
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
            await ws.send(json.dumps({"type": "session.update", "session": {"instructions": f"key:\n{key1}\t{key2}"}}))
            await ws.recv()
            await ws.send(b"\x00binary " + key3.encode())
            await ws.recv()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(db_path.name))
    assert b"session.update" in on_disk
    for key in (key1, key2, key3):
        assert key.encode() not in on_disk


def test_a_loopback_upstream_bypasses_the_environments_proxy():
    from inspector.tap import upstream_proxy

    for url in ("ws://127.0.0.1:9000", "ws://localhost:1/v1", "ws://[::1]:5", "ws://mock.localhost"):
        assert upstream_proxy(url) is None, url
    for url in ("wss://api.openai.com", "wss://example.azure.com/openai", "ws://10.0.0.2:80"):
        assert upstream_proxy(url) is True, url


async def test_a_client_that_leaves_during_the_upstream_handshake_does_not_leave_it_open(db_path, open_store):
    # On the real API an upstream left open is a session billed to the caller's key.
    async def slow(connection, request):
        await asyncio.sleep(1.5)

    async with run_upstream(process_request=slow) as up, run_tap(up.url, db_path) as tap:
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):
            await connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m", open_timeout=0.3)
        await wait_for(lambda: len(up.closes) == 1, timeout=5)  # while the tap runs on
        assert up.closes == [(1001, "client handshake did not complete")]
        store = await _session_done(open_store)
        info = store.sessions()[0]
        assert info.status == "failed" and info.error == "the client left during the upstream handshake"


async def test_an_upstream_that_never_answers_gets_the_client_a_1014_before_its_own_timeout(db_path, open_store):
    from inspector.tap import TapOptions

    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, says nothing
    port = silent.sockets[0].getsockname()[1]
    assert TapOptions().open_timeout < 10  # the handshake timeout of websockets and the openai SDK
    try:
        async with run_tap(f"ws://127.0.0.1:{port}", db_path, open_timeout=0.5) as tap:
            async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m", open_timeout=3) as ws:
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1014 and "unreachable" in ws.close_reason
        info = (await _session_done(open_store)).sessions()[0]
        assert info.status == "failed" and "timed out" in info.error
    finally:
        silent.close()


def test_verbose_logging_never_writes_the_handshake_headers():
    # websockets logs the request headers (API keys included) at DEBUG.
    import logging

    from inspector.cli_common import setup_logging

    setup_logging(verbose=True)
    try:
        assert not logging.getLogger("websockets.server").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("websockets.client").isEnabledFor(logging.DEBUG)
    finally:
        logging.getLogger().setLevel(logging.WARNING)


def test_tap_cli_refuses_an_upstream_with_a_query_and_a_bad_listen_port():
    from click.testing import CliRunner

    from inspector.cli import main

    result = CliRunner().invoke(main, ["tap", "--upstream", "ws://h/v1?x=1"])
    assert result.exit_code == 2 and "--upstream" in result.output and "query" in result.output
    result = CliRunner().invoke(main, ["tap", "--listen", "127.0.0.1:99999"])
    assert result.exit_code == 2 and "--listen" in result.output and "out of range" in result.output


async def test_after_recording_fails_the_tap_still_forwards_and_stops(db_path):
    # A new session after the writer is gone once waited forever for its row id, and so did stop.
    # (`restarts=0`: this writer is not replaced, so recording fails for good.)
    async with run_upstream() as up, run_tap(up.url, db_path, recorder_options={"restarts": 0}) as tap:
        tap.recorder._process.kill()
        await wait_for(lambda: tap.recorder._failed is not None)
        async with connect(f"ws://127.0.0.1:{tap.port}/v1/realtime?model=m") as ws:
            await ws.send('{"type":"ping"}')
            assert await asyncio.wait_for(ws.recv(), 5) == '{"type":"ping"}'
        stopping = asyncio.create_task(tap.stop())
        await asyncio.wait_for(stopping, 10)
