"""The `--sessions N` mode of tui_large.py: the sessions screen on N sessions of ~100 events.

Generation goes through the Store's public API only (`import_session`, 5,000 sessions to a
transaction): the same 100 frames of a four-turn text conversation in every session (one in 13
also has an error event), with varied start times, durations, models, sources, statuses, close
codes, client addresses and labels. About 2.5 s per 1,000 sessions on a busy 2-core machine.
"""

from __future__ import annotations

import asyncio
import resource
import time
from pathlib import Path

TARGETS = {"first paint": 0.1, "search": 0.3, "sort (slowest)": 0.3}
RSS_TARGET_MB = 100
SEARCH = "customer-42"  # a label on ~1 session in 300
BATCH = 5_000  # sessions per transaction
MODELS = ("gpt-realtime", "gpt-realtime-mini", "gpt-4o-realtime-preview")
# The words of the generated answers (tui_large.py's too).
WORDS = "the weather in london is foggy and twelve degrees today shall i book a table for two".split(" ")  # noqa: SIM905


def template_frames() -> list:
    """100 frames: a four-turn text conversation."""
    import orjson

    from inspector.protocol import Direction
    from inspector.store import FrameIn

    c, s = Direction.CLIENT, Direction.SERVER
    out = [
        (c, {"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}}),
        (s, {"type": "session.created", "session": {"id": "sess_template", "model": "gpt-realtime"}}),
        (s, {"type": "session.updated", "session": {"id": "sess_template", "instructions": "Be brief."}}),
        (s, {"type": "rate_limits.updated", "rate_limits": []}),
    ]
    for turn in range(4):
        item, reply, resp = f"item_u{turn:04d}", f"item_a{turn:04d}", f"resp_{turn:04d}"
        message = {"id": item, "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        out += [
            (c, {"type": "conversation.item.create", "item": message}),
            (s, {"type": "conversation.item.added", "item": message}),
            (s, {"type": "conversation.item.done", "item": message}),
            (c, {"type": "response.create"}),
            (s, {"type": "response.created", "response": {"id": resp, "status": "in_progress"}}),
            (s, {"type": "response.output_item.added", "response_id": resp, "item": {"id": reply}}),
            (s, {"type": "response.content_part.added", "response_id": resp, "item_id": reply}),
        ]
        for word in WORDS[:13]:
            delta = {"type": "response.output_text.delta", "response_id": resp, "item_id": reply, "delta": word}
            out.append((s, delta))
        out += [
            (s, {"type": "response.output_text.done", "response_id": resp, "item_id": reply, "text": "…"}),
            (s, {"type": "response.content_part.done", "response_id": resp, "item_id": reply}),
            (s, {"type": "response.output_item.done", "response_id": resp, "item": {"id": reply}}),
            (s, {"type": "response.done", "response": {"id": resp, "status": "completed"}}),
        ]
    return [FrameIn(d, i * 40_000_000, orjson.dumps(data).decode()) for i, (d, data) in enumerate(out)]


def session_fields(i: int) -> dict:
    status = "failed" if i % 50 == 0 else "interrupted" if i % 97 == 0 else "closed"
    started = 1_700_000_000.0 + i * 37
    return {
        "source": "import" if i % 7 == 0 else "replay" if i % 11 == 0 else "tap",
        "status": status,
        "started_at": started,
        "ended_at": started + 5 + (i * 7919) % 600,
        "model": MODELS[i % 3],
        "label": f"customer-{i % 1000}" if i % 3 == 0 else None,
        "client_addr": f"127.0.0.1:{40000 + i % 20000}",
        "close_code": 1000 if status == "closed" else None,
    }


def generate(path: Path | str, total: int) -> int:
    """Write `total` sessions; returns the event count."""
    import orjson

    from inspector.protocol import Direction
    from inspector.store import FrameIn, open_store

    frames = template_frames()
    error = {"type": "error", "error": {"type": "invalid_request_error", "code": "unknown_parameter"}}
    with_error = [*frames, FrameIn(Direction.SERVER, frames[-1].t_ns + 1_000_000, orjson.dumps(error).decode())]
    events = 0
    with open_store(path) as store:
        for start in range(0, total, BATCH):
            with store.transaction():
                for i in range(start, min(total, start + BATCH)):
                    chosen = with_error if i % 13 == 0 else frames
                    store.import_session(chosen, **session_fields(i))
                    events += len(chosen)
    return events


async def measure(path: Path) -> dict[str, float]:
    """First paint of the sessions screen (from its construction to its first painted row),
    a search typed into its filter, every sort, and peak RSS."""
    from textual.widgets import Input

    from inspector.tui.app import make_app
    from inspector.tui.screens.sessions import SessionsScreen
    from inspector.tui.widgets.sessions_table import SessionsTable

    painted: list[float] = []
    created: list[float] = []
    shows = [lambda table: True]  # what a paint must show to count (the last condition set)
    original_render, original_init = SessionsTable.render_line, SessionsScreen.__init__

    def render_line(self, y):
        if self.row_count and shows[-1](self):
            painted.append(time.perf_counter())
        return original_render(self, y)

    def init(self, *args, **kwargs):
        created.append(time.perf_counter())
        original_init(self, *args, **kwargs)

    SessionsTable.render_line = render_line  # type: ignore[method-assign]
    SessionsScreen.__init__ = init  # type: ignore[method-assign]
    results: dict[str, float] = {}
    app = make_app(path)
    app_start = time.perf_counter()
    try:
        async with app.run_test(size=(160, 45)) as pilot:

            async def until_painted(since: float, timeout: float = 120.0) -> float:
                deadline = time.perf_counter() + timeout
                while not any(t >= since for t in painted):
                    if time.perf_counter() > deadline:
                        raise TimeoutError
                    await asyncio.sleep(0.001)
                return next(t for t in painted if t >= since) - since

            await until_painted(app_start)
            results["first paint"] = min(painted) - created[0]
            results["app start to first paint"] = min(painted) - app_start
            screen = app.screen
            assert isinstance(screen, SessionsScreen)
            results["rows"] = screen.table.row_count
            await pilot.pause()

            search = screen.query_one("#sessions-search", Input)
            screen.action_search()
            await pilot.pause()
            shows.append(lambda table: table.row_count < results["rows"])
            start = time.perf_counter()
            search.value = SEARCH
            results["search"] = await until_painted(start)
            await pilot.pause()
            results["search matches"] = screen.table.row_count
            shows.append(lambda table: table.row_count == results["rows"])
            start = time.perf_counter()
            search.value = ""
            results["search cleared"] = await until_painted(start)
            await pilot.pause()
            screen.table.focus()
            worst = 0.0
            shows.append(lambda table: True)  # sorting is done when the action returns
            for _ in range(8):  # every sort, back to the first
                start = time.perf_counter()
                screen.action_sort()
                took = await until_painted(start)
                results[f"sort by {screen.sort}"] = took
                worst = max(worst, took)
                await pilot.pause()
            results["sort (slowest)"] = worst
    finally:
        SessionsTable.render_line = original_render  # type: ignore[method-assign]
        SessionsScreen.__init__ = original_init  # type: ignore[method-assign]
    results["peak RSS MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def report(results: dict[str, float]) -> None:
    print(f"{'measure':28} {'value':>10}  target")
    for name, value in results.items():
        if name in ("rows", "search matches"):
            print(f"{name:28} {value:>10,.0f}")
        elif name == "peak RSS MB":
            verdict = "ok" if value <= RSS_TARGET_MB else "MISSED"
            print(f"{'peak RSS':28} {value:>8.1f}MB  ≤ {RSS_TARGET_MB}MB  {verdict}")
        else:
            target = TARGETS.get(name)
            verdict = "" if target is None else f"≤ {target * 1000:.0f}ms  {'ok' if value <= target else 'MISSED'}"
            print(f"{name:28} {value * 1000:>8.1f}ms  {verdict}")
