"""The tap's byte-level relay over real sockets on 127.0.0.1 and a real SQLite file: raw peers
that write frames by hand see exactly the bytes the other peer wrote, protocol errors close both
legs with websockets' codes, a slow reader stops the tap reading the other side."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from conftest import run_tap, run_upstream, wait_for
from test_ws_frames import BINARY, CLOSE, CONT, PING, PONG, TEXT, frame
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.frames import Close

from inspector.protocol import Direction
from inspector.relay import Relay

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension, as in inspector._ws_frames
    from websockets.utils import apply_mask

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PATH = "/v1/realtime?model=m"


def masked(opcode: int, payload: bytes, **kw) -> bytes:
    return frame(opcode, payload, mask=os.urandom(4), **kw)


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    """(opcode, unmasked payload, the frame's raw bytes)."""
    head = await reader.readexactly(2)
    n, extra = head[1] & 0x7F, b""
    if n >= 126:
        extra = await reader.readexactly(2 if n == 126 else 8)
        n = int.from_bytes(extra, "big")
    mask = await reader.readexactly(4) if head[1] & 0x80 else b""
    payload = await reader.readexactly(n)
    raw = head + extra + mask + payload
    return head[0] & 0x0F, apply_mask(payload, mask) if mask else payload, raw


async def read_until_close(reader: asyncio.StreamReader) -> tuple[list[bytes], int]:
    """The raw data frames a peer got before a close frame, and that frame's code."""
    frames = []
    while True:
        opcode, payload, raw = await asyncio.wait_for(read_frame(reader), 10)
        if opcode == CLOSE:
            return frames, Close.parse(payload).code
        frames.append(raw)


async def raw_client(
    port: int, early: bytes = b"", *, cut: int = 0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that speaks WebSocket by hand; `early` goes in the same write as the end of its
    request, which is written in two pieces when `cut` (where to cut it) is given."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    if cut:
        writer.write(request[:cut])
        await writer.drain()
        await asyncio.sleep(0.05)  # so that the two pieces travel as two segments
    writer.write(request[cut:] + early)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


@dataclass
class RawUpstream:
    url: str = ""
    requests: int = 0
    peers: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def raw_upstream(
    script: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    early: bytes = b"",
    *,
    answer: asyncio.Event | None = None,
) -> AsyncIterator[RawUpstream]:
    """An upstream that answers the handshake by hand (`early` in the same write as its 101,
    once `answer` is set if given), then runs `script` on the connection."""
    up = RawUpstream()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        up.requests += 1
        if answer is not None:
            await answer.wait()
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + early
        )
        up.peers.append((reader, writer))
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await script(reader, writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    up.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield up
    finally:
        server.close()


async def answer_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, mask: bool) -> int:
    """Read to the close frame, answer it, return its code."""
    _, code = await read_until_close(reader)
    writer.write(frame(CLOSE, struct.pack("!H", code), mask=os.urandom(4) if mask else None))
    return code


async def the_relay(tap) -> Relay:
    """The relay of the tap's one link, once it runs."""
    await wait_for(lambda: len(tap.server.connections) == 1)
    relay = next(iter(tap.server.connections)).relay
    assert isinstance(relay, Relay)
    return relay


async def finished_session(open_store):
    store = open_store()
    await wait_for(lambda: bool(store.sessions()) and store.sessions()[0].status != "open")
    info = store.sessions()[0]
    return info, [(e.direction, e.frame) for e in store.events(info.id, with_frames=True)]


async def test_fragments_pings_and_the_clients_masks_reach_the_upstream_byte_for_byte(db_path, open_store):
    from_client = [
        masked(TEXT, b'{"type":"conversation.item.create","text":"caf', fin=False),
        masked(PING, b"still there?"),
        masked(CONT, b"\xc3", fin=False),  # 'é' cut across two fragments
        masked(CONT, b'\xa9"}'),
    ]
    from_server = [
        frame(PONG, b"still there?"),
        frame(BINARY, b"\x00\x01", fin=False),
        frame(CONT, b"\x02" * 300),
    ]
    seen: list[bytes] = []

    async def upstream(reader, writer):
        wanted = sum(map(len, from_client))
        seen.append(await reader.readexactly(wanted))
        writer.write(b"".join(from_server))
        await answer_close(reader, writer, mask=False)

    async with raw_upstream(upstream) as up, run_tap(up.url, db_path) as tap:
        reader, writer = await raw_client(tap.port)
        for piece in b"".join(from_client):  # one byte per write: every header cut somewhere
            writer.write(bytes([piece]))
            await writer.drain()
        got = await asyncio.wait_for(reader.readexactly(sum(map(len, from_server))), 10)
        writer.write(masked(CLOSE, struct.pack("!H", 1000)))
        _, code = await read_until_close(reader)
        writer.close()
    assert seen == [b"".join(from_client)]  # the client's own masks, fragments and ping
    assert got == b"".join(from_server)
    assert code == 1000
    info, events = await finished_session(open_store)
    assert events == [
        (Direction.CLIENT, '{"type":"conversation.item.create","text":"café"}'),
        (Direction.SERVER, b"\x00\x01" + b"\x02" * 300),
    ]  # each message once, reassembled; pings and pongs are not recorded
    assert (info.close_side, info.close_code) == ("client", 1000)


@pytest.mark.parametrize("cut", [0, -2], ids=["request-in-one-piece", "request-cut-in-its-last-crlf"])
async def test_frames_in_the_same_segment_as_either_handshake_are_forwarded(db_path, open_store, cut):
    created = frame(TEXT, b'{"type":"session.created"}')
    update = masked(TEXT, b'{"type":"session.update"}')
    seen: list[bytes] = []

    async def upstream(reader, writer):
        seen.append(await reader.readexactly(len(update)))
        await answer_close(reader, writer, mask=False)

    async with raw_upstream(upstream, early=created) as up, run_tap(up.url, db_path) as tap:
        reader, writer = await raw_client(tap.port, early=update, cut=cut)
        assert await asyncio.wait_for(reader.readexactly(len(created)), 10) == created
        await wait_for(lambda: seen == [update])
        writer.write(masked(CLOSE, struct.pack("!H", 1000)))
        await read_until_close(reader)
        writer.close()
    _, events = await finished_session(open_store)
    assert sorted(events) == [
        (Direction.CLIENT, '{"type":"session.update"}'),
        (Direction.SERVER, '{"type":"session.created"}'),
    ]


BAD_FROM_CLIENT = {
    "rsv-bit": (masked(TEXT, b"x", rsv=0x40), 1002),
    "unmasked": (frame(TEXT, b"x"), 1002),
    "long-ping": (masked(PING, b"p" * 126), 1002),
    "fragmented-ping": (masked(PING, b"p", fin=False), 1002),
    "bad-utf8": (masked(TEXT, b"\xff\xfe"), 1007),
}
BAD_FROM_SERVER = {
    "masked": (masked(TEXT, b"x"), 1002),
    "rsv-bit": (frame(BINARY, b"x", rsv=0x20), 1002),
    "bad-utf8": (frame(TEXT, b"ok \xc3("), 1007),
}


@pytest.mark.parametrize(
    ("offender", "bad", "code"),
    [("client", *v) for v in BAD_FROM_CLIENT.values()] + [("server", *v) for v in BAD_FROM_SERVER.values()],
    ids=[f"client-{k}" for k in BAD_FROM_CLIENT] + [f"server-{k}" for k in BAD_FROM_SERVER],
)
async def test_a_protocol_error_closes_both_legs_with_its_code_and_is_neither_forwarded_nor_recorded(
    db_path, open_store, offender, bad, code
):
    good_up, good_down = masked(TEXT, b'{"type":"ok"}'), frame(TEXT, b'{"type":"ok"}')
    upstream_saw: list[tuple[list[bytes], int]] = []

    async def upstream(reader, writer):
        if offender == "server":
            writer.write(good_down + bad)
        upstream_saw.append(await read_until_close(reader))
        writer.write(frame(CLOSE, struct.pack("!H", upstream_saw[0][1])))

    async with raw_upstream(upstream) as up, run_tap(up.url, db_path) as tap:
        reader, writer = await raw_client(tap.port)
        if offender == "client":
            writer.write(good_up + bad)
        client_saw = await read_until_close(reader)
        writer.write(masked(CLOSE, struct.pack("!H", client_saw[1])))
        await wait_for(lambda: bool(upstream_saw))
        writer.close()
    if offender == "client":
        assert upstream_saw == [([good_up], code)] and client_saw == ([], code)
    else:
        assert client_saw == ([good_down], code) and upstream_saw == [([], code)]
    info, events = await finished_session(open_store)
    assert (info.close_side, info.close_code) == ("tap", code)
    assert events == [(Direction.CLIENT if offender == "client" else Direction.SERVER, '{"type":"ok"}')]


@pytest.mark.parametrize("flooder", ["client", "server"])
async def test_a_reader_that_stops_reading_stops_the_tap_reading_the_other_side(db_path, flooder):
    """Without backpressure the tap would buffer what the kernel cannot: here 48 MB."""
    frames, size = 48, 1024 * 1024
    one = masked(BINARY, b"\x07" * size) if flooder == "client" else frame(BINARY, b"\x07" * size)
    go_read = asyncio.Event()
    received: list[int] = []

    async def drain(reader: asyncio.StreamReader) -> None:
        await go_read.wait()
        total = 0
        while total < frames * len(one):
            total += len(await reader.read(1 << 20))
        received.append(total)

    async def flood(writer: asyncio.StreamWriter) -> None:
        for _ in range(frames):
            writer.write(one)
            await writer.drain()

    async def upstream(reader, writer):
        await (flood(writer) if flooder == "server" else drain(reader))
        await answer_close(reader, writer, mask=False)

    async with raw_upstream(upstream) as up, run_tap(up.url, db_path) as tap:
        reader, writer = await raw_client(tap.port)
        task = asyncio.create_task(flood(writer) if flooder == "client" else drain(reader))
        relay = await the_relay(tap)
        flooded, slow = (relay.client, relay.upstream) if flooder == "client" else (relay.upstream, relay.client)
        await wait_for(lambda: not flooded.transport.is_reading(), timeout=20)
        # Paused while what it would forward waits in the kernel, not in the tap's memory.
        assert slow.transport.get_write_buffer_size() < 2 * size
        go_read.set()
        await wait_for(lambda: bool(received), timeout=30)
        await asyncio.wait_for(task, 5)
        assert received == [frames * len(one)]  # everything arrived once reading resumed
        writer.close()


async def test_a_half_frame_left_at_eof_is_dropped_and_the_upstream_told_1001(db_path, open_store):
    async with run_upstream() as up, run_tap(up.url, db_path) as tap:
        _, writer = await raw_client(tap.port)
        whole = masked(TEXT, b'{"type":"response.create"}')
        writer.write(whole + whole[:9])
        await wait_for(lambda: len(up.received) == 1)
        writer.write_eof()
        await wait_for(lambda: len(up.closes) == 1)
        writer.close()
    assert up.received == ['{"type":"response.create"}']
    assert up.closes[0][0] == 1001
    info, events = await finished_session(open_store)
    assert (info.close_side, info.close_code) == ("client", 1006)
    assert [d for d, _ in events] == [Direction.CLIENT, Direction.SERVER]  # the frame and its echo only


async def test_a_half_frame_from_an_upstream_that_drops_reaches_the_client_as_1014(db_path, open_store):
    async def upstream(reader, writer):
        writer.write(frame(TEXT, b'{"type":"session.created"}' * 10)[:30])
        await writer.drain()
        writer.transport.abort()

    async with raw_upstream(upstream) as up, run_tap(up.url, db_path) as tap:
        reader, writer = await raw_client(tap.port)
        got, code = await read_until_close(reader)
        writer.close()
    assert (got, code) == ([], 1014)
    info, events = await finished_session(open_store)
    assert (info.close_side, info.close_code, events) == ("server", 1006, [])


async def test_a_client_that_never_answers_the_stops_close_is_cut_off_in_bounded_time(db_path, open_store):
    from inspector.tap import CLOSE_SECONDS

    async with run_upstream() as up, run_tap(up.url, db_path) as tap:
        _, writer = await raw_client(tap.port)
        writer.write(masked(TEXT, b'{"type":"x"}'))
        await wait_for(lambda: len(up.received) == 1)
        await asyncio.wait_for(tap.stop(), CLOSE_SECONDS)  # the client reads nothing, answers nothing
        assert up.closes == [(1001, "")]
        writer.close()
    info, _ = await finished_session(open_store)
    assert (info.status, info.close_side, info.close_code) == ("interrupted", "tap", 1001)


async def flood_until_paused(writer: asyncio.StreamWriter, one: bytes, *, most: int = 64) -> int:
    """Write `one` until the tap stops reading this peer (a drain that waits 0.5 s), at most
    `most` times; how many were written."""
    for count in range(1, most + 1):
        writer.write(one)
        try:
            await asyncio.wait_for(writer.drain(), 0.5)
        except TimeoutError:
            return count
    return most


@pytest.mark.parametrize("stalled", ["client", "upstream"])
async def test_a_peer_that_stops_reading_gets_the_link_closed_with_1011_after_the_stall_time(
    db_path, open_store, monkeypatch, stalled
):
    """The other peer, paused, sends its close and resets: the tap does not see it (a paused
    socket is not polled), so only the stall timeout can end the link."""
    from inspector import tap as tap_module

    monkeypatch.setattr(tap_module, "STALL_SECONDS", 0.5)
    monkeypatch.setattr(tap_module, "PEER_CLOSE_SECONDS", 0.5)
    size = 1024 * 1024

    async def flood_close_and_reset(writer: asyncio.StreamWriter, mask: bool) -> None:
        one = frame(BINARY, b"\x07" * size, mask=os.urandom(4) if mask else None)
        await flood_until_paused(writer, one)
        writer.write(frame(CLOSE, struct.pack("!H", 1000), mask=os.urandom(4) if mask else None))
        writer.transport.abort()

    async def upstream(reader, writer):
        if stalled == "client":
            await flood_close_and_reset(writer, mask=False)
        else:
            await asyncio.sleep(30)  # reads nothing

    async with raw_upstream(upstream) as up, run_tap(up.url, db_path) as tap:
        _, writer = await raw_client(tap.port)
        if stalled == "upstream":
            await flood_close_and_reset(writer, mask=True)
        info, _ = await asyncio.wait_for(finished_session(open_store), 10)
        writer.close()
    assert (info.close_side, info.close_code, info.close_reason) == (
        "tap",
        1011,
        f"the {stalled} stopped reading for 0.5 s",
    )
    assert info.status == "closed"


async def test_the_tap_stops_cleanly_with_a_handshake_whose_upstream_sent_101_and_a_frame_and_left(
    db_path, open_store, caplog
):
    """The upstream's connection is closed through websockets, given back the frame held for the
    relay: after the upstream left, that must not raise (and stop the tap's shutdown)."""
    answer = asyncio.Event()

    async def upstream(reader, writer):
        pass  # leaves right after its 101 and a frame

    created = frame(TEXT, b'{"type":"session.created"}')
    async with raw_upstream(upstream, early=created, answer=answer) as up, run_tap(up.url, db_path) as tap:
        reader, writer = await asyncio.open_connection("127.0.0.1", tap.port)
        writer.write(
            f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        await wait_for(lambda: up.requests == 1)
        stopping = asyncio.create_task(tap.stop())  # while the tap waits for the upstream's 101
        await asyncio.sleep(0.1)
        answer.set()
        head = await asyncio.wait_for(reader.read(), 5)
        writer.close()  # websockets waits for it before its server is closed
        await asyncio.wait_for(stopping, 5)
    assert head.startswith(b"HTTP/1.1 503"), head
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    info, _ = await finished_session(open_store)
    assert (info.status, info.error) == ("failed", "the tap stopped during the handshake")


async def test_frames_held_past_the_hold_limit_do_not_undo_the_backpressure_they_cause(db_path, monkeypatch):
    """The client's early frames, over what the tap holds before the take-over (raised here past
    what the kernel takes at once), are written to an upstream that reads nothing: the tap must
    then stop reading the client, whatever more it sends."""
    from inspector import relay as relay_module

    monkeypatch.setattr(relay_module, "_HOLD_BYTES", 8 * 1024 * 1024)
    size = 256 * 1024
    one = masked(BINARY, b"\x07" * size)
    answer = asyncio.Event()

    async def upstream(reader, writer):
        await asyncio.sleep(30)  # reads nothing

    async with raw_upstream(upstream, answer=answer) as up, run_tap(up.url, db_path) as tap:
        handshake = asyncio.create_task(raw_client(tap.port, early=one * 36))  # 9 MiB
        await wait_for(lambda: up.requests == 1)
        await asyncio.sleep(0.5)  # the tap reads and holds 8 MiB of it meanwhile
        answer.set()
        _, writer = await handshake
        relay = await the_relay(tap)
        await flood_until_paused(writer, one, most=128)  # 32 MiB, all in the tap's memory if read
        assert not relay.client.transport.is_reading()
        assert relay.upstream.transport.get_write_buffer_size() < 10 * 1024 * 1024
        writer.close()


async def test_a_half_close_that_fails_still_closes_both_legs_with_the_protocol_errors_code(
    db_path, open_store, caplog
):
    """The client breaks the protocol; the tap's half-close of its socket fails (a reset that
    came meanwhile, made certain here): the link still ends with 1002, on the upstream too."""
    upstream_saw: list[tuple[list[bytes], int]] = []

    async def upstream(reader, writer):
        upstream_saw.append(await read_until_close(reader))
        writer.write(frame(CLOSE, struct.pack("!H", upstream_saw[0][1])))

    def reset() -> None:
        raise ConnectionResetError(104, "Connection reset by peer")

    async with raw_upstream(upstream) as up, run_tap(up.url, db_path) as tap:
        _, writer = await raw_client(tap.port)
        relay = await the_relay(tap)
        relay.client.transport.write_eof = reset  # type: ignore[method-assign]
        writer.write(masked(TEXT, b"x", rsv=0x40))
        await wait_for(lambda: bool(upstream_saw))
        writer.close()
    assert upstream_saw == [([], 1002)]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    info, _ = await finished_session(open_store)
    assert (info.close_side, info.close_code) == ("tap", 1002)


async def test_a_recording_call_that_raises_is_logged_once_and_forwarding_goes_on(
    db_path, open_store, monkeypatch, caplog
):
    from inspector.store.recorder import SessionRecorder

    record = SessionRecorder.record

    def record_or_fail(self, direction, data, t_ns=None):
        if "boom" in data:
            raise RuntimeError("a bug in recording")
        record(self, direction, data, t_ns)

    monkeypatch.setattr(SessionRecorder, "record", record_or_fail)
    sent = ['{"type":"a"}', '{"type":"boom"}', '{"type":"c"}']
    async with run_upstream() as up, run_tap(up.url, db_path) as tap:
        reader, writer = await raw_client(tap.port)
        writer.write(b"".join(masked(TEXT, m.encode()) for m in sent))
        echoed = [(await asyncio.wait_for(read_frame(reader), 10))[1].decode() for _ in sent]
        writer.write(masked(CLOSE, struct.pack("!H", 1000)))
        await read_until_close(reader)
        writer.close()
    assert up.received == sent and echoed == sent  # forwarded both ways, the failing one too
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in failures] == ["recording a frame failed; frames are still forwarded"]
    info, events = await finished_session(open_store)
    assert sorted(events) == [
        (d, m) for d in (Direction.CLIENT, Direction.SERVER) for m in ('{"type":"a"}', '{"type":"c"}')
    ]
    assert (info.close_side, info.close_code) == ("client", 1000)


async def test_a_client_offering_permessage_deflate_gets_uncompressed_frames_both_ways(db_path, open_store):
    """Both peers would compress: the tap, which forwards frames as they came, negotiates it on
    neither leg (each leg's own deflate context would garble the other's frames)."""

    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    async with (
        serve(echo, "127.0.0.1", 0) as upstream,
        run_tap(  # compression="deflate"
            f"ws://127.0.0.1:{upstream.sockets[0].getsockname()[1]}", db_path
        ) as tap,
    ):
        async with connect(f"ws://127.0.0.1:{tap.port}{PATH}") as ws:  # offers it
            assert ws.protocol.extensions == []
            await ws.send('{"type":"response.create"}' * 50)
            assert await asyncio.wait_for(ws.recv(), 10) == '{"type":"response.create"}' * 50
    _, events = await finished_session(open_store)
    assert len(events) == 2


async def read_to_eof(reader: asyncio.StreamReader) -> tuple[list[tuple[int, bytes]], bytes]:
    """(opcode, payload) of every frame up to the connection's end, and any partial frame."""
    frames = []
    with contextlib.suppress(ConnectionError):
        while True:
            try:
                opcode, payload, _ = await asyncio.wait_for(read_frame(reader), 10)
            except asyncio.IncompleteReadError as exc:
                return frames, exc.partial
            frames.append((opcode, payload))
    return frames, b""


async def test_closes_sent_by_both_peers_at_once_end_the_link_with_one_close_each(db_path, open_store):
    both = asyncio.Event()
    upstream_got: list[tuple[list[tuple[int, bytes]], bytes]] = []

    async def upstream(reader, writer):
        await both.wait()
        writer.write(frame(CLOSE, struct.pack("!H", 1000) + b"server bye"))
        upstream_got.append(await read_to_eof(reader))

    async with raw_upstream(upstream) as up, run_tap(up.url, db_path) as tap:
        reader, writer = await raw_client(tap.port)
        await wait_for(lambda: len(up.peers) == 1)
        both.set()
        writer.write(masked(CLOSE, struct.pack("!H", 4000) + b"client bye"))
        client_got = await read_to_eof(reader)
        await wait_for(lambda: bool(upstream_got))
        writer.close()
    info, _ = await finished_session(open_store)
    first = {"client": (4000, b"client bye"), "server": (1000, b"server bye")}[info.close_side]
    assert (info.close_code, info.close_reason) == (first[0], first[1].decode())
    # Each peer got one close frame, and nothing after it: the first close, or the answer to its own.
    (client_close,), (upstream_close,) = client_got[0], upstream_got[0][0]
    assert client_close[0] == upstream_close[0] == CLOSE
    assert Close.parse(client_close[1]).code in (1000, 4000)
    assert Close.parse(upstream_close[1]).code in (1000, 4000)
    assert client_got[1] == upstream_got[0][1] == b""


@pytest.mark.parametrize("ending", ["close-frame", "eof"])
async def test_a_client_that_reads_nothing_and_ends_gets_nothing_more_and_is_cut_off_in_bounded_time(
    db_path, open_store, monkeypatch, ending
):
    """The client reads nothing, so the upstream is not read; then it sends its close (or its
    FIN). The upstream is told and read again, but what it still sends is not piled on the
    client's connection, and the client, which never reads the tap's reply, is cut off after the
    close timeout."""
    from inspector import tap as tap_module

    monkeypatch.setattr(tap_module, "PEER_CLOSE_SECONDS", 0.5)
    one = frame(BINARY, b"\x07" * 1024 * 1024)
    paused, told = asyncio.Event(), asyncio.Event()
    upstream_saw: list[int] = []

    async def upstream(reader, writer):
        await flood_until_paused(writer, one)
        paused.set()
        await told.wait()
        for _ in range(16):
            writer.write(one)
            await writer.drain()
        upstream_saw.append(await answer_close(reader, writer, mask=False))

    async with raw_upstream(upstream) as up, run_tap(up.url, db_path) as tap:
        _, writer = await raw_client(tap.port)
        await asyncio.wait_for(paused.wait(), 10)
        relay = await the_relay(tap)
        before = relay.client.transport.get_write_buffer_size()
        if ending == "eof":
            writer.write_eof()
        else:
            writer.write(masked(CLOSE, struct.pack("!H", 1000)))
        told.set()
        peak = 0
        while not upstream_saw:
            peak = max(peak, relay.client.transport.get_write_buffer_size())
            await asyncio.sleep(0.005)
        outcome = await asyncio.wait_for(relay.wait(), 5)
        writer.close()
    assert peak <= before + 4  # at most the reply to its close
    code = 1000 if ending == "close-frame" else 1006
    assert upstream_saw == [1000 if ending == "close-frame" else 1001]
    assert (outcome.side, outcome.code) == ("client", code)
    info, _ = await finished_session(open_store)
    assert (info.status, info.close_side, info.close_code) == ("closed", "client", code)
