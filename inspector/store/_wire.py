"""How the tap hands items to its writer process, and how they are numbered.

The event loop queues one tuple per item; the feeder thread pickles what is queued as one list
(pickle's C code: ~0.5 µs a frame; encoding each frame as a header and raw bytes in Python cost
~1.1 µs, measured) and writes it down the pipe. Items, `(kind, key, flags, value, payload)`:

    OPEN    key, payload: `create_session` fields
    FRAME   key, flags: 1 from the server, value: t_ns, payload: the frame (str: text, bytes: binary)
    UPDATE  key, payload: `update_session` fields
    LOST    key, value: frames the tap could not hand over (its own queue was full)
    ADOPT   key, value: the row id of a session a writer that died was recording

where `key` is the recorder's name for a session until its row id is known. The writer numbers
the items it reads 0, 1, 2, ... and acknowledges by number what it committed; the tap keeps what
was not acknowledged, to send it again to a new writer if this one dies.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, NamedTuple

__all__ = [
    "ADOPT",
    "FRAME",
    "LOST",
    "OPEN",
    "UPDATE",
    "WRITER_DB_ENV",
    "Entry",
    "Item",
    "dump",
    "load",
    "numbered",
    "write_all",
]

OPEN, FRAME, UPDATE, LOST, ADOPT = 0, 1, 2, 3, 4

# Where the writer process finds its database: in its environment, not its argv.
WRITER_DB_ENV = "INSPECTOR_WRITER_DB"

Entry = tuple[int, int, int, int, Any]  # (kind, key, flags, value, payload), as the tap queues it


class Item(NamedTuple):
    """One item as the writer holds it; `number` counts the items this writer has read."""

    kind: int
    key: int
    flags: int
    value: int
    payload: Any  # a frame (str or bytes), a session row's fields (a dict), or None
    number: int


def dump(entries: list[Entry]) -> bytes:
    return pickle.dumps(entries, protocol=pickle.HIGHEST_PROTOCOL)


def load(data: bytes) -> list[Entry]:
    entries: list[Entry] = pickle.loads(data)
    return entries


def numbered(entries: list[Entry], first: int) -> list[Item]:
    # tuple.__new__: NamedTuple's own constructor (Python code) costs ~0.5 µs an item.
    new = tuple.__new__
    return [new(Item, (*entry, number)) for number, entry in enumerate(entries, first)]


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to a blocking pipe (`OSError` if it is closed)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
