"""What the recording tap costs: latency and throughput against a direct link and a bare relay.

    .venv/bin/python benchmarks/tap_overhead.py            # full run, under a minute
    .venv/bin/python benchmarks/tap_overhead.py --quick    # smoke run, a few seconds
    .venv/bin/python benchmarks/tap_overhead.py --db postgresql://me@host/empty_db   # the tap on PostgreSQL

Four processes on 127.0.0.1: this one is the client; an upstream, a bare relay and the real tap
(`inspector tap`, recording into a temporary SQLite file) each run in their own. The traffic is
Realtime-like: the client sends `input_audio_buffer.append` frames carrying 20 ms of PCM16 24 kHz
audio (960 B, 1280 base64 characters; ~1.35 KB a frame) and the upstream answers with
`response.output_audio.delta` frames of the same size. Three paths are measured:

    direct   client ──▶ upstream
    relay    client ──▶ relay ──▶ upstream    (websockets asyncio, no recording, written here)
    bare     client ──▶ bare tap ──▶ upstream (the tap's own relay, `inspector.tap.Tap`, with a
                                              recorder that records nothing)
    tap      client ──▶ tap ──▶ upstream      (`inspector tap`, recording on)

Since the tap forwards frames at the byte level (`inspector.relay`) it is faster than the
websockets relay, so tap/relay no longer shows what recording costs: tap/bare does (printed
beside it, for information).

Measured, with the paths interleaved (ABC, BCA, CAB, ...) over several rounds because the machine
is shared, and the median of the rounds reported:

- round trip: the client sends one frame and waits for the answer; p50 and p99 over a few
  thousand round trips, after a warm-up;
- one-way throughput: the client streams N frames as fast as it can; the upstream counts them and
  says when it has all; frames/s from the first send to that answer;
- after the tap has been stopped with SIGTERM (it drains its writer): frames in the database ==
  frames sent both ways (zero lost), every recorded frame byte-exact against what the client sent
  and received, and database bytes (.db plus -wal if any) / wire bytes (payload plus WebSocket
  frame header, 2/4/10 bytes and 4 mask bytes client→server, both directions).

Targets (issues 2 and 13): tap p50 ≤ 1.1× relay, p99 ≤ 1.5× relay, throughput ≥ 0.95× relay, zero lost,
database ≤ 1.1× wire bytes. Exit status 0 when every target is met, 1 otherwise. Every loop is
bounded; subprocesses and temporary files are cleaned up on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

HOST = "127.0.0.1"
MAX_FRAME = 16 * 1024 * 1024
AUDIO_BYTES = 960  # 20 ms of PCM16 mono at 24 kHz
POOL = 64  # distinct audio chunks, so that frames differ without generating audio on the fly
COUNT_PATH = "/v1/realtime/count"
ECHO_PATH = "/v1/realtime/echo"


# -- traffic (shared by the client and the upstream: both sides can regenerate any frame) -----


def _audio_pool(seed: int) -> list[str]:
    rng = random.Random(seed)
    return [base64.b64encode(rng.randbytes(AUDIO_BYTES)).decode() for _ in range(POOL)]


CLIENT_AUDIO = _audio_pool(1)
SERVER_AUDIO = _audio_pool(2)


def client_frame(i: int) -> str:
    return f'{{"type":"input_audio_buffer.append","event_id":"evt_c{i:09d}","audio":"{CLIENT_AUDIO[i % POOL]}"}}'


def server_frame(i: int) -> str:
    return (
        f'{{"type":"response.output_audio.delta","event_id":"event_s{i:09d}",'
        f'"response_id":"resp_{i // 50:07d}","item_id":"item_{i // 50:07d}",'
        f'"output_index":0,"content_index":0,"delta":"{SERVER_AUDIO[i % POOL]}"}}'
    )


def count_done(n: int) -> str:
    return f'{{"type":"bench.count.done","frames":{n}}}'


def wire_bytes(payload_len: int, masked: bool) -> int:
    header = 2 if payload_len <= 125 else 4 if payload_len <= 0xFFFF else 10
    return payload_len + header + (4 if masked else 0)


# -- the upstream and the bare relay (run in their own processes via --role) ----------------


async def _upstream_main() -> None:
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def handle(ws) -> None:
        path = ws.request.path.split("?")[0]
        try:
            if path == ECHO_PATH:
                i = 0
                async for _ in ws:
                    await ws.send(server_frame(i))
                    i += 1
            elif path == COUNT_PATH:
                query = ws.request.path.partition("?")[2]
                expected = int(dict(p.split("=", 1) for p in query.split("&") if p)["n"])
                got = 0
                async for _ in ws:
                    got += 1
                    if got == expected:
                        await ws.send(count_done(got))
            else:
                await ws.close(1008, "unknown path")
        except ConnectionClosed:
            pass

    async with serve(handle, HOST, 0, compression=None, max_size=MAX_FRAME) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await _wait_for_stdin_eof()


async def _relay_main(upstream: str) -> None:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def pump(src, dst) -> None:
        try:
            async for message in src:
                await dst.send(message)
        except ConnectionClosed:
            pass
        finally:
            await dst.close()

    async def handle(client) -> None:
        async with connect(upstream + client.request.path, compression=None, max_size=MAX_FRAME) as server:
            await asyncio.gather(pump(client, server), pump(server, client))

    async with serve(handle, HOST, 0, compression=None, max_size=MAX_FRAME) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await _wait_for_stdin_eof()


async def _bare_tap_main(upstream: str) -> None:
    from inspector.store.recorder import Recorder
    from inspector.tap import Tap, TapOptions

    class NullRecorder(Recorder):
        """The producer interface, recording nothing: the tap's forwarding alone."""

        def start(self) -> NullRecorder:
            return self

        def close(self, timeout: float | None = None) -> None:
            pass

        def record_open(self, key: int, fields: dict) -> None:
            self._sessions.pop(key).id.set_result(0)

        def record_frame(self, key: int, is_server: bool, t_ns: int, data: str | bytes) -> None:
            pass

        def record_update(self, key: int, fields: dict) -> None:
            pass

    tap = Tap(NullRecorder("unused.db"), TapOptions(upstream=upstream))
    await tap.start(HOST, 0)
    print(tap.port, flush=True)
    await _wait_for_stdin_eof()
    await tap.stop()


async def _wait_for_stdin_eof() -> None:
    """Children live until the parent closes their stdin (or dies, which closes it too)."""
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# -- the client ---------------------------------------------------------------------------------


@dataclass
class Traffic:
    """What went through the tap, for the loss and byte checks."""

    sessions: list[tuple[list[str], list[str]]] = field(default_factory=list)  # (sent, received)

    def wire(self) -> int:
        total = 0
        for sent, received in self.sessions:
            total += sum(wire_bytes(len(f), True) for f in sent)
            total += sum(wire_bytes(len(f), False) for f in received)
        return total

    def frames(self) -> tuple[int, int]:
        return sum(len(s) for s, _ in self.sessions), sum(len(r) for _, r in self.sessions)


async def round_trips(url: str, warmup: int, n: int, keep: Traffic | None) -> list[float]:
    from websockets.asyncio.client import connect

    samples: list[float] = []
    sent: list[str] = []
    received: list[str] = []
    clock = time.perf_counter_ns
    async with connect(url + ECHO_PATH, compression=None, max_size=MAX_FRAME) as ws:
        for i in range(warmup + n):
            frame = client_frame(i)
            t0 = clock()
            await ws.send(frame)
            answer = await asyncio.wait_for(ws.recv(), 10)
            t1 = clock()
            if i >= warmup:
                samples.append((t1 - t0) / 1e3)
            if keep is not None:
                sent.append(frame)
                received.append(answer)
            elif answer != server_frame(i):
                raise AssertionError(f"round trip {i}: unexpected answer {answer[:80]!r}")
    if keep is not None:
        keep.sessions.append((sent, received))
    return samples


async def stream(url: str, n: int, keep: Traffic | None) -> float:
    """Frames/s for n frames sent as fast as possible, until the upstream has counted them all."""
    from websockets.asyncio.client import connect

    frames = [client_frame(i) for i in range(n)]
    async with connect(f"{url}{COUNT_PATH}?n={n}", compression=None, max_size=MAX_FRAME) as ws:
        t0 = time.perf_counter()
        for frame in frames:
            await ws.send(frame)
        answer = await asyncio.wait_for(ws.recv(), 60)
        elapsed = time.perf_counter() - t0
    if answer != count_done(n):
        raise AssertionError(f"upstream counted differently: {answer!r}")
    if keep is not None:
        keep.sessions.append((frames, [answer]))
    return n / elapsed


# -- processes ----------------------------------------------------------------------------------


class Processes:
    """Starts the children; `close()` stops every one of them, whatever happened."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def role(self, *args: str) -> tuple[subprocess.Popen, int]:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--role", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # bounded: the child prints its port or exits
        if not line.strip().isdigit():
            raise RuntimeError(f"{args[0]} did not start (exit {proc.poll()})")
        return proc, int(line)

    def tap(self, upstream_port: int, db: Path, log: Path, timeout: float = 20.0) -> tuple[subprocess.Popen, int]:
        upstream = f"ws://{HOST}:{upstream_port}"
        exe = Path(sys.executable).with_name("inspector")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from inspector.cli import main; main()"]
        cmd += ["tap", "--listen", f"{HOST}:0", "--upstream", upstream, "--db", str(db)]
        log_file = open(log, "w")
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, cwd=REPO)
        finally:
            log_file.close()
        self.procs.append(proc)
        deadline = time.monotonic() + timeout
        marker = f"tap listening on ws://{HOST}:"
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if marker in text:
                return proc, int(text.split(marker, 1)[1].split()[0])
            if proc.poll() is not None:
                raise RuntimeError(f"the tap exited with {proc.returncode}:\n{text}")
            time.sleep(0.05)
        raise RuntimeError(f"the tap did not start within {timeout:.0f} s:\n{log.read_text()}")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                if proc.stdin is not None:
                    with contextlib.suppress(OSError):
                        proc.stdin.close()
                else:
                    proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            for stream_ in (proc.stdin, proc.stdout):
                if stream_ is not None:
                    with contextlib.suppress(OSError):
                        stream_.close()


def recorded_events(db: Path) -> int:
    from inspector.store import open_store

    with open_store(db, create=False) as store:
        return sum(info.events for info in store.sessions())


def wait_recorded(db: Path, expected: int, timeout: float = 60.0) -> float:
    """Seconds until the tap's writer has committed `expected` events (it runs behind)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if recorded_events(db) >= expected:
            return time.monotonic() - t0
        time.sleep(0.02)
    raise RuntimeError(f"the tap recorded {recorded_events(db)} of {expected} events after {timeout:.0f} s")


# -- checks after the tap has exited ------------------------------------------------------------


def storage_bytes(db: Path | str) -> int:
    """The .db file plus its -wal if any; on PostgreSQL, the tables with their indexes and TOAST."""
    if isinstance(db, str):
        import psycopg

        with psycopg.connect(db) as conn:
            row = conn.execute(
                "SELECT sum(pg_total_relation_size(t)) FROM unnest(ARRAY['sessions', 'events', 'frames', 'leases']) t"
            ).fetchone()
        return int(row[0]) if row else 0
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def check_recording(db: Path, traffic: Traffic) -> tuple[int, int, int, int]:
    """(client frames recorded, server frames recorded, mismatches, frames compared)."""
    from inspector.protocol import Direction
    from inspector.store import open_store

    mismatches = compared = rec_client = rec_server = 0
    with open_store(db, create=False) as store:
        sessions = sorted(store.sessions(), key=lambda s: s.id)
        if len(sessions) != len(traffic.sessions):
            print(f"  !! {len(sessions)} sessions recorded, {len(traffic.sessions)} opened")
        for info, (sent, received) in zip(sessions, traffic.sessions):
            got = {Direction.CLIENT: [], Direction.SERVER: []}
            for event in store.events(info.id, with_frames=True):
                got[event.direction].append(event.frame)
            rec_client += len(got[Direction.CLIENT])
            rec_server += len(got[Direction.SERVER])
            for want, have in ((sent, got[Direction.CLIENT]), (received, got[Direction.SERVER])):
                for a, b in zip(want, have):
                    compared += 1
                    mismatches += a != b
    return rec_client, rec_server, mismatches, compared


# -- the run ------------------------------------------------------------------------------------

PATHS = ("direct", "relay", "bare", "tap")


@dataclass
class Results:
    p50: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PATHS})
    p99: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PATHS})
    fps: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PATHS})
    catch_up: list[float] = field(default_factory=list)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_rounds(urls: dict[str, str], args: argparse.Namespace, db: Path, traffic: Traffic) -> Results:
    res = Results()
    expected = 0
    for r in range(args.rounds):
        order = PATHS[r % len(PATHS) :] + PATHS[: r % len(PATHS)]
        for path in order:
            keep = traffic if path == "tap" else None
            samples = await round_trips(urls[path], args.warmup, args.round_trips, keep)
            res.p50[path].append(percentile(samples, 0.50))
            res.p99[path].append(percentile(samples, 0.99))
            if path == "tap":
                expected += 2 * (args.warmup + args.round_trips)
                res.catch_up.append(wait_recorded(db, expected))
        for path in order:
            keep = traffic if path == "tap" else None
            res.fps[path].append(await stream(urls[path], args.frames, keep))
            if path == "tap":
                expected += args.frames + 1
                res.catch_up.append(wait_recorded(db, expected))
        print(
            f"  round {r + 1}/{args.rounds} ({'→'.join(order)}): "
            + "  ".join(
                f"{p} p50 {res.p50[p][-1]:.0f} µs p99 {res.p99[p][-1]:.0f} µs {res.fps[p][-1]:,.0f} f/s" for p in PATHS
            ),
            flush=True,
        )
    return res


def report(res: Results, lost: int, mismatches: int, compared: int, db_bytes: int, wire: int) -> bool:
    med = statistics.median
    rows = []
    ok_all = True

    def row(name: str, values: dict[str, float], unit: str, target: str, ok: bool, fmt: str) -> None:
        nonlocal ok_all
        ok_all &= ok
        t, r, b = values["tap"], values["relay"], values["bare"]
        rows.append(
            f"{name:<22}" + "".join(f"{format(values[p], fmt):>11}" for p in PATHS) + f" {unit:<4}"
            f"{t / r:>8.2f}×   {target:<9}{'ok' if ok else 'MISSED':>7}{t / b:>9.2f}×"
        )

    p50 = {p: med(v) for p, v in res.p50.items()}
    p99 = {p: med(v) for p, v in res.p99.items()}
    fps = {p: med(v) for p, v in res.fps.items()}
    row("round trip p50", p50, "µs", "≤ 1.1×", p50["tap"] <= 1.1 * p50["relay"], ".0f")
    row("round trip p99", p99, "µs", "≤ 1.5×", p99["tap"] <= 1.5 * p99["relay"], ".0f")
    row("throughput", fps, "f/s", "≥ 0.95×", fps["tap"] >= 0.95 * fps["relay"], ",.0f")
    print()
    print(
        f"{'':<22}"
        + "".join(f"{p:>11}" for p in PATHS)
        + f" {'':<4}{'tap/relay':>9}  {'target':<9}{'':>7}{'tap/bare':>10}"
    )
    for line in rows:
        print(line)
    ok_lost = lost == 0 and mismatches == 0
    ok_db = db_bytes <= 1.1 * wire
    ok_all &= ok_lost and ok_db
    print(f"{'frames lost':<22}{'':>33}{lost:>11}{'':<17}{'= 0':<9}{'ok' if lost == 0 else 'MISSED':>7}")
    print(
        f"{'frames not byte-exact':<22}{'':>33}{mismatches:>11}{'':<17}{'= 0':<9}"
        f"{'ok' if mismatches == 0 else 'MISSED':>7}   ({compared:,} compared)"
    )
    print(
        f"{'database / wire bytes':<22}{'':>33}{db_bytes / wire:>11.3f}{'':<17}{'≤ 1.1':<9}"
        f"{'ok' if ok_db else 'MISSED':>7}"
    )
    print(f"{'':<22}  ({db_bytes:,} B database, {wire:,} B on the wire)")
    print(
        "\nrounds: median of each figure over the rounds; tap writer caught up within "
        f"{max(res.catch_up, default=0):.2f} s of the client's last frame (worst)"
    )
    return ok_all


async def main_async(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="tap-overhead-"))
    db = args.db or tmp / "bench.db"
    procs = Processes()
    traffic = Traffic()
    try:
        _upstream, up_port = procs.role("upstream")
        _, relay_port = procs.role("relay", f"ws://{HOST}:{up_port}")
        _, bare_port = procs.role("bare", f"ws://{HOST}:{up_port}")
        tap, tap_port = procs.tap(up_port, db, tmp / "tap.log")
        urls = {
            "direct": f"ws://{HOST}:{up_port}",
            "relay": f"ws://{HOST}:{relay_port}",
            "bare": f"ws://{HOST}:{bare_port}",
            "tap": f"ws://{HOST}:{tap_port}",
        }
        print(
            f"{args.rounds} rounds × (round trips: {args.warmup} warm-up + {args.round_trips}; "
            f"throughput: {args.frames} frames) per path; frames {len(client_frame(0))} B up, "
            f"{len(server_frame(0))} B down; {os.cpu_count()} CPUs",
            flush=True,
        )
        t0 = time.monotonic()
        res = await run_rounds(urls, args, db, traffic)
        # Stop the tap the way a user does; it drains its writer before exiting.
        tap.send_signal(signal.SIGTERM)
        try:
            code = tap.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise RuntimeError("the tap did not exit within 60 s of SIGTERM") from None
        if code != 0:
            print(f"  !! the tap exited with {code}:\n{(tmp / 'tap.log').read_text()}")
        db_bytes = storage_bytes(db)
        rec_client, rec_server, mismatches, compared = check_recording(db, traffic)
        sent_client, sent_server = traffic.frames()
        lost = (sent_client - rec_client) + (sent_server - rec_server)
        print(
            f"  measured in {time.monotonic() - t0:.1f} s; recorded {rec_client:,}/{sent_client:,} "
            f"client and {rec_server:,}/{sent_server:,} server frames",
            flush=True,
        )
        ok = report(res, lost, mismatches, compared, db_bytes, traffic.wire())
        return 0 if ok else 1
    finally:
        procs.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a ~20 s smoke run")
    parser.add_argument("--rounds", type=int, help="rounds of direct/relay/bare/tap (default 5)")
    parser.add_argument("--round-trips", type=int, help="measured round trips per path and round")
    parser.add_argument("--frames", type=int, help="frames streamed per throughput measurement")
    parser.add_argument("--db", help="record into this PostgreSQL URL (an empty database) instead of an SQLite file")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        if args.role[0] == "upstream":
            asyncio.run(_upstream_main())
        elif args.role[0] == "bare":
            asyncio.run(_bare_tap_main(args.role[1]))
        else:
            asyncio.run(_relay_main(args.role[1]))
        return 0
    defaults = (1, 1000, 5000, 100) if args.quick else (5, 5000, 30000, 300)
    args.rounds = args.rounds or defaults[0]
    args.round_trips = args.round_trips or defaults[1]
    args.frames = args.frames or defaults[2]
    args.warmup = defaults[3]
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
