"""Renderers of a `DiffReport`: a terminal summary, markdown for a pull request, JSON.

Pure: each takes the report and returns text; none recomputes what the report holds.
"""

from __future__ import annotations

from typing import Any

import click
import orjson

from inspector.diff.fields import MISSING
from inspector.diff.report import TIMINGS, DiffReport, Row, RowKind, TurnDiff

__all__ = ["SHOWN", "render_json", "render_markdown", "render_text"]

SHOWN = 100  # differences listed in text and markdown; JSON lists them all
_VALUE_WIDTH = 70
_MARKS = {RowKind.EQUAL: " ", RowKind.CHANGED: "~", RowKind.ONLY_A: "-", RowKind.ONLY_B: "+"}
_COLOURS = {RowKind.EQUAL: None, RowKind.CHANGED: "yellow", RowKind.ONLY_A: "red", RowKind.ONLY_B: "green"}
_TIMING_NAMES = {"to_created_ms": "→created", "to_first_output_ms": "→output", "to_done_ms": "→done"}


def render_json(report: DiffReport) -> str:
    return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode()


def _value(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    text = orjson.dumps(value).decode()
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _verdict(report: DiffReport) -> str:
    c = report.counts
    if report.equivalent:
        return f"EQUIVALENT under {report.mode}: {c.equal:,} events equal"
    slow = len(report.slow_turns)
    parts = [f"{c.changed:,} changed", f"{c.only_a:,} only in A", f"{c.only_b:,} only in B", f"{c.equal:,} equal"]
    if slow:
        parts.append(f"{slow} turn{'s' if slow > 1 else ''} slower")
    return f"DIFFERENT under {report.mode}: " + ", ".join(parts)


def _side(label: str, report: DiffReport) -> str:
    side = report.a if label == "A" else report.b
    what = "file" if side.from_file else "session"
    return f"{label}: {what} {side.name} ({side.events:,} events, {side.compared:,} compared, {side.turns} turn{'' if side.turns == 1 else 's'})"


def _row_line(report: DiffReport, row: Row) -> str:
    a = f"A#{row.a_seq}" if row.a_seq else ""
    b = f"B#{row.b_seq}" if row.b_seq else ""
    return f"{_MARKS[row.kind]} {a:>9} {b:>9}  {row.key}"


def _timing_line(turn: TurnDiff) -> str:
    parts = []
    for name, a, b in zip(TIMINGS, turn.a_timing, turn.b_timing):
        mark = " SLOWER" if name in turn.slower else ""
        parts.append(f"{_TIMING_NAMES[name]} {_ms(a)} / {_ms(b)} ms{mark}")
    return "timing A / B: " + ", ".join(parts)


def render_text(report: DiffReport, *, color: bool = False) -> str:
    """The terminal summary: verdict, sides, options, first divergence, then each turn that
    differs with its rows and field differences (the first `SHOWN`), and its timing."""

    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    lines = [
        style(_verdict(report), bold=True, fg="green" if report.equivalent else "red"),
        _side("A", report),
        _side("B", report),
        "ignoring " + ", ".join(report.ignored) if report.ignored else "ignoring nothing",
    ]
    if report.skipped_types:
        lines.append("skipping types " + ", ".join(report.skipped_types))
    if report.filter_text:
        lines.append(f"filter {report.filter_text}")
    if report.first_divergence is not None:
        first = report.rows.row(report.first_divergence)
        lines += ["", style(f"first divergence in {report.turns[first.turn].label}:", bold=True)]
        for i in report.context:
            row = report.rows.row(i)
            lines.append(style(("→ " if i == first.at else "  ") + _row_line(report, row), fg=_COLOURS[row.kind]))
    shown = 0
    for turn in report.turns:
        if turn.equivalent:
            continue
        title = f' "{turn.title}"' if turn.title else ""
        counts = turn.counts
        lines += ["", style(f"{turn.label} ({turn.trigger}){title}", bold=True)]
        lines.append(f"  {counts.changed} changed, {counts.only_a} only in A, {counts.only_b} only in B")
        for i in range(turn.first_row, turn.end_row):
            row = report.rows.row(i)
            if row.kind == RowKind.EQUAL:
                continue
            shown += 1
            if shown > SHOWN:
                break
            lines.append(style("  " + _row_line(report, row), fg=_COLOURS[row.kind]))
            for diff in report.changes.get(i, ()):
                lines.append(f"        {diff.path}: {_value(diff.a)} → {_value(diff.b)}")
        if any(v is not None for v in (*turn.a_timing, *turn.b_timing)):
            lines.append("  " + style(_timing_line(turn), fg="magenta" if turn.slower else None))
        if shown > SHOWN:
            break
    if shown > SHOWN:
        lines += ["", f"… {report.counts.differences - SHOWN:,} more differences (--json lists them all)"]
    return "\n".join(lines)


def render_markdown(report: DiffReport) -> str:
    """A pull-request comment: verdict, a turns table with timing, the differences."""
    icon = "✅" if report.equivalent else "❌"
    lines = [
        f"### {icon} {_verdict(report)}",
        "",
        f"- {_side('A', report)}",
        f"- {_side('B', report)}",
        f"- ignoring {', '.join(f'`{p}`' for p in report.ignored) or 'nothing'}",
    ]
    if report.skipped_types:
        lines.append(f"- skipping types {', '.join(f'`{g}`' for g in report.skipped_types)}")
    if report.filter_text:
        lines.append(f"- filter `{report.filter_text}`")
    lines += ["", "| turn | trigger | changed | only A | only B | " + " | ".join(_TIMING_NAMES.values()) + " |"]
    lines.append("|---|---|--:|--:|--:|" + "--:|" * len(TIMINGS))
    for turn in report.turns:
        timing = [
            f"{_ms(a)} / {_ms(b)}" + (" **slower**" if name in turn.slower else "")
            for name, a, b in zip(TIMINGS, turn.a_timing, turn.b_timing)
        ]
        c = turn.counts
        lines.append(
            f"| {turn.label} | {turn.trigger} | {c.changed} | {c.only_a} | {c.only_b} | " + " | ".join(timing) + " |"
        )
    rows = report.difference_rows()
    if rows:
        lines += ["", f"<details><summary>{len(rows):,} differences</summary>", ""]
        lines += ["| | turn | A | B | event | what differs |", "|---|---|--:|--:|---|---|"]
        for i in rows[:SHOWN]:
            row = report.rows.row(i)
            what = "<br>".join(
                f"`{d.path}`: `{_value(d.a)}` → `{_value(d.b)}`".replace("|", "\\|") for d in report.changes.get(i, ())
            )
            a, b = row.a_seq or "", row.b_seq or ""
            lines.append(f"| {_MARKS[row.kind]} | {report.turns[row.turn].label} | {a} | {b} | `{row.key}` | {what} |")
        if len(rows) > SHOWN:
            lines += ["", f"… {len(rows) - SHOWN:,} more (run with `--json` for all of them)"]
        lines += ["", "</details>"]
    return "\n".join(lines)
