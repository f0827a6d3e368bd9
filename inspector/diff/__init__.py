"""Diff: compare two recorded sessions, event by event and turn by turn.

    from inspector.diff import DiffOptions, Mode, Side, diff_sides
    report = diff_sides(Side(store, 3, "3"), Side(store, 7, "7"), DiffOptions(mode=Mode.CONTENT))
    report.equivalent, report.counts, report.rows.row(0), report.changes, report.turns

Three pure steps and a thin shell:

1. `normalise` (streaming, one event at a time): drops `event_id`, `obfuscation` and the
   volatile values of `DEFAULT_IGNORE`, replaces audio by its decoded length and generated ids
   by placeholders numbered per kind in order of first appearance (`<item 1>`, `<resp 2>`), so
   two recordings of one conversation compare equal. `structure` mode keeps only what a live
   model keeps stable (types, statuses, tool names and arguments, error codes; text and audio
   as present/absent; no deltas).
2. `compare` scans each side ONCE: per compared event it keeps only its seq, its alignment key
   (direction and type, a small int) and a 64-bit digest of its normalised value, in `array`s,
   while the same stream feeds `inspector.turns.build_turns`. `align` pairs turns, then events
   within each pair of turns (see `align.py` for why that stays near linear). Only the changed
   pairs are read back from the store, to list their field differences.
3. `report`: a `DiffReport` value. The text, JSON and markdown renderers (`render.py`) and the
   TUI diff screen format it; none of them recomputes anything.

`session.py` is the shell: it reads sides through the Store API (a file is imported into a
temporary database first); `scanning.py` scans the two sides, the smaller one in a worker
process while this one scans the other when both are large (at least 50,000 events), with the
audio measured by the store, not read back.
`cli.py` is `inspector diff`.

What a TUI screen consumes (`DiffReport`):

- `rows: Rows`, the aligned rows as parallel columns, not a list of objects, so that a
  1,000,000-event diff costs ~21 MB: `kinds[i]` (`RowKind`: EQUAL, CHANGED, ONLY_A, ONLY_B),
  `a_seqs[i]` / `b_seqs[i]` (0 is a gap on that side), `key_ids[i]` into `keys` ("server
  response.done") and `turns[i]` into `DiffReport.turns`. `rows.row(i)` gives one `Row`. A
  virtual list renders rows i..j from these arrays and pages the events' JSON from the store by
  seq, as the event list does.
- `changes: dict[row, tuple[FieldDiff, ...]]`: for each CHANGED row, the JSON paths that differ
  and both values (`MISSING` when one side lacks the field).
- `turns: list[TurnDiff]`: each pair of aligned turns (turn 0 is the set-up before the first
  turn) with its row range `first_row <= i < end_row`, its `Counts`, the three latencies on
  both sides (`TIMINGS`) and which of them are `slower`.
- `counts`, `first_divergence` (a row) with `context` (rows around it), `equivalent`, `mode`,
  `a`/`b` (`SideInfo`), and the options in force (`ignored`, `skipped_types`, `filter_text`,
  `slower_than`). `to_dict()` is the `--json` report.
"""

from __future__ import annotations

from inspector.diff.fields import MISSING, FieldDiff
from inspector.diff.normalise import DEFAULT_IGNORE, DiffOptions, Mode, PathError
from inspector.diff.report import TIMINGS, Counts, DiffReport, Row, RowKind, Rows, SideInfo, TurnDiff
from inspector.diff.session import Side, diff_sides, imported_side

__all__ = [
    "DEFAULT_IGNORE",
    "MISSING",
    "TIMINGS",
    "Counts",
    "DiffOptions",
    "DiffReport",
    "FieldDiff",
    "Mode",
    "PathError",
    "Row",
    "RowKind",
    "Rows",
    "Side",
    "SideInfo",
    "TurnDiff",
    "diff_sides",
    "imported_side",
]
