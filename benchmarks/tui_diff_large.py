"""The TUI's diff screen on two sessions of 1,000,000 events each: first paint of the aligned
rows once the report is ready, a jump to the next difference (n), a page down, and peak RSS.

    .venv/bin/python benchmarks/tui_diff_large.py [--events N] [--db PATH] [--keep]

The pair of sessions is the one `diff_scale.py` generates (the same conversation with new ids
and ~300 scattered differences); the diff itself is computed first (its time is diff_scale's
business, printed here for reference only), then the screen is shown with that report, headless
(`App.run_test`, 160×45). Target: first paint ≤ 0.5 s at 1M.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diff_scale import make_pair

FIRST_PAINT_TARGET = 0.5


async def measure(db: Path, a: int, b: int) -> dict[str, float]:
    from inspector.diff import DiffOptions, Side, diff_sides
    from inspector.store import Store
    from inspector.tui.app import make_app
    from inspector.tui.screens.diff import DiffScreen
    from inspector.tui.widgets.diff_list import DiffList

    results: dict[str, float] = {}
    with Store(db, create=False) as store:
        started = time.perf_counter()
        report = diff_sides(Side(store, a, str(a)), Side(store, b, str(b)), DiffOptions())
        results["diff (reference)"] = time.perf_counter() - started
    results["rows"] = len(report.rows)

    painted: list[float] = []
    original = DiffList.render_line

    def render_line(self, y):  # note when a row is painted
        if self.report is not None and not painted:
            painted.append(time.perf_counter())
        return original(self, y)

    DiffList.render_line = render_line  # type: ignore[method-assign]
    app = make_app(db)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        start = time.perf_counter()
        app.push_screen(DiffScreen(a, b, report=report))
        while not painted and time.perf_counter() - start < 30:
            await asyncio.sleep(0.001)
        results["first paint"] = painted[0] - start
        screen = app.screen
        diff_list = screen.diff_list

        async def timed(action) -> float:
            """The action and the repaint it causes (actions called directly: a Pilot key press
            alone costs ~60 ms)."""
            painted.clear()
            t = time.perf_counter()
            action()
            while not painted and time.perf_counter() - t < 10:
                await asyncio.sleep(0.001)
            return time.perf_counter() - t

        results["next difference (n)"] = await timed(screen.action_next_difference)
        results["page down"] = await timed(diff_list.action_page_down)
        results["last row (G)"] = await timed(diff_list.action_last)
    DiffList.render_line = original  # type: ignore[method-assign]
    results["peak RSS MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "inspector-tui-diff.db")
    parser.add_argument("--keep", action="store_true", help="reuse --db if it holds the pair; keep it afterwards")
    args = parser.parse_args()
    if not (args.keep and args.db.exists()):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        a, b = make_pair(args.db, args.events)
        print(f"generated 2 × {args.events:,} events in {time.perf_counter() - started:.0f} s (not counted)")
    else:
        a, b = 1, 2
    results = asyncio.run(measure(args.db, a, b))
    print(f"{'measure':28} {'value':>12}  target")
    for name, value in results.items():
        if name in ("rows",):
            print(f"{name:28} {value:>12,.0f}")
        elif name == "peak RSS MB":
            print(f"{name:28} {value:>10.0f}MB")
        else:
            target = f"≤ {FIRST_PAINT_TARGET * 1000:.0f}ms  {'ok' if value <= FIRST_PAINT_TARGET else 'MISSED'}"
            print(f"{name:28} {value * 1000:>10.1f}ms  {target if name == 'first paint' else ''}")
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
