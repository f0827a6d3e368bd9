"""A bare-bones WebSocket client and server for load generation, a few µs of CPU per frame.

With the websockets library at both ends, the load generators (client and upstream, in Python)
took both cores of a 2-core machine at 100 sessions, and the tap under test got what was left:
the benchmark measured the generators. These speak just enough RFC 6455 for the benchmark:
text frames prepared once per frame kind, a timestamp patched in at a fixed offset; client frames
masked with the all-zero key (valid: the key is the client's choice, and it leaves the payload
as it is); pings answered; frames read by their header alone, a payload unmasked only where the
timestamp is. Loopback only, for `benchmarks/load.py`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from collections.abc import Callable

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def frame_header(opcode: int, length: int, masked: bool) -> bytes:
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, mask_bit | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, mask_bit | 127, length)
    return head + (b"\0\0\0\0" if masked else b"")


def encode(opcode: int, payload: bytes, masked: bool) -> bytes:
    return frame_header(opcode, len(payload), masked) + payload


Handler = Callable[[int, bytes], None]  # (opcode, payload unmasked) for every data frame


class Peer(asyncio.Protocol):
    """One side of a connection after the handshake: parses frames, answers pings."""

    def __init__(self, on_frame: Handler, *, masked_out: bool) -> None:
        self.on_frame = on_frame
        self.masked_out = masked_out
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = asyncio.get_running_loop().create_future()
        # The StreamWriter of the handshake: it closes the transport when it is collected.
        self.stream_writer: asyncio.StreamWriter | None = None

    def send(self, data: bytes | bytearray) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        at = 0
        while len(buf) - at >= 2:
            b0, b1 = buf[at], buf[at + 1]
            length, pos = b1 & 0x7F, at + 2
            if length == 126:
                if len(buf) - pos < 2:
                    break
                length, pos = struct.unpack_from("!H", buf, pos)[0], pos + 2
            elif length == 127:
                if len(buf) - pos < 8:
                    break
                length, pos = struct.unpack_from("!Q", buf, pos)[0], pos + 8
            mask = None
            if b1 & 0x80:
                if len(buf) - pos < 4:
                    break
                mask, pos = bytes(buf[pos : pos + 4]), pos + 4
            if len(buf) - pos < length:
                break
            payload = bytes(buf[pos : pos + length])
            at = pos + length
            if mask is not None and mask != b"\0\0\0\0":
                payload = unmask(payload, mask)
            self._frame(b0 & 0x0F, payload)
        del buf[:at]

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode == PING:
            self.send(encode(PONG, payload, self.masked_out))
        elif opcode == CLOSE:
            if self.transport is not None and not self.transport.is_closing():
                self.send(encode(CLOSE, payload[:2], self.masked_out))
                self.transport.close()
        elif opcode != PONG:
            self.on_frame(opcode, payload)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR with the mask as one big integer: fast enough for 1.3 KB in pure Python."""
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


async def connect(host: str, port: int, path: str, on_frame: Handler) -> Peer:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head.decode(errors="replace"))
    peer = Peer(on_frame, masked_out=True)
    peer.stream_writer = writer
    rest = reader._buffer  # type: ignore[attr-defined]  # bytes read past the handshake
    transport = writer.transport
    transport.set_protocol(peer)
    peer.transport = transport  # type: ignore[assignment]
    if rest:
        peer.data_received(bytes(rest))
    return peer


async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, on_frame: Handler) -> Peer:
    head = await reader.readuntil(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key:")
    )
    accept_key = base64.b64encode(hashlib.sha1(key + GUID).digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key + b"\r\n\r\n"
    )
    peer = Peer(on_frame, masked_out=False)
    peer.stream_writer = writer
    rest = bytes(reader._buffer)  # type: ignore[attr-defined]
    transport = writer.transport
    transport.set_protocol(peer)
    peer.transport = transport  # type: ignore[assignment]
    if rest:
        peer.data_received(rest)
    return peer
