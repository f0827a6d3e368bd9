"""RFC 6455 frames read incrementally, for a relay that forwards them as they came.

Pure (no I/O). `FrameReader.feed(data)` takes one direction's bytes as they arrive and answers
with three things: the prefix of the bytes seen so far that is whole frames, to forward unchanged
(fragments, pings and pongs included; a client's frames keep the client's mask, which is valid:
the mask key is the sender's choice); the messages those frames completed, unmasked, reassembled
and decoded (text as `str`, binary as `bytes`), for recording only; and how the stream ended, if
it did: with the peer's close frame (`Closed`) or by breaking a rule of the protocol (`Broken`,
with the close code to fail the connection with, as websockets would: 1002, 1007, 1009).

Only frame headers are parsed on the way; a frame is forwarded once it is whole, so that the
relay can put a close frame of its own between two frames. A frame over `max_size` is refused
from its header, before its payload is read. Only the close frames the relay sends itself are
built here (`close_frame`).
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass

from websockets.exceptions import ProtocolError
from websockets.frames import Close

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

__all__ = ["Broken", "Closed", "FrameReader", "close_frame", "close_payload"]

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


@dataclass(frozen=True, slots=True)
class Closed:
    """The peer's close frame: its code (1005 when it had none), reason and raw payload."""

    code: int
    reason: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Broken:
    """The peer broke the protocol: fail the connection with this close code and reason."""

    code: int
    reason: str


End = Closed | Broken
Header = tuple[int, int, int, int, bytes | None]  # opcode, FIN bit, payload start, length, mask


def _utf8_error(exc: UnicodeDecodeError) -> Broken:
    return Broken(1007, f"{exc.reason} at position {exc.start}")


class FrameReader:
    """One direction of a connection: frames from a client (`masked=True`) or from a server."""

    def __init__(self, *, masked: bool, max_size: int | None) -> None:
        self.masked = masked
        self.max_size = max_size
        self.ended = False  # after a close frame or an error nothing more is read
        self._mask_bit = 0x80 if masked else 0
        self._buffer = bytearray()  # the start of a frame not whole yet
        self._need = 0  # bytes the buffer must hold before that frame is whole (0: unknown)
        # A fragmented message under way: its kind, its decoded parts, its size so far.
        self._text: bool | None = None
        self._parts: list[str | bytes] = []
        self._size = 0
        self._decoder: codecs.IncrementalDecoder | None = None

    def feed(self, data: bytes) -> tuple[bytes, list[str | bytes], End | None]:
        """(whole frames to forward, messages they completed, how the stream ended or None)."""
        if self.ended:
            return b"", [], None
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._need:
                return b"", [], None
            data = bytes(buffer)
            buffer.clear()
        messages: list[str | bytes] = []
        end: End | None = None
        pos, size = 0, len(data)
        self._need = 0
        while size - pos >= 2:
            header = self._header(data, pos, size)
            if header is None:
                break
            if isinstance(header, Broken):
                end = header
                break
            opcode, fin, start, length, mask = header
            stop = start + length
            if stop > size:
                self._need = stop - pos
                break
            payload = data[start:stop]
            if mask is not None:
                payload = apply_mask(payload, mask)
            if fin and opcode == TEXT and self._text is None:  # the common case first
                try:
                    messages.append(payload.decode())
                except UnicodeDecodeError as exc:
                    end = _utf8_error(exc)
                    break
            elif fin and opcode == BINARY and self._text is None:
                messages.append(payload)
            else:
                end = self._other_frame(opcode, fin, payload, messages)
                if end is not None:
                    break
            pos = stop
        if end is not None:
            self.ended = True
        elif pos < size:
            buffer += data[pos:]  # the start of the next frame (when its header is cut, need is 0)
        return (data if pos == size else data[:pos]), messages, end

    def _header(self, data: bytes, pos: int, size: int) -> Header | Broken | None:
        """The header at `pos`, a rule it breaks, or None when it is not all there yet."""
        b0, b1 = data[pos], data[pos + 1]
        opcode = b0 & 0x0F
        if b0 & 0x70:
            return Broken(1002, "reserved bits must be 0")  # no extension is negotiated
        if b1 & 0x80 != self._mask_bit:
            return Broken(1002, "incorrect masking")
        length = b1 & 0x7F
        if opcode >= CLOSE:
            if opcode > PONG:
                return Broken(1002, f"invalid opcode: {opcode}")
            if not b0 & 0x80:
                return Broken(1002, "fragmented control frame")
            if length > 125:
                return Broken(1002, "control frame too long")
        elif opcode > BINARY:
            return Broken(1002, f"invalid opcode: {opcode}")
        start = pos + 2
        if length >= 126:
            wide = 2 if length == 126 else 8
            if size - start < wide:
                return None
            length = int.from_bytes(data[start : start + wide], "big")
            start += wide
        if opcode < CLOSE and self.max_size is not None and self._size + length > self.max_size:
            return Broken(1009, f"over size limit ({self._size + length} > {self.max_size} bytes)")
        mask = None
        if self._mask_bit:
            if size - start < 4:
                return None
            mask = data[start : start + 4]
            start += 4
        return opcode, b0 & 0x80, start, length, mask

    def _other_frame(self, opcode: int, fin: int, payload: bytes, messages: list[str | bytes]) -> End | None:
        """Fragments, control frames: what is not a whole message in one frame."""
        if opcode == CLOSE:
            try:
                close = Close.parse(payload)
            except ProtocolError as exc:
                return Broken(1002, str(exc))
            except UnicodeDecodeError as exc:
                return _utf8_error(exc)
            return Closed(close.code, close.reason, payload)
        if opcode >= PING:
            return None  # forwarded end to end; the peers answer their own pings
        if opcode == CONT:
            if self._text is None:
                return Broken(1002, "unexpected continuation frame")
        elif self._text is not None:
            return Broken(1002, "expected a continuation frame")
        else:
            self._text = opcode == TEXT
            self._decoder = codecs.getincrementaldecoder("utf-8")() if self._text else None
        if self._decoder is not None:
            try:
                self._parts.append(self._decoder.decode(payload, final=bool(fin)))
            except UnicodeDecodeError as exc:
                return _utf8_error(exc)
        else:
            self._parts.append(payload)
        self._size += len(payload)
        if fin:
            parts, self._parts = self._parts, []
            messages.append("".join(parts) if self._text else b"".join(parts))  # type: ignore[arg-type]
            self._text, self._decoder, self._size = None, None, 0
        return None


def close_payload(code: int, reason: str) -> bytes:
    """A close frame's payload; the reason cut to fit a control frame (125 bytes)."""
    cut = reason.encode()[:123].decode(errors="ignore")
    return Close(code, cut).serialize()


def close_frame(payload: bytes, *, masked: bool) -> bytes:
    """A close frame carrying `payload`; masked with a random key when sent by a client."""
    if not masked:
        return bytes((0x80 | CLOSE, len(payload))) + payload
    mask = os.urandom(4)
    return bytes((0x80 | CLOSE, 0x80 | len(payload))) + mask + apply_mask(payload, mask)
