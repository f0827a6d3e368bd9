"""The recorder's writer: CPU per frame, from the bytes it reads to the rows it commits.

    .venv/bin/python benchmarks/writer_cost.py                  # 100,000 frames, a few seconds
    .venv/bin/python benchmarks/writer_cost.py --frames 20000   # quicker

The frames are what benchmarks/load.py sends (half `input_audio_buffer.append` from the client,
half `response.output_audio.delta` from the server, 20 ms of 24 kHz PCM16 each), in batches
of 4,096 as the writer takes them, into a real SQLite file. Two ways, side by side, in rounds
(the machine is shared: the median of each is reported):

- general: what the writer did before the short path: each batch unpickled, each frame parsed
  whole, redacted whole, its audio found, decoded and re-encoded to check it (`event_rows`), then
  the same inserts;
- writer: the writer's own code as it runs (`_wire.numbered`, then `_batch.write_batch`): audio
  frames parse and scan only the JSON around the audio.

Printed: µs of CPU per frame for each and their ratio. Target (issue 13): the writer's path at
most 0.75× the general one's (what was measured when it was written: 0.70×, 21 µs against 30 µs
on a shared 2-core machine; the inserts, ~9 µs of two rows and their indexes, are the same both
ways).
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
from inspector.store._codec import event_rows  # noqa: E402
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


def general(store: Store, session_id: int, batches: list[bytes]) -> None:
    seq = 0
    for pickled in batches:
        with store.transaction():
            events, bodies = [], []
            for is_server, t_ns, text in pickle.loads(pickled):
                seq += 1
                direction = Direction.SERVER if is_server else Direction.CLIENT
                event, body = event_rows(session_id, seq, FrameIn(direction, t_ns, text))
                events.append(event)
                bodies.append(body)
            store.insert_rows(events, bodies)
            store.add_counts(session_id, events)


def writer(store: Store, batches: list[bytes]) -> None:
    sessions = Sessions()
    number = 0
    for data in batches:
        items = numbered(pickle.loads(data), number)
        number += len(items)
        write_batch(store, sessions, items)


def run(count: int, rounds: int) -> tuple[float, float]:
    sample = frames(count)
    pickled = [
        pickle.dumps([(s, i, t) for i, (s, t) in enumerate(sample[at : at + BATCH], at)], pickle.HIGHEST_PROTOCOL)
        for at in range(0, count, BATCH)
    ]
    wire = [dump([(OPEN, 1, 0, 0, {"source": "tap"})])]
    for at in range(0, count, BATCH):
        wire.append(dump([(FRAME, 1, s, i, t) for i, (s, t) in enumerate(sample[at : at + BATCH], at)]))
    results: dict[str, list[float]] = {"general": [], "writer": []}
    with tempfile.TemporaryDirectory(prefix="inspector-writer-cost-") as tmp:
        for r in range(rounds):
            for name in ("general", "writer") if r % 2 == 0 else ("writer", "general"):
                store = Store(Path(tmp) / f"{name}{r}.db")
                started = time.process_time()
                if name == "general":
                    general(store, store.create_session(source="tap"), pickled)
                else:
                    writer(store, wire)
                results[name].append((time.process_time() - started) / count * 1e6)
                assert store.count(1) == count
                store.close()
            print(
                f"  round {r + 1}/{rounds}: general {results['general'][-1]:.1f} µs, writer {results['writer'][-1]:.1f} µs"
            )
    return statistics.median(results["general"]), statistics.median(results["writer"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    old, new = run(args.frames, args.rounds)
    ok = new <= 0.75 * old
    print(f"CPU per frame (median of {args.rounds}): general {old:.1f} µs, writer {new:.1f} µs: {new / old:.2f}×")
    print(f"target ≤ 0.75×: {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
