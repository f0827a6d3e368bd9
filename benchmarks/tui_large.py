"""TUI on a 1,000,000-event session: first paint, jump to the end, an indexed filter, a full
text search in a cancellable worker (while the UI keeps answering), and peak RSS. With
`--sessions N`, the sessions screen on N sessions of ~100 events instead (benchmarks/_tui_sessions.py).

    python benchmarks/tui_large.py [--db PATH|URL] [--events N | --sessions N] [--keep]

The session is generated first, in a child process (so that generation neither counts in the
times nor in the peak RSS): a realistic mix of server-VAD turns with 20 ms audio appends,
audio and transcript deltas, items, responses and rate limits. With --keep and an existing
--db the database is reused. A PostgreSQL URL (`--db postgresql://...`) names an empty
database to generate into (or, with --keep, one generated before). Headless (`App.run_test`), 160×45.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _tui_sessions

from inspector.store.factory import is_url, show_db

TARGETS = {
    "first paint": 0.3,
    "jump to last": 0.1,
    "previous turn (first T)": 1.0,
    "indexed filter": 0.3,
    "full-text search": 3.0,
}
RSS_TARGET_MB = 100
WORDS = _tui_sessions.WORDS


def generate(path: Path | str, total: int) -> int:
    """Write one session of `total` events; returns its id."""
    import orjson

    from inspector.protocol import Direction
    from inspector.store import FrameIn, open_store

    rng = random.Random(7)
    audio = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(960))).decode()  # 20 ms

    def frames():
        seq = 0
        t = 0
        turn = 0
        while True:
            turn += 1
            item, resp = f"item_{turn:021d}", f"resp_{turn:021d}"
            block = []
            for _ in range(40):
                block.append((Direction.CLIENT, {"type": "input_audio_buffer.append", "audio": audio}))
            block += [
                (
                    Direction.SERVER,
                    {"type": "input_audio_buffer.speech_started", "audio_start_ms": t // 1_000_000, "item_id": item},
                ),
                (
                    Direction.SERVER,
                    {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": t // 1_000_000, "item_id": item},
                ),
                (Direction.SERVER, {"type": "input_audio_buffer.committed", "item_id": item, "previous_item_id": None}),
                (
                    Direction.SERVER,
                    {
                        "type": "conversation.item.added",
                        "item": {
                            "id": item,
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_audio", "transcript": None}],
                        },
                    },
                ),
                (
                    Direction.SERVER,
                    {
                        "type": "conversation.item.done",
                        "item": {
                            "id": item,
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_audio", "transcript": None}],
                        },
                    },
                ),
                (
                    Direction.SERVER,
                    {"type": "response.created", "response": {"id": resp, "status": "in_progress", "output": []}},
                ),
                (
                    Direction.SERVER,
                    {
                        "type": "response.output_item.added",
                        "response_id": resp,
                        "item": {"id": item + "a", "type": "message", "role": "assistant"},
                    },
                ),
            ]
            for i in range(24):
                word = "zebra" if turn % 1000 == 0 and i == 3 else rng.choice(WORDS)
                block.append(
                    (
                        Direction.SERVER,
                        {
                            "type": "response.output_audio_transcript.delta",
                            "response_id": resp,
                            "item_id": item + "a",
                            "delta": " " + word,
                            "obfuscation": "xyz",
                        },
                    )
                )
                block.append(
                    (
                        Direction.SERVER,
                        {
                            "type": "response.output_audio.delta",
                            "response_id": resp,
                            "item_id": item + "a",
                            "delta": audio,
                        },
                    )
                )
            status = "failed" if turn % 97 == 0 else "completed"
            block += [
                (Direction.SERVER, {"type": "response.output_audio.done", "response_id": resp, "item_id": item + "a"}),
                (
                    Direction.SERVER,
                    {
                        "type": "response.output_audio_transcript.done",
                        "response_id": resp,
                        "item_id": item + "a",
                        "transcript": "…",
                    },
                ),
                (Direction.SERVER, {"type": "response.done", "response": {"id": resp, "status": status, "output": []}}),
                (Direction.SERVER, {"type": "rate_limits.updated", "rate_limits": []}),
            ]
            for direction, data in block:
                seq += 1
                t += 20_000_000 if data["type"] == "input_audio_buffer.append" else 3_000_000
                yield FrameIn(direction, t, orjson.dumps(data).decode())
                if seq >= total:
                    return

    with open_store(path) as store:
        return store.import_session(frames(), source="tap", model="gpt-realtime", started_at=1735787045.0)


async def measure(path: Path, session_id: int) -> dict[str, float]:
    from inspector.tui.app import make_app
    from inspector.tui.screens.session import SessionScreen
    from inspector.tui.widgets.event_list import EventList

    rendered: dict[int, float] = {}
    original = EventList.render_line

    def render_line(self, y):  # note when each row is first painted
        row = self.scroll_offset.y + y
        rendered.setdefault(row, time.perf_counter())
        return original(self, y)

    EventList.render_line = render_line  # type: ignore[method-assign]
    results: dict[str, float] = {}
    app = make_app(path)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()

        async def wait(predicate, timeout=30.0):
            deadline = time.perf_counter() + timeout
            while not predicate():
                if time.perf_counter() > deadline:
                    raise TimeoutError
                await asyncio.sleep(0.001)

        # first paint: push the session screen, wait for its first row on screen
        rendered.clear()
        start = time.perf_counter()
        screen = app.open_session(session_id)
        await wait(lambda: 0 in rendered)
        results["first paint"] = rendered[0] - start
        assert isinstance(app.screen, SessionScreen)
        el = screen.event_list
        # the runs of deltas, found in a worker (the list shows every event until then)
        await wait(lambda: el._runs is not None)
        results["runs of deltas found (worker)"] = time.perf_counter() - start
        results["rows with runs collapsed"] = el.row_count
        await app.workers.wait_for_complete()
        await pilot.pause()

        # jump to the last event (G) and paint it
        rendered.clear()
        start = time.perf_counter()
        await pilot.press("G")
        await wait(lambda: el.row_count - 1 in rendered)
        results["jump to last"] = rendered[el.row_count - 1] - start
        assert el.cursor == el.row_count - 1  # the last row (a collapsed run when the session ends in one)

        # previous turn (T) from the end: the first press builds the turn starts (inspector.turns
        # over the boundary events only, an indexed filter), on the UI thread
        start = time.perf_counter()
        before = el.cursor_seq
        await pilot.press("T")
        await wait(lambda: el.cursor_seq != before)
        results["previous turn (first T)"] = time.perf_counter() - start

        # an indexed filter, until its rows are painted
        rendered.clear()
        start = time.perf_counter()
        screen.set_filter_text("type:response.done")
        await wait(lambda: el.seqs is not None and len(rendered) > 0)
        results["indexed filter"] = time.perf_counter() - start
        results["indexed filter matches"] = len(el.seqs)

        # a full-text search in the worker; meanwhile the UI must keep answering
        stalls: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            stalls.append(now - last[0])
            last[0] = now

        timer = app.set_interval(0.01, tick)
        rendered.clear()
        screen.set_filter_text("")
        await wait(lambda: el.seqs is None)
        await pilot.pause()
        last[0] = time.perf_counter()
        stalls.clear()
        start = time.perf_counter()
        screen.set_filter_text("zebra")
        await asyncio.sleep(0.05)
        moved = el.cursor
        app.simulate_key("k")  # the list answers keys while the search runs
        key_start = time.perf_counter()
        await wait(lambda: el.cursor != moved)
        results["key during search"] = time.perf_counter() - key_start
        searching = el.seqs is None
        await wait(lambda: el.seqs is not None)
        results["full-text search"] = time.perf_counter() - start
        results["full-text matches"] = len(el.seqs)
        results["search still running at key"] = float(searching)
        results["longest UI stall"] = max(stalls, default=0.0)

        # cancel: start a search, replace it at once; the first one is interrupted
        screen.set_filter_text("nosuchwordanywhere")
        await asyncio.sleep(0.1)
        start = time.perf_counter()
        screen.set_filter_text("type:response.created")
        await wait(lambda: el.seqs is not None and screen.filter.text == "type:response.created")
        results["replace a running search"] = time.perf_counter() - start
        timer.stop()
    EventList.render_line = original  # type: ignore[method-assign]
    results["peak RSS MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description="The TUI on a 1,000,000-event session, or with --sessions on many sessions: "
        "first paint, navigation, filters and search, peak RSS."
    )
    parser.add_argument(
        "--db",
        type=lambda v: v if is_url(v) else Path(v),
        help="default: inspector-tui-large.db (-sessions.db) in the temp directory",
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the one session (default 1,000,000)")
    parser.add_argument("--sessions", type=int, help="the sessions screen on this many sessions of ~100 events")
    parser.add_argument("--keep", action="store_true", help="reuse --db if it exists; keep it afterwards")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    name = "inspector-tui-sessions.db" if args.sessions else "inspector-tui-large.db"
    args.db = args.db or Path(tempfile.gettempdir()) / name

    if args.generate_only:
        print(_tui_sessions.generate(args.db, args.sessions) if args.sessions else generate(args.db, args.events))
        return
    url = is_url(args.db)
    if not (args.keep and (url or args.db.exists())):
        for suffix in () if url else ("", "-wal", "-shm"):
            Path(str(args.db) + suffix).unlink(missing_ok=True)
        started = time.perf_counter()
        size = ["--sessions", str(args.sessions)] if args.sessions else ["--events", str(args.events)]
        out = subprocess.run(
            [sys.executable, __file__, "--db", str(args.db), *size, "--generate-only"],
            check=True,
            capture_output=True,
            text=True,
        )
        what = f"{args.sessions:,} sessions, {int(out.stdout):,} events" if args.sessions else f"{args.events:,} events"
        print(
            f"generated {what} in {time.perf_counter() - started:.1f}s (not counted), "
            f"{'' if url else f'{args.db.stat().st_size / 1e6:,.0f} MB: '}{show_db(args.db)}"
        )
        session_id = 0 if args.sessions else int(out.stdout.strip())
    else:
        from inspector.store import open_store

        with open_store(args.db, create=False) as store:
            session_id = store.sessions(limit=1)[0].id
    if args.sessions:
        _tui_sessions.report(asyncio.run(_tui_sessions.measure(args.db)))
    else:
        report(asyncio.run(measure(args.db, session_id)))
    if not (args.keep or url):
        for suffix in ("", "-wal", "-shm"):
            Path(str(args.db) + suffix).unlink(missing_ok=True)


def report(results: dict[str, float]) -> None:
    print(f"{'measure':28} {'value':>10}  target")
    for name, target in TARGETS.items():
        value = results[name]
        verdict = "ok" if value <= target else "MISSED"
        print(f"{name:28} {value * 1000:>8.1f}ms  ≤ {target * 1000:.0f}ms  {verdict}")
    print(f"{'runs of deltas found':28} {results['runs of deltas found (worker)'] * 1000:>8.1f}ms  (worker)")
    print(f"{'rows, runs collapsed':28} {results['rows with runs collapsed']:>10,.0f}")
    print(f"{'indexed filter matches':28} {results['indexed filter matches']:>10,.0f}")
    print(f"{'full-text matches':28} {results['full-text matches']:>10,.0f}")
    running = (
        "while the search was still running"
        if results["search still running at key"]
        else "(the search had already finished)"
    )
    print(f"{'key during search':28} {results['key during search'] * 1000:>8.1f}ms  {running}")
    print(f"{'longest UI stall':28} {results['longest UI stall'] * 1000:>8.1f}ms  (10 ms timer, during the search)")
    print(
        f"{'replace a running search':28} {results['replace a running search'] * 1000:>8.1f}ms  (the old query is interrupted)"
    )
    rss = results["peak RSS MB"]
    print(f"{'peak RSS':28} {rss:>8.1f}MB  ≤ {RSS_TARGET_MB}MB  {'ok' if rss <= RSS_TARGET_MB else 'MISSED'}")


if __name__ == "__main__":
    main()
