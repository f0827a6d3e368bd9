"""The recorder's writer: CPU per frame, from the bytes it reads to the rows it commits.

    .venv/bin/python benchmarks/writer_cost.py                  # 100,000 frames, a few seconds
    .venv/bin/python benchmarks/writer_cost.py --frames 20000   # quicker
    .venv/bin/python benchmarks/writer_cost.py --sessions 200 --batch 20000   # as under load

The frames are what benchmarks/load.py sends (half `input_audio_buffer.append` from the client,
half `response.output_audio.delta` from the server, 20 ms of 24 kHz PCM16 each), in batches
of 4,096 as the writer takes them (`--batch`), into a real SQLite file, one session's frames
after another's in turn when there are several (`--sessions`: they then sit in as many places
of each B-tree, as when a tap records them at once). Two ways, side by side, in rounds (the
machine is shared: the median of each is reported):

- general: what the writer did before the short path: each batch unpickled, each frame parsed
  whole, redacted whole, its audio found, decoded and re-encoded to check it (`event_rows`), then
  the same inserts;
- writer: the writer's own code as it runs (`_wire.numbered`, then `_batch.write_batch`): audio
  frames parse and scan only the JSON around the audio.

Printed: µs of CPU per frame for each and their ratio, and the bytes each way wrote to files per
frame (the WAL and the checkpoints into the database; Linux only). Target (issue 13): the
writer's path at most 0.75× the general one's (what was measured when it was written: 0.70×,
21 µs against 30 µs on a shared 2-core machine; the inserts, ~9 µs of two rows and their
indexes, are the same both ways).
"""

from __future__ import annotations

import argparse
import base64
import pickle
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from inspector.protocol import Direction  # noqa: E402
from inspector.store import FrameIn, Store  # noqa: E402
from inspector.store._batch import Sessions, write_batch  # noqa: E402
from inspector.store._codec import EventRow, event_rows  # noqa: E402
from inspector.store._wire import FRAME, OPEN, dump, numbered  # noqa: E402

BATCH = 4096
_RNG = random.Random(7)
AUDIO = [base64.b64encode(_RNG.randbytes(960)).decode() for _ in range(64)]


def frames(count: int) -> list[tuple[bool, str]]:
    out = []
    for i in range(count):
        if i % 2:
            text = f'{{"type":"response.output_audio.delta","event_id":"s{i}","response_id":"resp_1",'
            text += f'"item_id":"item_1","output_index":0,"content_index":0,"delta":"{AUDIO[i % 64]}"}}'
        else:
            text = f'{{"type":"input_audio_buffer.append","event_id":"c{i}","audio":"{AUDIO[i % 64]}"}}'
        out.append((bool(i % 2), text))
    return out


def general(store: Store, batches: list[bytes], sessions: int) -> None:
    ids = [store.create_session(source="tap") for _ in range(sessions)]
    seqs = [0] * sessions
    for pickled in batches:
        with store.transaction():
            events, bodies = [], []
            per_session: dict[int, list[EventRow]] = {}
            for key, is_server, t_ns, text in pickle.loads(pickled):
                seqs[key] += 1
                direction = Direction.SERVER if is_server else Direction.CLIENT
                event, body = event_rows(ids[key], seqs[key], FrameIn(direction, t_ns, text))
                events.append(event)
                bodies.append(body)
                per_session.setdefault(ids[key], []).append(event)
            store.insert_rows(events, bodies)
            for session_id, rows in per_session.items():
                store.add_counts(session_id, rows)


def writer(store: Store, batches: list[bytes]) -> None:
    sessions = Sessions()
    number = 0
    for data in batches:
        items = numbered(pickle.loads(data), number)
        number += len(items)
        write_batch(store, sessions, items)


def written_bytes() -> int:
    """Bytes this process has written to files so far (0 where /proc is not there)."""
    try:
        with open("/proc/self/io") as io:
            return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))
    except OSError:
        return 0


def run(count: int, rounds: int, sessions: int, batch: int) -> dict[str, tuple[float, float]]:
    sample = [(i % sessions, is_server, i, text) for i, (is_server, text) in enumerate(frames(count))]
    pickled = [pickle.dumps(sample[at : at + batch], pickle.HIGHEST_PROTOCOL) for at in range(0, count, batch)]
    wire = [dump([(OPEN, key, 0, 0, {"source": "tap"}) for key in range(sessions)])]
    for at in range(0, count, batch):
        wire.append(dump([(FRAME, key, s, t, text) for key, s, t, text in sample[at : at + batch]]))
    results: dict[str, list[tuple[float, float]]] = {"general": [], "writer": []}
    with tempfile.TemporaryDirectory(prefix="inspector-writer-cost-") as tmp:
        for r in range(rounds):
            for name in ("general", "writer") if r % 2 == 0 else ("writer", "general"):
                store = Store(Path(tmp) / f"{name}{r}.db", bulk_writer=True)
                written = written_bytes()
                started = time.process_time()
                if name == "general":
                    general(store, pickled, sessions)
                else:
                    writer(store, wire)
                cpu = (time.process_time() - started) / count * 1e6
                results[name].append((cpu, (written_bytes() - written) / count))
                assert sum(store.count(session.id) for session in store.sessions()) == count
                store.close()
            print(
                f"  round {r + 1}/{rounds}: general {results['general'][-1][0]:.1f} µs, "
                f"writer {results['writer'][-1][0]:.1f} µs"
            )
    return {
        name: (statistics.median(cpu for cpu, _ in runs), statistics.median(size for _, size in runs))
        for name, runs in results.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=1, help="sessions recorded at once (default 1)")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"frames per commit (default {BATCH})")
    args = parser.parse_args()
    if args.sessions < 1 or args.batch < 1 or args.frames < args.sessions:
        parser.error("--sessions and --batch must be at least 1, and --frames at least --sessions")
    medians = run(args.frames, args.rounds, args.sessions, args.batch)
    (old, old_bytes), (new, new_bytes) = medians["general"], medians["writer"]
    ok = new <= 0.75 * old
    print(f"{args.sessions} session(s), {args.batch} frames a commit, median of {args.rounds}:")
    print(f"  CPU per frame: general {old:.1f} µs, writer {new:.1f} µs: {new / old:.2f}×")
    print(f"  written to files per frame: general {old_bytes / 1000:.1f} KB, writer {new_bytes / 1000:.1f} KB")
    print(f"target ≤ 0.75×: {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
