"""The report: the one value that the text, JSON and markdown renderers (and the TUI) read.

Pure: no I/O. See the package docstring for its shape and why the rows are columns.
"""

from __future__ import annotations

import enum
from array import array
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from inspector.diff.fields import FieldDiff

__all__ = ["TIMINGS", "Counts", "DiffReport", "Row", "RowKind", "Rows", "SideInfo", "TurnDiff"]

# The latencies compared per turn, as named in `inspector.turns.Turn`.
TIMINGS = ("to_created_ms", "to_first_output_ms", "to_done_ms")


class RowKind(enum.IntEnum):
    EQUAL = 0
    CHANGED = 1
    ONLY_A = 2
    ONLY_B = 3

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {RowKind.EQUAL: "equal", RowKind.CHANGED: "changed", RowKind.ONLY_A: "only_a", RowKind.ONLY_B: "only_b"}


class Row(NamedTuple):
    """One aligned row, as `Rows.row(i)` hands it out: seqs are 0 for a gap."""

    at: int  # the row's index
    kind: RowKind
    a_seq: int
    b_seq: int
    key: str  # "client response.create", "server response.done"
    turn: int  # index into `DiffReport.turns`


@dataclass
class Rows:
    """Aligned rows as parallel compact arrays (21 bytes a row): a million rows is ~21 MB, not
    a million objects. Row i is (kinds[i], a_seqs[i], b_seqs[i], keys[key_ids[i]], turns[i])."""

    kinds: array[int] = field(default_factory=lambda: array("b"))
    a_seqs: array[int] = field(default_factory=lambda: array("q"))  # 0: a gap on A's side
    b_seqs: array[int] = field(default_factory=lambda: array("q"))
    key_ids: array[int] = field(default_factory=lambda: array("i"))
    turns: array[int] = field(default_factory=lambda: array("i"))
    keys: list[str] = field(default_factory=list)  # key id → "direction type"

    def __len__(self) -> int:
        return len(self.kinds)

    def append(self, kind: RowKind, a_seq: int, b_seq: int, key_id: int, turn: int) -> None:
        self.kinds.append(kind)
        self.a_seqs.append(a_seq)
        self.b_seqs.append(b_seq)
        self.key_ids.append(key_id)
        self.turns.append(turn)

    def row(self, index: int) -> Row:
        return Row(
            index,
            RowKind(self.kinds[index]),
            self.a_seqs[index],
            self.b_seqs[index],
            self.keys[self.key_ids[index]],
            self.turns[index],
        )


@dataclass(frozen=True)
class Counts:
    equal: int = 0
    changed: int = 0
    only_a: int = 0
    only_b: int = 0

    @property
    def differences(self) -> int:
        return self.changed + self.only_a + self.only_b

    def to_dict(self) -> dict[str, int]:
        return {"equal": self.equal, "changed": self.changed, "only_a": self.only_a, "only_b": self.only_b}


@dataclass(frozen=True)
class SideInfo:
    """One side as the user named it: a session of the database or a file (imported)."""

    name: str  # what the user typed: "3" or "golden.jsonl"
    session_id: int  # in the database, or in the temporary one a file was imported into
    from_file: bool
    events: int  # all of its events
    compared: int  # those compared (after --filter and --skip-type)
    turns: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "session_id": None if self.from_file else self.session_id,
            "file": self.name if self.from_file else None,
            "events": self.events,
            "compared": self.compared,
            "turns": self.turns,
        }


@dataclass(frozen=True)
class TurnDiff:
    """A pair of aligned turns (or a turn on one side only); number 0 is what comes before the
    first turn (session set-up). Its rows are `first_row <= i < end_row`."""

    a_turn: int | None
    b_turn: int | None
    trigger: str  # "user_text", "user_audio", "idle_timeout", "client", or "setup" for turn 0
    title: str  # the user's input, clipped, or "" when there is none
    first_row: int
    end_row: int
    counts: Counts
    a_timing: tuple[float | None, float | None, float | None]  # in the order of TIMINGS
    b_timing: tuple[float | None, float | None, float | None]
    slower: tuple[str, ...] = ()  # the TIMINGS in which B is slower than A by the factor

    @property
    def equivalent(self) -> bool:
        return self.counts.differences == 0 and not self.slower

    @property
    def label(self) -> str:
        """`turn 3`, `turn 3 ↔ 4` when the numbers differ, `set-up` for turn 0."""
        if self.a_turn == 0 or self.b_turn == 0:
            return "set-up"
        if self.a_turn == self.b_turn or self.b_turn is None:
            return f"turn {self.a_turn}"
        if self.a_turn is None:
            return f"turn {self.b_turn} (B)"
        return f"turn {self.a_turn} ↔ {self.b_turn}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "a_turn": self.a_turn,
            "b_turn": self.b_turn,
            "trigger": self.trigger,
            "title": self.title,
            "rows": [self.first_row, self.end_row],
            "counts": self.counts.to_dict(),
            "timing": {name: {"a": a, "b": b} for name, a, b in zip(TIMINGS, self.a_timing, self.b_timing)},
            "slower": list(self.slower),
        }


@dataclass
class DiffReport:
    """Everything a renderer shows; renderers format it and never recompute it."""

    mode: str
    a: SideInfo
    b: SideInfo
    ignored: tuple[str, ...]  # the JSON paths left out (defaults and --ignore, less --keep)
    skipped_types: tuple[str, ...]
    filter_text: str | None
    slower_than: float | None
    rows: Rows
    changes: dict[int, tuple[FieldDiff, ...]]  # row index → what differs, for CHANGED rows
    turns: list[TurnDiff]
    counts: Counts
    first_divergence: int | None  # the row index of the first difference
    context: range = range(0)  # rows around the first divergence worth showing with it

    @property
    def equivalent(self) -> bool:
        return self.counts.differences == 0 and not any(t.slower for t in self.turns)

    @property
    def slow_turns(self) -> list[TurnDiff]:
        return [t for t in self.turns if t.slower]

    def difference_rows(self) -> list[int]:
        """Indexes of the rows that are not equal, in order."""
        return [i for i, kind in enumerate(self.rows.kinds) if kind != RowKind.EQUAL]

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        """The `--json` report (shape documented in the README): every non-equal row with its
        turn, seqs, key and field differences; equal rows are only counted."""
        rows = self.difference_rows()
        shown = rows if limit is None else rows[:limit]
        return {
            "equivalent": self.equivalent,
            "mode": self.mode,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "ignored": list(self.ignored),
            "skipped_types": list(self.skipped_types),
            "filter": self.filter_text,
            "slower_than": self.slower_than,
            "counts": {**self.counts.to_dict(), "slow_turns": len(self.slow_turns)},
            "first_divergence": None if self.first_divergence is None else self.row_dict(self.first_divergence),
            "turns": [t.to_dict() for t in self.turns],
            "differences": [self.row_dict(i) for i in shown],
            "differences_left_out": len(rows) - len(shown),
        }

    def row_dict(self, index: int) -> dict[str, Any]:
        row = self.rows.row(index)
        turn = self.turns[row.turn]
        out: dict[str, Any] = {
            "row": index,
            "kind": row.kind.label,
            "turn": turn.label,
            "a_seq": row.a_seq or None,
            "b_seq": row.b_seq or None,
            "key": row.key,
        }
        if row.kind == RowKind.CHANGED:
            out["fields"] = [d.to_dict() for d in self.changes.get(index, ())]
        return out
