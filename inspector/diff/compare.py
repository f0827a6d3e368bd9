"""From two streams of events to a `DiffReport`: scan each side once, align, report.

Pure: no I/O. `SideScan.feed` takes one side's events in seq order (all of them: the turn
model needs every event); `build_turns` runs over the same stream, so a side is read once.
`compare` aligns two scans; `make_report` adds the field differences of the changed pairs (whose
normalised values the caller reads back, see `changed_seqs`) and the timing.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

import orjson

from inspector.diff.align import Pair, align_events, align_turns
from inspector.diff.fields import FieldDiff, field_diffs
from inspector.diff.normalise import DiffOptions, Normaliser, alignment_key
from inspector.diff.report import TIMINGS, Counts, DiffReport, RowKind, Rows, SideInfo, TurnDiff
from inspector.protocol import Direction, Opcode
from inspector.turns import Trigger, Turn, TurnEvent, build_turns

__all__ = [
    "Alignment",
    "KeyTable",
    "SideScan",
    "TurnSummary",
    "changed_seqs",
    "compare",
    "digest",
    "make_report",
    "normalised_values",
    "parse_frame",
]

_CONTEXT = 3  # rows shown before and after the first divergence
_SLOW_FLOOR_MS = 50.0  # a turn is slower only by a factor AND this much: jitter is not a regression


class KeyTable:
    """Alignment keys ("server response.done") as small ints shared by both sides; the low bit
    of an id is its direction, so alignment can tell directions apart without the table."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []  # key id // 2 → key

    def id(self, key: str, direction: Direction) -> int:
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = 2 * len(self.names) + (direction == Direction.SERVER)
            self.names.append(key)
        return found

    def name(self, key_id: int) -> str:
        return self.names[key_id // 2]

    def sort(self) -> list[int]:
        """Renumber the keys in name order; returns the old id → new id map. Ids then depend
        only on which keys the two sides hold, not on which side was scanned first, which the
        alignment's canonical orientation needs for diff(B, A) to mirror diff(A, B)."""
        order = sorted(range(len(self.names)), key=self.names.__getitem__)
        remap = [0] * (2 * len(self.names))
        for new, old in enumerate(order):
            remap[2 * old], remap[2 * old + 1] = 2 * new, 2 * new + 1
        self.names = [self.names[old] for old in order]
        self.ids = {name: remap[found] for name, found in self.ids.items()}
        return remap


def parse_frame(frame: str | bytes | None, opcode: Opcode) -> Any:
    """The frame as JSON, or None (binary, not JSON)."""
    if frame is None or opcode != Opcode.TEXT:
        return None
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None


def digest(value: Any) -> int:
    """A 64-bit fingerprint of a normalised value: what equal pairs are told apart by (only the
    few changed pairs are compared field by field). The same in every process (not `hash()`,
    which is seeded per process): the two sides of a large diff are scanned in two."""
    fingerprint = blake2b(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=8).digest()
    return int.from_bytes(fingerprint, "little", signed=True)


@dataclass
class SideScan:
    """One side, scanned: per compared event its seq, key and digest (compact arrays), the
    session's turns (as `TurnSummary`), and the normaliser (its id numbering re-normalises
    changed events later)."""

    options: DiffOptions
    keys: KeyTable
    wanted: list[int] | None = None  # seqs the --filter kept (ascending); None keeps all
    normaliser: Normaliser = field(init=False)
    seqs: array[int] = field(default_factory=lambda: array("q"))
    key_ids: array[int] = field(default_factory=lambda: array("i"))
    digests: array[int] = field(default_factory=lambda: array("q"))
    turns: list[TurnSummary] = field(default_factory=list)
    events: int = 0

    def __post_init__(self) -> None:
        self.normaliser = Normaliser(self.options)
        self._next_wanted = 0

    def feed(self, events: Iterable[Any]) -> None:
        """Scan every event of the session (objects with seq, direction, type, opcode, frame)."""
        self.turns = [TurnSummary.of(turn) for turn in build_turns(self._pairs(events))]

    def _pairs(self, events: Iterable[Any]) -> Iterator[tuple[TurnEvent, Any]]:
        # Per (direction, type): its key id, or None when the type is skipped. A session has a
        # few dozen of them and a million events: globs and key names are worked out once.
        key_of: dict[tuple[Direction, str | None], int | None] = {}
        normalise, seqs, key_ids, digests = self.normaliser.event, self.seqs, self.key_ids, self.digests
        for ev in events:
            data = parse_frame(ev.frame, ev.opcode)
            self.events += 1
            kind = (ev.direction, ev.type)
            key_id = key_of[kind] if kind in key_of else key_of.setdefault(kind, self._key_id(*kind))
            if key_id is not None and (self.wanted is None or self._selected(ev.seq)):
                value = normalise(ev.type, data, ev.frame, audio_size=getattr(ev, "audio_size", None))
                seqs.append(ev.seq)
                key_ids.append(key_id)
                digests.append(digest(value))
            yield ev, data

    def _key_id(self, direction: Direction, event_type: str | None) -> int | None:
        if self.options.skips(event_type or ""):
            return None
        return self.keys.id(alignment_key(direction, event_type, self.options.mode), direction)

    def _selected(self, seq: int) -> bool:
        if self.wanted is None:
            return True
        wanted, at = self.wanted, self._next_wanted
        while at < len(wanted) and wanted[at] < seq:
            at += 1
        self._next_wanted = at
        return at < len(wanted) and wanted[at] == seq

    def segments(self) -> list[tuple[int, int]]:
        """[start, end) index ranges of the compared events: set-up, then one per turn."""
        bounds = [0]
        for turn in self.turns:
            at = bisect.bisect_left(self.seqs, turn.first_seq)
            bounds.append(max(at, bounds[-1]))  # barge-in input may precede the turn before
        bounds.append(len(self.seqs))
        return list(itertools.pairwise(bounds))

    def signatures(self) -> list[tuple[str, str]]:
        """What turns align on: set-up first, then each turn's trigger and the user's typed text
        (speech transcripts come from the model's side and may vary; the text does not)."""
        return [("setup", "")] + [
            (t.trigger.value, t.input_text if t.trigger == Trigger.USER_TEXT else "") for t in self.turns
        ]


@dataclass(frozen=True, slots=True)
class TurnSummary:
    """What a diff reads of a turn (`inspector.turns.Turn`, same names): a tenth of its memory,
    which a 1M-event side's 17,000 turns, sent back from a worker process, are glad of."""

    first_seq: int
    trigger: Trigger
    input_text: str
    to_created_ms: float | None
    to_first_output_ms: float | None
    to_done_ms: float | None

    @classmethod
    def of(cls, turn: Turn) -> TurnSummary:
        return cls(
            turn.first_seq,
            turn.trigger,
            turn.input_text,
            turn.to_created_ms,
            turn.to_first_output_ms,
            turn.to_done_ms,
        )


@dataclass
class Alignment:
    rows: Rows
    turn_pairs: list[Pair]
    turn_rows: list[tuple[int, int]]  # [first, end) rows of each turn pair


def compare(a: SideScan, b: SideScan) -> Alignment:
    """Align two scans (sharing one `KeyTable`): turns first, then events within each pair of
    turns."""
    remap = a.keys.sort()
    for scan in (a, b):
        scan.key_ids = array("i", map(remap.__getitem__, scan.key_ids))
    rows = Rows(keys=a.keys.names)
    seg_a, seg_b = a.segments(), b.segments()
    sig_a, sig_b = a.signatures(), b.signatures()
    turn_pairs = align_turns(sig_a, sig_b)
    turn_rows = []
    for t, (ta, tb) in enumerate(turn_pairs):
        first = len(rows)
        lo_a, hi_a = seg_a[ta] if ta is not None else (0, 0)
        lo_b, hi_b = seg_b[tb] if tb is not None else (0, 0)
        keys_a, keys_b = a.key_ids[lo_a:hi_a], b.key_ids[lo_b:hi_b]
        if keys_a == keys_b:  # the usual turn: event for event the same keys
            _append_pairs(rows, a, b, lo_a, lo_b, hi_a - lo_a, t)
            turn_rows.append((first, len(rows)))
            continue
        for i, j in align_events(keys_a, keys_b):
            ia = None if i is None else lo_a + i
            jb = None if j is None else lo_b + j
            _append_row(rows, a, b, ia, jb, t)
        turn_rows.append((first, len(rows)))
    return Alignment(rows, turn_pairs, turn_rows)


def _append_pairs(rows: Rows, a: SideScan, b: SideScan, i: int, j: int, n: int, turn: int) -> None:
    """Rows for A's events i.. paired one to one with B's j.. (same keys): what `_append_row`
    makes of `align_events`' identity, by whole arrays (a 1M-event diff is ~1M such rows)."""
    rows.kinds.extend(array("b", map(operator.ne, a.digests[i : i + n], b.digests[j : j + n])))  # 1 CHANGED
    rows.a_seqs.extend(a.seqs[i : i + n])
    rows.b_seqs.extend(b.seqs[j : j + n])
    rows.key_ids.extend(array("i", [key >> 1 for key in a.key_ids[i : i + n]]))
    rows.turns.extend(array("i", [turn]) * n)


def _append_row(rows: Rows, a: SideScan, b: SideScan, i: int | None, j: int | None, turn: int) -> None:
    if i is not None and j is not None:
        same = a.key_ids[i] == b.key_ids[j] and a.digests[i] == b.digests[j]
        kind = RowKind.EQUAL if same else RowKind.CHANGED
        rows.append(kind, a.seqs[i], b.seqs[j], a.key_ids[i] // 2, turn)
    elif i is not None:
        rows.append(RowKind.ONLY_A, a.seqs[i], 0, a.key_ids[i] // 2, turn)
    elif j is not None:
        rows.append(RowKind.ONLY_B, 0, b.seqs[j], b.key_ids[j] // 2, turn)


def changed_seqs(alignment: Alignment) -> tuple[list[int], list[int]]:
    """The seqs of A and of B whose normalised values `make_report` needs (changed pairs)."""
    rows = alignment.rows
    changed = [i for i, kind in enumerate(rows.kinds) if kind == RowKind.CHANGED]
    return sorted(rows.a_seqs[i] for i in changed), sorted(rows.b_seqs[i] for i in changed)


def make_report(
    alignment: Alignment,
    a: SideScan,
    b: SideScan,
    sides: tuple[SideInfo, SideInfo],
    values: tuple[dict[int, Any], dict[int, Any]],
) -> DiffReport:
    """The report: `values` holds the normalised values of `changed_seqs`, per side."""
    rows, options = alignment.rows, a.options
    changes: dict[int, tuple[FieldDiff, ...]] = {}
    for i, kind in enumerate(rows.kinds):
        if kind == RowKind.CHANGED:
            changes[i] = tuple(field_diffs(values[0].get(rows.a_seqs[i]), values[1].get(rows.b_seqs[i])))
    turns = [
        _turn_diff(rows, pair, span, a.turns, b.turns, options.slower_than)
        for pair, span in zip(alignment.turn_pairs, alignment.turn_rows)
    ]
    counts = _count(rows.kinds)
    first = next((i for i, kind in enumerate(rows.kinds) if kind != RowKind.EQUAL), None)
    context = range(0) if first is None else range(max(0, first - _CONTEXT), min(len(rows), first + _CONTEXT + 1))
    return DiffReport(
        mode=options.mode.value,
        a=sides[0],
        b=sides[1],
        ignored=options.ignored_paths,
        skipped_types=options.skipped_types,
        filter_text=options.filter_text,
        slower_than=options.slower_than,
        rows=rows,
        changes=changes,
        turns=turns,
        counts=counts,
        first_divergence=first,
        context=context,
    )


def _count(kinds: array[int]) -> Counts:
    return Counts(*(kinds.count(kind) for kind in (RowKind.EQUAL, RowKind.CHANGED, RowKind.ONLY_A, RowKind.ONLY_B)))


def _turn_diff(
    rows: Rows,
    pair: Pair,
    span: tuple[int, int],
    turns_a: list[TurnSummary],
    turns_b: list[TurnSummary],
    factor: float | None,
) -> TurnDiff:
    ta, tb = pair
    turn_a = turns_a[ta - 1] if ta else None  # index 0 is the set-up, turn N is index N
    turn_b = turns_b[tb - 1] if tb else None
    either = turn_a or turn_b
    a_timing, b_timing = _timing(turn_a), _timing(turn_b)
    slower: tuple[str, ...] = ()
    if factor is not None and turn_a is not None and turn_b is not None:
        slower = tuple(n for n, x, y in zip(TIMINGS, a_timing, b_timing) if _slower(x, y, factor))
    title = either.input_text if either is not None else ""
    return TurnDiff(
        a_turn=ta,
        b_turn=tb,
        trigger=either.trigger.value if either is not None else "setup",
        title=title,
        first_row=span[0],
        end_row=span[1],
        counts=_count(rows.kinds[span[0] : span[1]]),
        a_timing=a_timing,
        b_timing=b_timing,
        slower=slower,
    )


def _timing(turn: TurnSummary | None) -> tuple[float | None, float | None, float | None]:
    if turn is None:
        return (None, None, None)
    return (turn.to_created_ms, turn.to_first_output_ms, turn.to_done_ms)


def _slower(a: float | None, b: float | None, factor: float) -> bool:
    return a is not None and b is not None and b > a * factor and b - a >= _SLOW_FLOOR_MS


def normalised_values(scan: SideScan, events: Iterable[Any]) -> dict[int, Any]:
    """Normalised values of these events (read back from the store) with the ids numbered as
    in the scan: a changed pair is shown as it was compared."""
    return {
        ev.seq: scan.normaliser.event(
            ev.type, parse_frame(ev.frame, ev.opcode), ev.frame, audio_size=getattr(ev, "audio_size", None)
        )
        for ev in events
    }
