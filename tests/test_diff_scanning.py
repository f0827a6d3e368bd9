"""A large pair's sides are scanned in two processes: the report is the one a single process
makes, whichever side the worker takes, and a worker's failure is an error, not a hang."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_diff_cli import DEMO, edit_frame, edited_demo

from inspector.diff import DiffOptions, Mode, imported_side
from inspector.diff import scanning as scanning_module
from inspector.diff.session import diff_sides
from inspector.store import StoreError
from inspector.store.filter import compile_filter


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every side sent to a worker process; a threshold of one event sends one side of any pair."""
    started: list[Any] = []
    original = scanning_module._Worker.__init__

    def init(self: Any, side: Any, *args: Any) -> None:
        started.append(side)
        original(self, side, *args)

    monkeypatch.setattr(scanning_module._Worker, "__init__", init)
    monkeypatch.setattr(scanning_module, "PARALLEL_FROM", 1)
    return started


def test_a_pair_scanned_in_a_worker_process_gives_the_report_of_one_process(
    tmp_path: Path, workers: list[Any], monkeypatch: pytest.MonkeyPatch
):
    changed = edited_demo(tmp_path, "changed", edit_frame(26, lambda data: {**data, "text": "Something else."}))
    removed = edited_demo(tmp_path, "removed", edit_frame(31, lambda data: None))
    compiled = compile_filter("-type:response.output_text.done")
    cases = [
        (DEMO, changed, Mode.CONTENT, None),
        (removed, DEMO, Mode.CONTENT, None),
        (DEMO, removed, Mode.EXACT, None),
    ]
    cases.append((DEMO, changed, Mode.STRUCTURE, compiled))
    for path_a, path_b, mode, flt in cases:
        with imported_side(path_a) as a, imported_side(path_b) as b:
            options = DiffOptions(mode=mode)
            parallel = diff_sides(a, b, options, flt).to_dict()
            with monkeypatch.context() as alone:
                alone.setattr(scanning_module, "PARALLEL_FROM", 10**9)
                assert diff_sides(a, b, options, flt).to_dict() == parallel
    assert len(workers) == len(cases)
    assert {side.name for side in workers} == {str(removed), str(DEMO)}  # the smaller side, A or B


def test_the_diff_found_by_two_processes_is_the_planted_one(tmp_path: Path, workers: list[Any]):
    changed = edited_demo(tmp_path, "changed", edit_frame(26, lambda data: {**data, "text": "Something else."}))
    with imported_side(DEMO) as a, imported_side(changed) as b:
        report = diff_sides(a, b, DiffOptions())
    assert workers and (report.counts.changed, report.counts.only_a, report.counts.only_b) == (1, 0, 0)
    assert [d.path for d in report.changes[report.first_divergence or 0]] == ["$.text"]


def test_a_worker_that_cannot_read_its_side_raises_a_store_error(tmp_path: Path, workers: list[Any]):
    removed = edited_demo(tmp_path, "removed", edit_frame(31, lambda data: None))
    with imported_side(DEMO) as a, imported_side(removed) as b:
        b.store.path.unlink()  # this process keeps its open connection; the worker finds no file
        with pytest.raises(StoreError, match="no database"):
            diff_sides(a, b, DiffOptions())
    assert [side.name for side in workers] == [str(removed)]


def test_with_one_core_both_sides_are_scanned_here(tmp_path: Path, workers: list[Any], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(scanning_module.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    with imported_side(DEMO) as a, imported_side(DEMO) as b:
        assert diff_sides(a, b, DiffOptions()).equivalent
    assert workers == []
