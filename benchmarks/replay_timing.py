"""Replay timing against the in-process mock, recorded into a temporary database.

1. Pacing `original`: a 2,000-client-event session (20 ms audio appends, as a microphone sends
   them: 40 s of audio) replayed with its recorded offsets; the error between each recorded
   offset and the offset the replay recorded for the same event, p50/p99/max
   (target: p99 <= 5 ms).
2. Pacing `asap`: a 20,000-client-event session of appends; client events sent per second
   (target: >= 5,000/s).

    .venv/bin/python benchmarks/replay_timing.py [--paced N] [--asap N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from inspector.protocol import Direction
from inspector.replay.plan import Pace
from inspector.replay.runner import ReplayOptions, replay_sessions
from inspector.store import FrameIn, Store

# 20 ms of silence at 24 kHz PCM16: 960 bytes, 1,280 base64 characters.
APPEND = '{"type":"input_audio_buffer.append","audio":"' + "A" * 1280 + '"}'


def make_session(db: Path, count: int, gap_ms: float) -> int:
    frames = [FrameIn(Direction.CLIENT, int((0.2 + i * gap_ms / 1000) * 1e9), APPEND) for i in range(count)]
    with Store(db) as store:
        return store.import_session(frames, model="gpt-realtime")


def client_offsets(db: Path, session_id: int) -> list[int]:
    with Store(db) as store:
        return [e.t_ns for e in store.events(session_id) if e.direction == Direction.CLIENT]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else values[0]


async def paced(db: Path, count: int) -> None:
    original = make_session(db, count, 20.0)
    (result,) = await replay_sessions(db, [original], options=ReplayOptions(pace=Pace.ORIGINAL))
    recorded, replayed = client_offsets(db, original), client_offsets(db, result.session_id)
    errors = [abs(a - b) / 1e6 for a, b in zip(recorded, replayed)]
    p50, p99 = pct(errors, 50), pct(errors, 99)
    print(
        f"pacing original: {len(replayed):,} client events over {recorded[-1] / 1e9:.1f} s; "
        f"|replayed - recorded offset| p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(errors):.2f} ms "
        f"(target p99 <= 5 ms: {'ok' if p99 <= 5 else 'MISSED'}); exit {result.exit_code}"
    )


async def asap(db: Path, count: int) -> None:
    original = make_session(db, count, 20.0)
    started = time.perf_counter()
    (result,) = await replay_sessions(db, [original], options=ReplayOptions(pace=Pace.ASAP))
    wall = time.perf_counter() - started
    replayed = client_offsets(db, result.session_id)
    sending = (replayed[-1] - replayed[0]) / 1e9
    rate = (len(replayed) - 1) / sending
    print(
        f"pacing asap: {len(replayed):,} client events sent in {sending:.2f} s = {rate:,.0f} events/s "
        f"(target >= 5,000/s: {'ok' if rate >= 5000 else 'MISSED'}); whole run incl. mock, recorder "
        f"start and drain {wall:.2f} s; exit {result.exit_code}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paced", type=int, default=2000)
    parser.add_argument("--asap", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(paced(Path(tmp) / "paced.db", args.paced))
        asyncio.run(asap(Path(tmp) / "asap.db", args.asap))


if __name__ == "__main__":
    main()
