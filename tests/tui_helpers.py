"""Helpers for the TUI and filter tests: databases built from the real fixtures, with pinned
times so that snapshots are deterministic, and the one way a test starts the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from conftest import FIXTURES
from textual.worker import WorkerCancelled

from inspector.protocol import Direction
from inspector.store import FrameIn, Store, open_store
from inspector.tui.app import InspectorApp, make_app

SIZE = (150, 40)

FIXTURE_NAMES = (
    "text_in_audio_out_turn",
    "tool_call_round",
    "message_history_seeding",
    "audio_in_server_vad_turn",
    "input_audio_retention_segments_three_server_vad_turns",
)
# 2025-01-02 03:04:05 UTC, one hour apart per session
PINNED_START = 1735787045.0
STEP_NS = 40_000_000  # 40 ms between frames when the fixture has no times


def fixture_frames(name: str, step_ns: int = STEP_NS) -> list[FrameIn]:
    frames = []
    for i, line in enumerate((FIXTURES / f"{name}.jsonl").read_text().splitlines()):
        record = orjson.loads(line)
        if record.get("kind") != "message":
            continue
        at = record.get("at")
        t_ns = int(at * 1e9) if at is not None else i * step_ns
        frames.append(FrameIn(Direction(record["direction"]), t_ns, orjson.dumps(record["data"]).decode()))
    return frames


def import_fixture(store: Store, name: str, *, index: int = 0, **fields) -> int:
    fields.setdefault("model", "gpt-realtime")
    fields.setdefault("started_at", PINNED_START + 3600 * index)
    return store.import_session(fixture_frames(name), source="import", **fields)


def build_db(path: Path | str, names=FIXTURE_NAMES) -> dict[str, int]:
    """A database (a path or a PostgreSQL URL) holding the named fixtures, oldest first;
    returns name → session id."""
    ids = {}
    with open_store(path) as store:
        for index, name in enumerate(names):
            ids[name] = import_fixture(store, name, index=index)
    return ids


async def settle(app: InspectorApp, pilot: Any) -> None:
    for _ in range(10):
        try:
            await app.workers.wait_for_complete()
            break
        except WorkerCancelled:  # an exclusive worker replaced by a newer one: wait for that
            continue
    await pilot.pause()


@asynccontextmanager
async def running_app(
    path: Path, session_id: int | None = None, filter_text: str | None = None, *, size: tuple[int, int] = SIZE
) -> AsyncIterator[tuple[InspectorApp, Any]]:
    """The app on `path` (optionally open on a session, with a filter), started headless and
    settled: its workers done. Every test that starts the app goes through here."""
    app = make_app(path, session_id, filter_text)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        yield app, pilot
