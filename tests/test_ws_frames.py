"""The relay's frame reader, without a socket: whatever way the bytes are cut, the same frames are
forwarded unchanged and the same messages recorded; every protocol error is caught with the code
websockets would close with."""

from __future__ import annotations

import os
import struct

import pytest
from websockets.frames import Close
from websockets.speedups import apply_mask

from inspector._ws_frames import Broken, Closed, FrameReader, close_frame, close_payload

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MB = 1024 * 1024


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = None, rsv: int = 0) -> bytes:
    """One frame as a peer would write it (any length, masked or not, RSV bits if asked)."""
    b0 = (0x80 if fin else 0) | rsv | opcode
    bit = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, bit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, bit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, bit | 127, n)
    if mask is None:
        return head + payload
    return head + mask + apply_mask(payload, mask)


def feed_in_pieces(reader: FrameReader, data: bytes, cuts: list[int]):
    forwarded, messages, ends = b"", [], []
    for a, b in zip([0, *cuts], [*cuts, len(data)]):
        out, got, end = reader.feed(data[a:b])
        forwarded += out
        messages += got
        if end is not None:
            ends.append(end)
    return forwarded, messages, ends


def mixed_stream(masked: bool) -> tuple[bytes, list[str | bytes]]:
    """Text, binary, a fragmented text message with a ping between its fragments and a
    character cut across two fragments, a 16-bit and a 64-bit length."""

    def key() -> bytes | None:
        return os.urandom(4) if masked else None

    frames = [
        frame(TEXT, b'{"type":"session.update"}', mask=key()),
        frame(BINARY, b"\x00\xff\x10", mask=key()),
        frame(TEXT, b'{"text":"caf', fin=False, mask=key()),
        frame(PING, b"still there?", mask=key()),
        frame(CONT, b"\xc3", fin=False, mask=key()),
        frame(CONT, b'\xa9"}', mask=key()),
        frame(PONG, b"", mask=key()),
        frame(TEXT, b"A" * 300, mask=key()),
        frame(BINARY, b"B" * 70000, mask=key()),
    ]
    messages: list[str | bytes] = ['{"type":"session.update"}', b"\x00\xff\x10", '{"text":"café"}', "A" * 300]
    return b"".join(frames), [*messages, b"B" * 70000]


@pytest.mark.parametrize("masked", [True, False], ids=["from-client", "from-server"])
def test_every_way_of_cutting_the_bytes_forwards_them_unchanged_and_yields_the_same_messages(masked):
    data, expected = mixed_stream(masked)
    small = data[: len(data) - 70000 - (14 if masked else 10)]  # every cut but in the big frame
    for cut in range(1, len(small)):
        assert feed_in_pieces(FrameReader(masked=masked, max_size=MB), small, [cut]) == (small, expected[:-1], [])
    one_byte_at_a_time = list(range(1, len(data)))
    assert feed_in_pieces(FrameReader(masked=masked, max_size=MB), data, one_byte_at_a_time) == (data, expected, [])
    assert feed_in_pieces(FrameReader(masked=masked, max_size=MB), data, []) == (data, expected, [])


def test_only_whole_frames_are_forwarded_and_the_rest_waits():
    reader = FrameReader(masked=False, max_size=MB)
    first, second = frame(TEXT, b"one"), frame(TEXT, b"two" * 100)
    assert reader.feed(first + second[:10]) == (first, ["one"], None)
    assert reader.feed(second[10:20]) == (b"", [], None)
    assert reader.feed(second[20:]) == (second, ["two" * 100], None)


def test_a_frame_over_max_size_is_refused_from_its_header_alone():
    reader = FrameReader(masked=True, max_size=16 * MB)
    header = struct.pack("!BBQ", 0x81, 0x80 | 127, 16 * MB + 1) + b"\0\0\0\0"
    out, messages, end = reader.feed(header)  # no payload needed to refuse it
    assert (out, messages) == (b"", []) and isinstance(end, Broken) and end.code == 1009
    assert reader.feed(b"x" * 1000) == (b"", [], None)  # what follows is not read


def test_a_fragmented_message_over_max_size_is_refused_at_the_fragment_that_crosses_it():
    reader = FrameReader(masked=False, max_size=100)
    first = frame(TEXT, b"a" * 60, fin=False)
    out, _, end = reader.feed(first + frame(CONT, b"b" * 41))
    assert out == first and isinstance(end, Broken) and end.code == 1009


@pytest.mark.parametrize(
    ("masked", "frames", "code"),
    [
        (True, [frame(TEXT, b"x", mask=b"abcd", rsv=0x40)], 1002),  # RSV1: no extension negotiated
        (True, [frame(TEXT, b"x", mask=b"abcd", rsv=0x10)], 1002),
        (True, [frame(TEXT, b"x")], 1002),  # a client frame must be masked
        (False, [frame(TEXT, b"x", mask=b"abcd")], 1002),  # a server frame must not be
        (True, [frame(PING, b"p" * 126, mask=b"abcd")], 1002),  # control frames: 125 bytes at most
        (True, [frame(PING, b"p", fin=False, mask=b"abcd")], 1002),  # ... and never fragmented
        (True, [frame(0x3, b"x", mask=b"abcd")], 1002),  # reserved opcodes
        (True, [frame(0xB, b"x", mask=b"abcd")], 1002),
        (True, [frame(CONT, b"x", mask=b"abcd")], 1002),  # a continuation of nothing
        (True, [frame(TEXT, b"a", fin=False, mask=b"abcd"), frame(TEXT, b"b", mask=b"abcd")], 1002),
        (True, [frame(TEXT, b"\xff\xfe", mask=b"abcd")], 1007),  # invalid UTF-8
        (False, [frame(TEXT, b"ok \xc3", fin=False), frame(CONT, b"(")], 1007),  # ... across fragments
        (True, [frame(CLOSE, b"\x03", mask=b"abcd")], 1002),  # a close payload of one byte
        (True, [frame(CLOSE, struct.pack("!H", 1005), mask=b"abcd")], 1002),  # a code not to send
        (True, [frame(CLOSE, struct.pack("!H", 1000) + b"\xff", mask=b"abcd")], 1007),
    ],
)
def test_protocol_errors_end_the_stream_with_websockets_close_codes_and_are_not_forwarded(masked, frames, code):
    good = frame(TEXT, b'{"ok":1}', mask=b"wxyz" if masked else None)
    out, messages, end = FrameReader(masked=masked, max_size=MB).feed(good + b"".join(frames))
    assert isinstance(end, Broken) and end.code == code, end
    assert messages == ['{"ok":1}']
    # The bad frame is not forwarded; a valid fragment before it was (it was whole).
    assert out == good + b"".join(frames[:-1])


def test_a_close_frame_ends_the_stream_and_what_follows_it_is_dropped():
    reader = FrameReader(masked=True, max_size=MB)
    before = frame(TEXT, b"bye", mask=b"abcd")
    close = frame(CLOSE, Close(4000, "done ✓").serialize(), mask=b"efgh")
    out, messages, end = reader.feed(before + close + frame(TEXT, b"late", mask=b"ijkl"))
    assert (out, messages) == (before, ["bye"])
    assert end == Closed(4000, "done ✓", Close(4000, "done ✓").serialize())
    assert FrameReader(masked=False, max_size=MB).feed(frame(CLOSE, b""))[2] == Closed(1005, "", b"")
    assert reader.feed(frame(TEXT, b"more", mask=b"abcd")) == (b"", [], None)


@pytest.mark.parametrize("masked", [True, False])
def test_the_relays_own_close_frames_read_back_as_sent(masked):
    payload = close_payload(1001, "tap stopping " + "é" * 100)  # a long reason is cut to fit
    assert len(payload) <= 125
    built = close_frame(payload, masked=masked)
    assert FrameReader(masked=masked, max_size=MB).feed(built)[2] == Closed(1001, Close.parse(payload).reason, payload)
