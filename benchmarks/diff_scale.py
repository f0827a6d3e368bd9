"""`inspector diff` on two generated sessions of 100,000 and of 1,000,000 events that differ in a
few hundred scattered places: wall time and peak RSS of the CLI end to end from the database,
against the targets (≤ 2 s and ≤ 20 s, ≤ 300 MB at 1M, the CLI and its worker process
together), and difflib over the whole 100k sequence of signatures for comparison.

    .venv/bin/python benchmarks/diff_scale.py            # both sizes (about 3 minutes)
    .venv/bin/python benchmarks/diff_scale.py 100000     # one size
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from inspector.protocol import Direction
from inspector.store import FrameIn, Store

AUDIO = base64.b64encode(bytes(240)).decode()  # 5 ms of PCM16 per delta: keeps the files small
TARGETS = {100_000: 2.0, 1_000_000: 20.0}
RSS_TARGET_MB = 300


def _id(rng: random.Random, kind: str) -> str:
    return kind + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=21))


def turn_frames(rng: random.Random, n: int, t_ns: int, edit: str | None) -> Iterator[FrameIn]:
    """One text-in, audio-out turn of about 60 events; `edit` plants one difference."""
    item, resp, out = _id(rng, "item_"), _id(rng, "resp_"), _id(rng, "item_")
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"Question {n}"}]}
    events: list[tuple[Direction, dict]] = [
        (Direction.CLIENT, {"type": "conversation.item.create", "item": {**user, "id": item}}),
        (Direction.CLIENT, {"type": "response.create"}),
        (Direction.SERVER, {"type": "conversation.item.added", "item": {**user, "id": item}}),
        (Direction.SERVER, {"type": "response.created", "response": {"id": resp, "status": "in_progress"}}),
        (Direction.SERVER, {"type": "response.output_item.added", "response_id": resp, "item": {"id": out}}),
    ]
    for k in range(24):
        events.append(
            (
                Direction.SERVER,
                {"type": "response.output_audio.delta", "response_id": resp, "item_id": out, "delta": AUDIO},
            )
        )
        text = "changed " if edit == "text" and k == 5 else f"word{k} "
        events.append(
            (
                Direction.SERVER,
                {
                    "type": "response.output_audio_transcript.delta",
                    "response_id": resp,
                    "item_id": out,
                    "delta": text,
                    "obfuscation": _id(rng, "")[:6],
                },
            )
        )
    events += [
        (Direction.SERVER, {"type": "response.output_audio.done", "response_id": resp, "item_id": out}),
        (
            Direction.SERVER,
            {"type": "response.output_item.done", "response_id": resp, "item": {"id": out, "status": "completed"}},
        ),
        (
            Direction.SERVER,
            {
                "type": "response.done",
                "response": {"id": resp, "status": "completed", "usage": {"total_tokens": rng.randint(50, 90)}},
            },
        ),
        (
            Direction.SERVER,
            {"type": "rate_limits.updated", "rate_limits": [{"name": "tokens", "remaining": rng.randint(1, 9999)}]},
        ),
    ]
    if edit == "removed":
        del events[10]
    if edit == "type":
        events[-1][1]["type"] = "rate_limits.changed"
    for k, (direction, data) in enumerate(events):
        data = {"event_id": _id(rng, "event_"), **data} if direction == Direction.SERVER else data
        yield FrameIn(direction, t_ns + k * 5_000_000, json.dumps(data))


def session_frames(events: int, seed: int, edits: dict[int, str]) -> Iterator[FrameIn]:
    rng = random.Random(seed)
    turns = events // 57
    yield FrameIn(Direction.SERVER, 0, json.dumps({"type": "session.created", "session": {"id": _id(rng, "sess_")}}))
    for n in range(turns):
        yield from turn_frames(rng, n, (n + 1) * 1_000_000_000, edits.get(n))


def make_pair(db: Path, events: int) -> tuple[int, int]:
    """Session A, and B: the same conversation with new ids and ~300 scattered differences."""
    turns = events // 57
    rng = random.Random(events)
    kinds = ("text", "removed", "type")
    edits = {n: kinds[i % 3] for i, n in enumerate(rng.sample(range(turns), min(300, turns // 3)))}
    with Store(db) as store:
        a = store.import_session(session_frames(events, 1, {}), source="import")
        b = store.import_session(session_frames(events, 2, edits), source="import")
        return a, b


class Run(NamedTuple):
    """`inspector diff A B --json` in a process of its own."""

    seconds: float
    cpu_seconds: float  # user + system, the worker's included: what a busy machine cannot hide
    rss_mb: float  # the CLI's peak
    worker_rss_mb: float  # the peak of the worker that scans one side meanwhile (0 without)
    together_mb: float  # the peak of both together, sampled every 20 ms
    report: dict[str, Any]


def run_cli(db: Path, a: int, b: int) -> Run:
    """Run and measure `inspector diff A B --json` (see `Run`)."""
    script = (
        "import resource, sys; from inspector.cli import main; "
        "sys.argv = ['inspector', 'diff', sys.argv[1], sys.argv[2], '--db', sys.argv[3], '--json']\n"
        "try: main()\n"
        "finally:\n"
        "    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "    print(me.ru_maxrss, kids.ru_maxrss, me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,"
        " file=sys.stderr)"
    )
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(a), str(b), str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    together = [0]
    sampler = threading.Thread(target=_sample_rss, args=(proc, together), daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    elapsed = time.perf_counter() - started
    sampler.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(stderr)
    own_kb, worker_kb, cpu = stderr.strip().splitlines()[-1].split()
    return Run(elapsed, float(cpu), int(own_kb) / 1024, int(worker_kb) / 1024, together[0] / 1024, json.loads(stdout))


def _sample_rss(proc: subprocess.Popen[str], peak: list[int]) -> None:
    """The largest RSS (kB) of the process and its children together, until it ends."""
    pids, tick = [proc.pid], 0
    while proc.poll() is None:
        if tick % 10 == 0:  # looking for children reads all of /proc: not at every sample
            pids = [proc.pid, *_children(proc.pid)]
        peak[0] = max(peak[0], sum(_rss_kb(pid) for pid in pids))
        tick += 1
        time.sleep(0.02)


def _children(pid: int) -> list[int]:
    """Child pids, from each process's parent in /proc (not every kernel has .../children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                # the command name, in parentheses, may hold spaces: the fields follow its end
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def difflib_seconds(db: Path, a: int, b: int) -> float:
    """difflib.SequenceMatcher over the whole sequence of (direction, type) signatures."""
    with Store(db) as store:
        sig_a = [(e.direction.value, e.type) for e in store.events(a)]
        sig_b = [(e.direction.value, e.type) for e in store.events(b)]
    started = time.perf_counter()
    difflib.SequenceMatcher(None, sig_a, sig_b).get_opcodes()
    return time.perf_counter() - started


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [100_000, 1_000_000]
    with tempfile.TemporaryDirectory(prefix="diff-bench-") as tmp:
        for size in sizes:
            db = Path(tmp) / f"s{size}.db"
            started = time.perf_counter()
            a, b = make_pair(db, size)
            made = time.perf_counter() - started
            run = run_cli(db, a, b)
            c = run.report["counts"]
            target = TARGETS.get(size)
            verdict = "" if target is None else ("ok" if run.seconds <= target else "MISSED")
            print(
                f"{size:>9,} events/side  (generated and stored in {made:.0f} s, {os.path.getsize(db) / 1e6:,.0f} MB,"
                f" load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
            )
            print(
                f"  inspector diff --json  {run.seconds:6.2f} s   target ≤ {target} s   {verdict}"
                f"  (CPU {run.cpu_seconds:.2f} s, the worker's included)"
            )
            verdict = "ok" if run.together_mb <= RSS_TARGET_MB else "MISSED"
            print(
                f"  peak RSS               {run.together_mb:6.0f} MB  target ≤ {RSS_TARGET_MB} MB   {verdict}"
                f"  (together; each at its peak: {run.rss_mb:.0f} MB the CLI, {run.worker_rss_mb:.0f} MB its worker)"
            )
            print(
                f"  found: {c['changed']} changed, {c['only_a']} only in A, {c['only_b']} only in B, {c['equal']:,} equal"
            )
            if size <= 100_000:
                base = difflib_seconds(db, a, b)
                # Not the same problem: with its junk heuristic on (the default) difflib ignores
                # the frequent signatures (every delta), so this is a floor, not a rival.
                print(f"  difflib over the whole sequence (autojunk on: deltas ignored) {base:.2f} s")
            db.unlink()


if __name__ == "__main__":
    main()
