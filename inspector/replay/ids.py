"""Which ids a server generated, and how a recorded one maps to the one a target generates now.

Pure: no I/O. The original and the replay go through the same rules, so that an id is named the
same way on both sides: by the turn it first appeared in, its kind (item, response, call) and
its position among the ids of that kind the server generated in that turn ("the 1st call of
turn 3"). The original's `call_uMNE…` and the mock's `call_Xy12…` both get that name, and the
map joins them.

An id first seen in a frame the client sent is the client's own choice (a client may name its
items): it is never remapped, on either side.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["IdKey", "IdKind", "IdNamer", "client_references", "remap_frame", "server_ids"]


class IdKind(str, enum.Enum):
    ITEM = "item"
    RESPONSE = "response"
    CALL = "call"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class IdKey:
    """A server-generated id named by where it appeared: the n-th (1-based) of its kind in a turn."""

    turn: int
    kind: IdKind
    ordinal: int

    def __str__(self) -> str:
        return f"{self.kind} #{self.ordinal} of turn {self.turn}"


# The fields of a server event that carry generated ids, in the order they are read (the order
# fixes the ordinals, so it must be the same for the original and the replay).
_TOP_FIELDS = (
    ("item_id", IdKind.ITEM),
    ("previous_item_id", IdKind.ITEM),
    ("response_id", IdKind.RESPONSE),
    ("call_id", IdKind.CALL),
)
_ITEM_FIELDS = (("id", IdKind.ITEM), ("call_id", IdKind.CALL))
# Keys under which a client frame may refer to an id the server made (`id` inside an item or an
# `item_reference`; the others anywhere).
_REFERENCE_KEYS = frozenset({"item_id", "previous_item_id", "response_id", "call_id", "id"})


def _items_of(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    item = data.get("item")
    if isinstance(item, dict):
        yield item
    response = data.get("response")
    if isinstance(response, dict):
        for out in response.get("output") or ():
            if isinstance(out, dict):
                yield out


def server_ids(data: Any) -> list[tuple[IdKind, str]]:
    """The ids in a server event, each with its kind, in a fixed order."""
    if not isinstance(data, dict):
        return []
    found: list[tuple[IdKind, str]] = []
    response = data.get("response")
    if isinstance(response, dict) and isinstance(response.get("id"), str):
        found.append((IdKind.RESPONSE, response["id"]))
    for item in _items_of(data):
        found += [(kind, item[key]) for key, kind in _ITEM_FIELDS if isinstance(item.get(key), str)]
    found += [(kind, data[key]) for key, kind in _TOP_FIELDS if isinstance(data.get(key), str)]
    return [(kind, value) for kind, value in found if value]


def client_references(data: Any) -> Iterator[str]:
    """Every string a client frame holds under an id key (`call_id`, `item_id`, `previous_item_id`,
    `response_id`, `id`), at any depth: the candidates for remapping."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in _REFERENCE_KEYS and isinstance(value, str):
                yield value
            elif isinstance(value, dict | list):
                yield from client_references(value)
    elif isinstance(data, list):
        for value in data:
            yield from client_references(value)


class IdNamer:
    """Names the ids one side's server generates, as they appear (one per side)."""

    def __init__(self) -> None:
        self.client_ids: set[str] = set()  # first seen in a client frame: the client's own
        self.keys: dict[str, IdKey] = {}
        self._counts: dict[tuple[int, IdKind], int] = {}

    def client_sent(self, data: Any) -> None:
        for value in client_references(data):
            if value not in self.keys:
                self.client_ids.add(value)

    def server_sent(self, turn: int, data: Any) -> list[tuple[IdKey, str]]:
        """Name the ids this event shows for the first time; returns the new (key, id) pairs."""
        new = []
        for kind, value in server_ids(data):
            if value in self.keys or value in self.client_ids:
                continue
            ordinal = self._counts[(turn, kind)] = self._counts.get((turn, kind), 0) + 1
            key = self.keys[value] = IdKey(turn, kind, ordinal)
            new.append((key, value))
        return new


def remap_frame(frame: str, mapping: dict[str, str]) -> str:
    """The frame with each recorded id replaced by its new one, byte for byte otherwise: the
    quoted JSON string is replaced wherever it appears (ids are letters, digits and `_`, which
    JSON never escapes, and are random enough never to collide with other text)."""
    for old, new in mapping.items():
        frame = frame.replace(f'"{old}"', f'"{new}"')
    return frame
