"""`inspector demo`: the product working in one command, with no API key and no network.

It starts the mock Realtime server and the recording tap in this process on free ports of
127.0.0.1, then drives a scripted conversation through the tap with the official `openai` SDK:

    turn 1  a text turn           (conversation.item.create + response.create, text out)
    turn 2  an audio turn         (synthesized speech in 20 ms appends, server VAD commits, audio out)
    turn 3  a function call       (get_weather called, its output sent back, the answer)
    turn 4  a cancelled response  (response.cancel right after response.created)
    turn 4  an error              (input_audio_buffer.commit on an empty buffer: a refused commit
                                   starts no turn, its error joins the turn before)

Each step's line ends with its turn's latencies as the turn model measures them in the recording
(`→created`, `→output`, `→done`: ms from the turn's input; `display.LATENCIES`), read back from
the database: the numbers of the summary, `inspector turns` and the TUI's turns view.

The session is recorded into the database like any tapped session; then the TUI opens on it
(or, with --no-tui or when stdout is not a terminal, a summary is printed).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import random
import shlex
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from inspector.cli_common import db_option, fail
from inspector.display import format_latencies

__all__ = ["DEMO_LABEL", "demo_command", "record_demo", "speech_like_pcm", "summarize_session"]

DEMO_LABEL = "demo"
RATE = 24000
CHUNK_MS = 20
API_KEY = "sk-test-not-a-real-key"  # the SDK insists on a key; nothing checks it
STEP_TIMEOUT = 30.0

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TEXT_ONLY = {"output_modalities": ["text"]}

Say = Callable[[str], None]


def speech_like_pcm(ms: int, *, seed: int = 7) -> bytes:
    """PCM16 24 kHz mono that sounds (and measures) like a voice: a gliding 110–170 Hz pitch with
    vowel-like harmonics, syllables at ~4 Hz, a little breath noise. Loud enough for a VAD at
    every instant (the envelope never drops below a third), so one utterance is one turn."""
    rng = random.Random(seed)
    samples = []
    phase = 0.0
    for i in range(ms * RATE // 1000):
        t = i / RATE
        pitch = 140 + 30 * math.sin(2 * math.pi * 0.7 * t)
        phase += 2 * math.pi * pitch / RATE
        voice = sum(weight * math.sin(k * phase) for k, weight in ((1, 1.0), (2, 0.6), (3, 0.45), (5, 0.25), (8, 0.12)))
        envelope = 0.35 + 0.65 * abs(math.sin(math.pi * 4.2 * t))
        fade = min(1.0, t / 0.03, (ms / 1000 - t) / 0.03)  # no clicks at the edges
        value = 5200 * envelope * fade * voice / 2.42 + rng.gauss(0, 120)
        samples.append(max(-32768, min(32767, int(value))))
    return struct.pack(f"<{len(samples)}h", *samples)


def _chunks(audio: bytes, chunk_ms: int = CHUNK_MS) -> list[str]:
    import base64

    size = chunk_ms * RATE * 2 // 1000
    return [base64.b64encode(audio[i : i + size]).decode() for i in range(0, len(audio), size)]


async def _until(conn: Any, last: str, *, also: Callable[[Any], bool] | None = None) -> list[Any]:
    """Server events up to and including the first of type `last` (that passes `also`)."""
    events = []
    async with asyncio.timeout(STEP_TIMEOUT):
        async for event in conn:
            events.append(event)
            if event.type == last and (also is None or also(event)):
                return events
    raise RuntimeError(f"the connection ended while waiting for {last}")


def _answer_text(events: list[Any]) -> str:
    return "".join(
        getattr(e, "delta", "") or ""
        for e in events
        if e.type in ("response.output_text.delta", "response.output_audio_transcript.delta")
    )


async def _user_says(conn: Any, text: str) -> None:
    await conn.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )


class _RecordedTurns:
    """The demo's session as recorded so far: a step's line reports its turn from the database,
    once the recorder has written the events the client saw."""

    def __init__(self, db_path: str | Path, since: float) -> None:
        self.db_path, self.since = db_path, since

    async def turn(self, last_type: str, count: int) -> Any:
        """The latest turn, once `count` events of `last_type` are recorded; None after 5 s."""
        from inspector.store import Store, StoreError
        from inspector.turns import read_turns

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(StoreError), Store(self.db_path, create=False) as store:
                mine = [s for s in store.sessions(limit=5) if s.label == DEMO_LABEL and s.started_at >= self.since]
                if mine and store.type_counts(mine[0].id).get(last_type, 0) >= count:
                    turns = read_turns(store, mine[0].id)
                    return turns[-1] if turns else None
            await asyncio.sleep(0.02)
        return None


# Each step, and what the client has seen when it ends: events of a type, counted from the start.
async def _converse(conn: Any, say: Say, *, pace: float, recorded: _RecordedTurns) -> None:
    """The scripted conversation. `pace` is the wall-clock seconds per second of appended audio
    (1.0: real time, as a microphone would; 0: as fast as possible)."""
    first = await conn.recv()
    say(f"  ← {first.type}")
    await conn.session.update(
        session={
            "type": "realtime",
            "instructions": "You are the Realtime Inspector demo assistant. Be brief.",
            "tools": [WEATHER_TOOL],
            "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
        }
    )
    await _until(conn, "session.updated")
    say("  ← session.updated (tools: get_weather; server VAD; input transcription)")
    steps = (
        (_text_turn, "response.done", 1),
        (_audio_turn, "response.done", 2),
        (_tool_turn, "response.done", 4),  # a tool round: two responses
        (_cancelled_turn, "response.done", 5),
        (_refused_commit, "error", 1),
    )
    for step, last_type, count in steps:
        line = await step(conn, pace)
        turn = await recorded.turn(last_type, count)
        if turn is None:
            say(f"turn ?  {line}  (not recorded yet: no latencies)")
        elif last_type == "error":  # not a response: the turn's latencies are the line before's
            say(f"turn {turn.number}  {line}")
        else:
            say(f"turn {turn.number}  {line}  {format_latencies(turn)}")


async def _text_turn(conn: Any, pace: float) -> str:
    await _user_says(conn, "Hi! What can you do?")
    await conn.response.create(response=TEXT_ONLY)
    events = await _until(conn, "response.done")
    return f"text           → 'Hi! What can you do?'  ← '{_answer_text(events)}'"


async def _audio_turn(conn: Any, pace: float) -> str:
    speech = speech_like_pcm(1200)
    audio = bytes(300 * RATE * 2 // 1000) + speech + bytes(700 * RATE * 2 // 1000)
    for chunk in _chunks(audio):
        await conn.input_audio_buffer.append(audio=chunk)
        if pace:
            await asyncio.sleep(CHUNK_MS / 1000 * pace)
    events = await _until(conn, "response.done")
    heard = [e.transcript for e in events if e.type == "conversation.item.input_audio_transcription.completed"]
    audio_ms = sum(len(e.delta) * 3 // 4 for e in events if e.type == "response.output_audio.delta") / (RATE * 2 / 1000)
    sent_ms = len(audio) // (RATE * 2 // 1000)
    return (
        f"audio          → {sent_ms} ms of speech-like audio in {len(_chunks(audio))} appends, "
        f"server VAD committed it{f' (heard {heard[0]!r})' if heard else ''}  "
        f"← {audio_ms:.0f} ms of audio, '{_answer_text(events)}'"
    )


async def _tool_turn(conn: Any, pace: float) -> str:
    await _user_says(conn, "What's the weather in Paris?")
    await conn.response.create(response=TEXT_ONLY)
    events = await _until(conn, "response.done")
    call = next((e for e in events if e.type == "response.function_call_arguments.done"), None)
    if call is None:
        raise RuntimeError("the mock did not call get_weather")
    output = json.dumps({"city": json.loads(call.arguments).get("city"), "conditions": "sunny", "temperature_c": 21})
    await conn.conversation.item.create(
        item={"type": "function_call_output", "call_id": call.call_id, "output": output}
    )
    await conn.response.create(response=TEXT_ONLY)
    events = await _until(conn, "response.done")
    return f"function call  → get_weather({call.arguments}) → {output}  ← '{_answer_text(events)}'"


async def _cancelled_turn(conn: Any, pace: float) -> str:
    await _user_says(conn, "Tell me a very long story about the sea.")
    await conn.response.create(response=TEXT_ONLY)
    await _until(conn, "response.created")
    await conn.response.cancel()
    events = await _until(conn, "response.done")
    status = events[-1].response.status
    return f"cancelled      → response.cancel right after response.created  ← response.done status={status}"


async def _refused_commit(conn: Any, pace: float) -> str:
    await conn.input_audio_buffer.clear()
    await _until(conn, "input_audio_buffer.cleared")
    await conn.input_audio_buffer.commit()
    events = await _until(conn, "error")
    error = events[-1].error
    return (
        f"error          → input_audio_buffer.commit on an empty buffer  ← error {error.code} "
        "(a refused commit starts no turn: it joins this one)"
    )


def _mock_sessions(speed: float, seed: int) -> Callable[[str], Any]:
    """Mock sessions with the realistic latencies divided by `speed` (the cancel in step 4 needs
    a response that takes some time; tests run the demo 20× faster)."""
    from inspector.mock.responses import REALISTIC
    from inspector.mock.state import MockSession

    timing = dataclasses.replace(
        REALISTIC, **{f.name: getattr(REALISTIC, f.name) / speed for f in dataclasses.fields(REALISTIC)}
    )
    seeds = random.Random(seed)
    return lambda model: MockSession(seed=seeds.getrandbits(64), timing=timing, model=model, now_unix=time.time())


async def record_demo(db_path: str | Path, *, say: Say = print, speed: float = 1.0, seed: int = 7) -> int:
    """Run the mock, the tap and the scripted conversation; returns the recorded session's id."""
    from openai import AsyncOpenAI

    from inspector.mock.server import run_mock
    from inspector.store import Recorder, open_store, show_db
    from inspector.tap import Tap, TapOptions

    started = time.time()
    recorder = Recorder(db_path).start()
    tap: Tap | None = None
    try:
        async with run_mock("127.0.0.1", 0, session_factory=_mock_sessions(speed, seed)) as mock:
            tap = Tap(recorder, TapOptions(upstream=mock.url, label=DEMO_LABEL))
            await tap.start("127.0.0.1", 0)
            say(f"mock on {mock.url}, tap on ws://127.0.0.1:{tap.port} recording to {show_db(db_path)}")
            client = AsyncOpenAI(api_key=API_KEY, websocket_base_url=f"ws://127.0.0.1:{tap.port}/v1")
            # No proxy: the tap is on loopback, and HTTPS_PROXY must not send the demo elsewhere.
            # websockets >= 15 takes proxy=; the SDK's TypedDict of options predates it.
            options: Any = {"proxy": None}
            async with client.realtime.connect(model="gpt-realtime", websocket_connection_options=options) as conn:
                await _converse(conn, say, pace=1.0 / speed, recorded=_RecordedTurns(db_path, started - 1))
        # The mock stops first: closing its side ends the tap's upstream leg too, so the tap
        # never waits on a connection that nobody will close.
    finally:
        if tap is not None:
            await tap.stop()
        await asyncio.to_thread(recorder.close)
    with open_store(db_path) as store:
        mine = [s for s in store.sessions() if s.label == DEMO_LABEL and s.started_at >= started - 1]
        if not mine:
            raise RuntimeError("the tap recorded no session")
        return mine[0].id


def summarize_session(store: Any, session_id: int, db_path: str | Path) -> str:
    """The --no-tui summary: counts, turns, event types, and what to run next."""
    from inspector.display import format_duration, format_offset
    from inspector.turns import read_turns

    info = store.session(session_id)
    lines = [
        f"session {session_id} ({info.label or info.source}, {info.model or '?'}): {format_duration(info.duration)}, "
        f"{info.client_events} client and {info.server_events} server events, {info.error_events} error(s), "
        f"closed by {info.close_side or '?'} ({info.close_code})",
        "  turns (`inspector turns`, the TUI's turns view, `inspector export --turn N`):",
    ]
    for turn in read_turns(store, session_id):
        start = format_offset(turn.start_ns) if turn.start_ns is not None else "—"
        details = [f"{len(turn.tool_calls)} tool call(s)"] if turn.tool_calls else []
        if turn.input_seqs:
            details.append(f"{len(turn.input_seqs)} audio appends in")
        if turn.output_seqs:
            details.append(f"{len(turn.output_seqs)} audio deltas out")
        details += [f"error: {e}" for e in turn.errors]
        lines.append(
            f"    {turn.number}  {start:>11}  {turn.trigger.value:12} {', '.join(turn.statuses) or 'no response':30} "
            f"{format_latencies(turn)}  {'; '.join(details)}".rstrip()
        )
    counts = sorted(store.type_counts(session_id).items())
    lines.append(f"  {len(counts)} event types:")
    half = (len(counts) + 1) // 2
    width = max((len(name) for name, _ in counts[:half]), default=0) + 2
    for (name, count), right in zip(counts[:half], [*counts[half:], ("", 0)]):
        other = f"{right[1]:5d}  {right[0]}" if right[1] else ""
        lines.append(f"  {count:5d}  {(name or '<not an event>'):{width}}{other}".rstrip())
    from inspector.store import show_db

    db = f" --db {shlex.quote(show_db(db_path))}" if str(db_path) != "recordings/inspector.db" else ""
    hints = [
        (f"inspector tui{db} {session_id}", "browse it"),
        (f"inspector events {session_id}{db} --type 'response.*'", "list events"),
        (f"inspector turns {session_id}{db}", "its turns and their latencies"),
        (f"inspector export {session_id}{db} --format wav -o ./", "its audio as WAV files"),
    ]
    width = max(len(command) for command, _ in hints) + 3
    lines.append("next:")
    lines += [f"  {command:{width}}{what}" for command, what in hints]
    return "\n".join(lines)


@click.command("demo")
@db_option
@click.option("--no-tui", is_flag=True, help="Print a summary of the session instead of opening the TUI.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0.1, max=100),
    default=1.0,
    show_default=True,
    help="Run the mock's latencies and the audio pacing this many times faster.",
)
def demo_command(db_path: Path, no_tui: bool, speed: float) -> None:
    """Record a scripted conversation offline (no API key, no network), then open it.

    Starts the mock Realtime server and the tap on free local ports and talks to the mock through
    the tap with the official openai SDK: a text turn, an audio turn with server VAD, a
    get_weather function call, a cancelled response and an error. Opens the TUI on the recorded
    session; with --no-tui, or when stdout is not a terminal, prints a summary instead.
    """
    from inspector.store import StoreError, db_location, open_store, show_db

    try:
        import openai  # noqa: F401
    except ImportError:
        fail("the demo drives the mock with the official openai SDK: pip install openai")

    def say(line: str) -> None:
        try:
            click.echo(line)
        except OSError:  # stdout went away (`inspector demo | head`): keep recording
            pass

    try:
        session_id = asyncio.run(record_demo(db_path, say=say, speed=speed))
    except StoreError as exc:
        fail(str(exc))
    except (RuntimeError, TimeoutError, OSError) as exc:
        fail(f"the demo failed: {exc or type(exc).__name__}")
    say(f"recorded session {session_id} into {show_db(db_path)}")
    from inspector.tui.cli import has_terminal, run_tui

    if not no_tui and has_terminal():
        run_tui(db_location(db_path), session_id)
        return
    elif not no_tui:
        say("(not a terminal: printing a summary instead of opening the TUI)")
    with open_store(db_path) as store:
        say(summarize_session(store, session_id, db_path))
