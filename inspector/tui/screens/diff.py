"""Two sessions compared (`inspector.diff`): aligned rows side by side, the field-level
difference of the highlighted pair, the turns' timings, `n`/`N` between differences and `m` to
switch the mode. A side is a session of the database or a file (imported into a temporary
database that lives as long as the screen)."""

from __future__ import annotations

import tempfile
import time
from array import array
from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from inspector.diff import MISSING, DiffOptions, DiffReport, Mode, RowKind, Side, diff_sides
from inspector.store import Event, Store
from inspector.tui.db import worker_store
from inspector.tui.widgets._keys import HELP_BINDING
from inspector.tui.widgets.diff_list import DiffList, EventReader

__all__ = ["DiffScreen", "DiffSource"]

DiffSource = int | Path  # a session id of the app's database, or a file to import
_MODES = (Mode.CONTENT, Mode.STRUCTURE, Mode.EXACT)
_VALUE_WIDTH = 200


class DiffScreen(Screen[None]):
    NAMESPACE = "diff"
    HELP_SECTION = "Diff"
    BINDINGS = [
        HELP_BINDING,
        Binding("n", "next_difference", "Next diff"),
        Binding("N", "previous_difference", "Prev diff"),
        Binding("m", "switch_mode", "Mode"),
        Binding("d", "toggle_detail", "Detail pane"),
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    DiffScreen > #diff-title { height: 2; padding: 0 1; background: $primary-background; }
    DiffScreen #diff-body { height: 1fr; }
    DiffScreen DiffList { width: 2fr; }
    DiffScreen #diff-detail { width: 1fr; border-left: solid $primary; padding: 0 1; }
    DiffScreen.-no-detail #diff-detail { display: none; }
    /* Which pane has the keys: its top rule and title light up (as on the session screen). */
    DiffScreen DiffList, DiffScreen #diff-detail {
        border-top: hkey $border-blurred; border-title-color: $text-muted;
    }
    DiffScreen DiffList:focus, DiffScreen #diff-detail:focus {
        border-top: hkey $border; border-title-color: $text; border-title-style: bold;
    }
    """

    def __init__(
        self, a: DiffSource, b: DiffSource, mode: Mode = Mode.CONTENT, *, report: DiffReport | None = None
    ) -> None:
        """`report`: one already computed for these sessions and mode (shown at once)."""
        super().__init__()
        self.sources = (a, b)
        self.mode = mode
        self.report: DiffReport | None = None
        self._given = report
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._imported: dict[Path, int] = {}  # file → its session id in the temporary database
        self._tmp_store: Store | None = None  # the UI thread's connection to it
        self._started = 0.0
        self._differences = array("q")  # the rows that differ, in order

    def compose(self) -> ComposeResult:
        yield Static("", id="diff-title", markup=False)
        with Horizontal(id="diff-body"):
            yield DiffList(id="diff-list")
            with VerticalScroll(id="diff-detail"):
                yield Static("", id="diff-detail-text", markup=False)
        yield Footer()

    @property
    def diff_list(self) -> DiffList:
        return self.query_one(DiffList)

    def on_mount(self) -> None:
        self.diff_list.border_title = "A | B"
        self.query_one("#diff-detail").border_title = "Detail"
        self.diff_list.focus()
        self.set_interval(0.5, self._tick)
        if self._given is not None and all(isinstance(s, int) for s in self.sources):
            self._show(self._given, self.mode)
        else:
            self.run_diff(self.mode)

    def on_unmount(self) -> None:
        self.workers.cancel_group(self, "diff")
        if self._tmp_store is not None:
            self._tmp_store.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- computing -------------------------------------------------------------------------

    def _side_name(self, source: DiffSource) -> str:
        return f"session {source}" if isinstance(source, int) else str(source)

    def _title(self, status: str) -> None:
        a, b = (self._side_name(s) for s in self.sources)
        self.query_one("#diff-title", Static).update(f"diff · A: {a} · B: {b} · mode {self.mode.value}\n{status}")

    def _tick(self) -> None:
        if self.report is None and self._started:
            self._title(f"comparing… {time.monotonic() - self._started:.0f} s")

    @work(thread=True, exclusive=True, group="diff")
    def run_diff(self, mode: Mode) -> None:
        self._started = time.monotonic()
        self.app.call_from_thread(self._title, "comparing…")
        sides: list[Side] = []
        try:
            sides += [self._side(source) for source in self.sources]
            report = diff_sides(sides[0], sides[1], DiffOptions(mode=mode))
        except Exception as exc:  # unknown session, unreadable file, damaged database
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._failed, str(exc))
            return
        finally:
            for side in sides:
                if side.from_file:
                    side.store.close()  # this thread's connection to the temporary database
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, report, mode)

    def _side(self, source: DiffSource) -> Side:
        """A side for this worker thread: the app's database through the thread's connection,
        or a file imported (once) into the screen's temporary database."""
        if isinstance(source, int):
            return Side(worker_store(self.app), source, str(source))
        from inspector.formats import import_files

        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="inspector-diff-")
        store = Store(Path(self._tmp.name) / "sides.db")
        if source not in self._imported:
            imported = import_files(store, [source])
            if not imported:
                store.close()
                raise ValueError(f"{source}: no session in this file")
            self._imported[source] = imported[0].session_id
        return Side(store, self._imported[source], str(source), from_file=True)

    def _failed(self, error: str) -> None:
        self._started = 0.0
        self._title(f"cannot compare: {error}")
        self.notify(f"cannot compare: {error}", severity="error", markup=False)

    def _show(self, report: DiffReport, mode: Mode) -> None:
        if mode is not self.mode:
            return
        self.report, self._started = report, 0.0
        c = report.counts
        verdict = "equivalent" if report.equivalent else "different"
        slow = f" · {len(report.slow_turns)} slower turn(s)" if report.slow_turns else ""
        self._title(
            f"{verdict} · {c.equal:,} equal · {c.changed:,} changed · {c.only_a:,} only in A · "
            f"{c.only_b:,} only in B · {len(report.turns)} turns{slow}"
        )
        first = report.first_divergence if report.first_divergence is not None else 0
        self._differences = array("q", report.difference_rows())  # n/N bisect it
        self.diff_list.show(report, self._reader(0), self._reader(1), row=first)

    def _reader(self, index: int) -> EventReader:
        source = self.sources[index]
        if isinstance(source, int):
            store: Store = self.app.store  # type: ignore[attr-defined]
            return lambda seqs: store.events_at(source, seqs)
        if self._tmp_store is None:
            assert self._tmp is not None
            self._tmp_store = Store(Path(self._tmp.name) / "sides.db", create=False)
        tmp_store, session_id = self._tmp_store, self._imported[source]
        return lambda seqs: tmp_store.events_at(session_id, seqs)

    # -- the highlighted row ---------------------------------------------------------------

    def on_diff_list_row_highlighted(self, message: DiffList.RowHighlighted) -> None:
        detail = self.query_one("#diff-detail-text", Static)
        if self.report is None or message.row is None:
            detail.update("no rows" if self.report is not None else "")
            return
        detail.update(self._detail(message.row))

    def _detail(self, row: int) -> Text:
        assert self.report is not None
        report = self.report
        r = report.rows.row(row)
        turn = report.turns[r.turn]
        out = Text()
        out.append(f"{turn.label} · {r.key} · {r.kind.label}\n", style="bold")
        for name, a_ms, b_ms in zip(("→created", "→output", "→done"), turn.a_timing, turn.b_timing, strict=True):
            out.append(f"{name} {_ms(a_ms)} / {_ms(b_ms)} ms  ")
        if turn.slower:
            out.append("B slower", style="bold red")
        out.append("\n")
        if r.kind == RowKind.CHANGED:
            for change in report.changes.get(row, ()):
                out.append(f"{change.path}\n", style="bold")
                out.append(f"  A: {_value(change.a)}\n", style="red")
                out.append(f"  B: {_value(change.b)}\n", style="green")
        else:
            for label, ev in zip("AB", self.diff_list.events_at(row), strict=True):
                if ev is not None:
                    out.append(f"{label} #{ev.seq}: {_summary(ev)}\n")
        return out

    # -- keys ------------------------------------------------------------------------------

    def _jump(self, forward: bool) -> None:
        if self.report is None:
            return
        rows, at = self._differences, self.diff_list.cursor
        i = bisect_right(rows, at) if forward else bisect_left(rows, at) - 1
        target = rows[i] if 0 <= i < len(rows) else None
        if target is None:
            self.notify(f"no {'next' if forward else 'previous'} difference", timeout=2)
            return
        self.diff_list.move_cursor(target, center=True)

    def action_next_difference(self) -> None:
        self._jump(True)

    def action_previous_difference(self) -> None:
        self._jump(False)

    def action_switch_mode(self) -> None:
        self.mode = _MODES[(_MODES.index(self.mode) + 1) % len(_MODES)]
        self.report = None
        self.run_diff(self.mode)

    def action_toggle_detail(self) -> None:
        self.toggle_class("-no-detail")

    def action_back(self) -> None:
        self.app.pop_screen()


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _value(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    import orjson

    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _summary(ev: Event) -> str:
    return f"{ev.direction.arrow} {ev.type or '?'}" + (f"  {ev.summary}" if ev.summary else "")
