"""How much the mock sustains with `--latency none`, measured from another process on loopback.

    python benchmarks/mock_throughput.py [--sessions 400] [--turns 300] [--concurrency 8]

Prints: sessions per second (connect, session.created, close), events per second the mock sends
during text and audio turns, and the latency of a complete short text response (from sending
`response.create` to receiving `response.done`), p50 and p99. Every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

SERVER = """
import asyncio, sys
from inspector.mock.server import run_mock

async def main():
    async with run_mock("127.0.0.1", 0, seed=1, latency="none") as mock:
        print(mock.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""

USER_TEXT = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi!"}]},
}


def start_server() -> tuple[subprocess.Popen[str], str]:
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"


async def one_session(url: str) -> None:
    async with connect(url, compression=None) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"


async def sessions_per_second(url: str, total: int, concurrency: int) -> float:
    remaining = iter(range(total))

    async def worker() -> None:
        for _ in remaining:
            await one_session(url)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def turns(url: str, n: int, modality: str) -> tuple[float, list[float]]:
    """Events/s over `n` turns on one connection, and each turn's response.create->done time."""
    latencies: list[float] = []
    events = 0
    async with connect(url, compression=None, max_size=None) as ws:
        await ws.recv()
        update = {
            "type": "session.update",
            "session": {"type": "realtime", "output_modalities": [modality]},
        }
        await ws.send(json.dumps(update))
        await ws.recv()
        started = time.perf_counter()
        for _ in range(n):
            await ws.send(json.dumps(USER_TEXT))
            events += 2
            await ws.recv()
            await ws.recv()
            sent = time.perf_counter()
            await ws.send('{"type": "response.create"}')
            while True:
                events += 1
                if json.loads(await ws.recv())["type"] == "response.done":
                    latencies.append(time.perf_counter() - sent)
                    break
            await ws.recv()  # rate_limits.updated
            events += 1
        elapsed = time.perf_counter() - started
    return events / elapsed, latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    proc, url = start_server()
    try:
        await one_session(url)  # warm up
        rate = await sessions_per_second(url, args.sessions, args.concurrency)
        print(f"sessions/s      {rate:8.0f}   ({args.sessions} sessions, {args.concurrency} concurrent)")
        text_rate, latencies = await turns(url, args.turns, "text")
        print(f"events/s text   {text_rate:8.0f}   ({args.turns} text turns, one connection)")
        audio_rate, _ = await turns(url, max(10, args.turns // 5), "audio")
        print(f"events/s audio  {audio_rate:8.0f}   ({max(10, args.turns // 5)} audio turns, 100 ms PCM16 deltas)")
        ms = [x * 1000 for x in latencies]
        print(
            f"text response   p50 {percentile(ms, 50):.2f} ms   p99 {percentile(ms, 99):.2f} ms   "
            f"mean {statistics.mean(ms):.2f} ms   (response.create -> response.done, {len(ms)} turns)"
        )
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=400)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
