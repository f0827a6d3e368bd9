"""Alignment: which turn of A goes with which turn of B, then which event with which event.

Pure: no I/O. Both functions take plain sequences (turn signatures; event keys as small ints)
and return index pairs, with None for a gap on one side.

Cost stays near linear on long sessions: turns are aligned first (hundreds, not millions), and
inside a pair of turns the common prefix and suffix are paired without any search, so only the
part that differs goes through `difflib`; a part too large for it is paired in order.

Symmetry: both functions align in a canonical orientation (the smaller sequence first) and mirror
the answer when called the other way round, so diff(B, A) is exactly diff(A, B) mirrored: the
search's tie-breaking can never make the two directions disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from difflib import SequenceMatcher
from typing import TypeVar

__all__ = ["MAX_SEARCH", "Pair", "align_events", "align_turns", "same_direction"]

Pair = tuple[int | None, int | None]
_T = TypeVar("_T", bound=Hashable)

# Above this many cells (len(a) × len(b)) the middle of a turn is paired in order instead of
# searched: difflib's worst case is quadratic, and a turn that differs throughout gains nothing.
MAX_SEARCH = 1_000_000


def same_direction(a: int, b: int) -> bool:
    """Keys are numbered so that the low bit is the direction (see `compare.KeyTable`)."""
    return (a ^ b) & 1 == 0


def _canonical(
    a: Sequence[_T], b: Sequence[_T], align: Callable[[Sequence[_T], Sequence[_T]], list[Pair]]
) -> list[Pair]:
    if (len(a), list(a)) <= (len(b), list(b)):
        return align(a, b)
    return [(j, i) for i, j in align(b, a)]


def align_turns(a: Sequence[_T], b: Sequence[_T]) -> list[Pair]:
    """Pairs of turn indexes by signature: equal runs pair up, a replaced run pairs in order
    (a changed turn), what is left over is a turn only one side has."""
    return _canonical(a, b, _align_turns)


def _align_turns(a: Sequence[_T], b: Sequence[_T]) -> list[Pair]:
    pairs: list[Pair] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        common = min(i2 - i1, j2 - j1) if tag in ("equal", "replace") else 0
        pairs += [(i1 + k, j1 + k) for k in range(common)]
        pairs += [(i, None) for i in range(i1 + common, i2)]
        pairs += [(None, j) for j in range(j1 + common, j2)]
    return pairs


def align_events(a: Sequence[int], b: Sequence[int]) -> list[Pair]:
    """Pairs of event indexes within one pair of turns, by key (direction and type). Events whose
    type changed, in a replaced stretch of the same length and direction, pair up as changed.

    Each direction is aligned on its own, then the two are merged in A's order: the client's
    and the server's events are two streams, and where a client event falls among the server's
    depends on timing (a tool output sent while the call's item is still closing, a recording
    made at the tap or at the client), not on what either side said."""
    if len(a) == len(b) and list(a) == list(b):
        return [(i, i) for i in range(len(a))]
    return _canonical(a, b, _align_by_direction)


def _align_by_direction(a: Sequence[int], b: Sequence[int]) -> list[Pair]:
    streams = []
    for direction in (0, 1):
        at_a = [i for i, key in enumerate(a) if key & 1 == direction]
        at_b = [j for j, key in enumerate(b) if key & 1 == direction]
        pairs = _align_events([a[i] for i in at_a], [b[j] for j in at_b])
        streams.append([(None if i is None else at_a[i], None if j is None else at_b[j]) for i, j in pairs])
    return _merge(*streams)


def _merge(first: list[Pair], second: list[Pair]) -> list[Pair]:
    """Two streams of pairs, each in order, as one: the next row is the head that comes first in
    A when both heads have an A side, else in B; a row only in A goes before one only in B."""
    out: list[Pair] = []
    x = y = 0
    while x < len(first) and y < len(second):
        if _before(first[x], second[y]):
            out.append(first[x])
            x += 1
        else:
            out.append(second[y])
            y += 1
    return out + first[x:] + second[y:]


def _before(p: Pair, q: Pair) -> bool:
    if p[0] is not None and q[0] is not None:
        return p[0] < q[0]
    if p[1] is not None and q[1] is not None:
        return p[1] < q[1]
    return p[0] is not None


def _align_events(a: Sequence[int], b: Sequence[int]) -> list[Pair]:
    head = 0
    limit = min(len(a), len(b))
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    pairs: list[Pair] = [(i, i) for i in range(head)]
    mid_a, mid_b = a[head : len(a) - tail], b[head : len(b) - tail]
    for i, j in _align_middle(mid_a, mid_b):
        pairs.append((None if i is None else head + i, None if j is None else head + j))
    pairs += [(len(a) - tail + k, len(b) - tail + k) for k in range(tail)]
    return pairs


def _align_middle(a: Sequence[int], b: Sequence[int]) -> list[Pair]:
    if not a or not b:
        return [(i, None) for i in range(len(a))] + [(None, j) for j in range(len(b))]
    if len(a) * len(b) > MAX_SEARCH:
        return _in_order(a, b)
    pairs: list[Pair] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and _same_shape(a[i1:i2], b[j1:j2])):
            pairs += [(i1 + k, j1 + k) for k in range(i2 - i1)]
        else:
            pairs += [(i, None) for i in range(i1, i2)] + [(None, j) for j in range(j1, j2)]
    return pairs


def _same_shape(a: Sequence[int], b: Sequence[int]) -> bool:
    """A replaced stretch whose events pair up as changed: as long, and the same directions."""
    return len(a) == len(b) and all(same_direction(x, y) for x, y in zip(a, b))


def _in_order(a: Sequence[int], b: Sequence[int]) -> list[Pair]:
    """Position k with position k where the keys agree, a gap on each side where they do not."""
    pairs: list[Pair] = []
    for k in range(min(len(a), len(b))):
        pairs += [(k, k)] if a[k] == b[k] else [(k, None), (None, k)]
    return pairs + [(i, None) for i in range(len(b), len(a))] + [(None, j) for j in range(len(a), len(b))]
