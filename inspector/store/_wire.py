"""How the tap hands items to its writer process: raw bytes down a pipe, no pickling of frames.

Each item is an 18-byte header (kind, flags, session key, a 64-bit value, payload length) and its
payload. A frame's payload is its bytes on the wire (a text frame UTF-8 encoded): the tap's
thread makes one small header and, for text, one copy, and the pipe write (`os.writev`) runs
without the GIL; pickling batches used to cost the relay ~10 % of its throughput
(benchmarks/tap_overhead.py). Session rows' fields (a few a session) are pickled.

    OPEN    key, payload: pickled `create_session` fields
    FRAME   key, flags (SERVER, BINARY), value: t_ns, payload: the frame
    UPDATE  key, payload: pickled `update_session` fields
    LOST    key, value: frames the tap could not hand over (its own queue was full)
    ADOPT   key, value: the row id of a session a writer that died was recording

The writer numbers the items it reads 0, 1, 2, ... and acknowledges by number what it committed;
the tap keeps what was not acknowledged, to send it again to a new writer if this one dies.
"""

from __future__ import annotations

import os
import pickle
import struct
from typing import Any, NamedTuple

__all__ = ["ADOPT", "BINARY", "FRAME", "HEADER", "LOST", "OPEN", "SERVER", "UPDATE", "Item", "decode", "write_all"]

OPEN, FRAME, UPDATE, LOST, ADOPT = 0, 1, 2, 3, 4
SERVER, BINARY = 1, 2  # FRAME flags
HEADER = struct.Struct("<BBIqI")
IOV_MAX = 1024  # os.writev's limit on Linux (buffers per call)


class Item(NamedTuple):
    """One item as the writer holds it; `number` counts the items this writer has read."""

    kind: int
    key: int
    flags: int
    value: int
    payload: Any  # a frame's bytes, or a session row's fields (a dict)
    number: int


def item(kind: int, key: int, fields: dict[str, Any] | None = None, value: int = 0) -> list[bytes]:
    """The two buffers of a non-frame item (the tap's hot path packs frames itself)."""
    payload = b"" if fields is None else pickle.dumps(fields, protocol=pickle.HIGHEST_PROTOCOL)
    return [HEADER.pack(kind, 0, key, value, len(payload)), payload]


def write_all(fd: int, buffers: list[bytes]) -> None:
    """Write every buffer, in order, to a blocking pipe (`OSError` if it is closed)."""
    views: list[Any] = buffers
    at = 0
    while at < len(views):
        part = views[at : at + IOV_MAX]
        written = os.writev(fd, part)
        if written == sum(map(len, part)):  # the usual case: a blocking pipe takes it all
            at += len(part)
            continue
        if views is buffers:
            views = list(buffers)  # the caller's list stays as it was
        while written >= len(views[at]):
            written -= len(views[at])
            at += 1
        views[at] = memoryview(views[at])[written:]


def decode(data: bytes | memoryview, first: int) -> tuple[list[Item], int]:
    """The whole items at the start of `data`, numbered from `first`, and the bytes they took."""
    items: list[Item] = []
    at, end, size = 0, len(data), HEADER.size
    unpack, new_item = HEADER.unpack_from, tuple.__new__
    while at + size <= end:
        kind, flags, key, value, length = unpack(data, at)
        if at + size + length > end:
            break
        payload: Any = bytes(data[at + size : at + size + length])
        if kind in (OPEN, UPDATE):
            payload = pickle.loads(payload)
        # tuple.__new__: NamedTuple's own constructor costs ~0.5 µs an item.
        items.append(new_item(Item, (kind, key, flags, value, payload, first + len(items))))
        at += size + length
    return items, at
