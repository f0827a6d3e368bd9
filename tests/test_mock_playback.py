"""`inspector mock --from-session` and the command line, over real sockets and a real database."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_mock_conformance import load
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from inspector.mock.cli import mock_command
from inspector.mock.outbox import Close
from inspector.mock.playback import PlaybackSession, Recorded, load_recording
from inspector.mock.server import run_mock
from inspector.protocol import Direction
from inspector.store import FrameIn, Store

TIMEOUT = 10


def recording_of(name: str, gap: float = 0.0) -> list[Recorded]:
    """A fixture as a recording, with `gap` seconds between consecutive frames."""
    rows = [r for r in load(name) if r["kind"] == "message"]
    return [Recorded(r["direction"], i * gap, json.dumps(r["data"])) for i, r in enumerate(rows)]


def test_playback_sends_the_opening_frames_then_what_followed_each_client_frame():
    recording = [
        Recorded("server", 0.0, "s0"),
        Recorded("client", 0.1, "c1"),
        Recorded("server", 0.3, "s1"),
        Recorded("server", 0.4, "s2"),
        Recorded("client", 0.5, "c2"),
        Recorded("client", 0.6, "c3"),
        Recorded("server", 0.9, "s3"),
    ]
    session = PlaybackSession(recording, gaps=True, close=Close(1000))
    session.connect(10.0)
    assert session.pop_due(10.0) == ["s0"]
    session.receive("anything", 20.0)
    assert session.pop_due(20.1) == []  # s1 was 0.2 s after c1
    assert session.pop_due(20.2) == ["s1"]
    assert session.pop_due(20.3) == ["s2"]
    session.receive("x", 30.0)
    assert session.next_due() is None  # nothing followed c2
    session.receive("y", 40.0)
    assert session.pop_due(40.3) == ["s3", Close(1000)]
    session.receive("z", 50.0)  # more client frames than recorded: silence
    assert session.next_due() is None


def test_playback_without_gaps_sends_at_once():
    session = PlaybackSession([Recorded("client", 1.0, "c"), Recorded("server", 5.0, "s")], gaps=False)
    session.connect(0.0)
    session.receive("c", 0.0)
    assert session.pop_due(0.0) == ["s"]


def store_with(tmp_path: Path, name: str, gap: float = 0.0) -> tuple[Path, int]:
    db = tmp_path / "rec.db"
    frames = [FrameIn(Direction(r.direction), int(r.t * 1e9), r.frame) for r in recording_of(name, gap)]
    with Store(db) as store:
        session_id = store.import_session(frames, close_code=1000, close_side="server")
    return db, session_id


async def test_from_session_replays_a_stored_recording_byte_for_byte(tmp_path):
    db, session_id = store_with(tmp_path, "tool_call_round")
    recording, close = load_recording(db, session_id)
    assert close == Close(1000, "")
    expected = [r.frame for r in recording if r.direction == "server"]
    received: list[str] = []
    async with (
        asyncio.timeout(TIMEOUT),
        run_mock(session_factory=lambda model: PlaybackSession(recording, gaps=False, close=close)) as mock,
        connect(mock.realtime_url) as ws,
    ):
        for record in recording:
            if record.direction == "client":
                await ws.send(record.frame)
        with pytest.raises(ConnectionClosed):
            while True:
                received.append(await ws.recv())
        assert ws.close_code == 1000
    assert received == expected


async def test_from_session_keeps_the_recorded_gaps(tmp_path):
    recording = recording_of("text_in_audio_out_turn", gap=0.01)
    async with (
        asyncio.timeout(TIMEOUT),
        run_mock(session_factory=lambda model: PlaybackSession(recording)) as mock,
        connect(mock.realtime_url) as ws,
    ):
        await ws.recv()  # session.created
        for record in recording:
            if record.direction == "client":
                await ws.send(record.frame)
        started = time.monotonic()
        for _ in range(sum(1 for r in recording if r.direction == "server") - 1):
            await ws.recv()
        elapsed = time.monotonic() - started
    # 20 server frames follow the response.create, 0.01 s apart in the recording.
    assert elapsed >= 0.18


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_busy_port_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(mock_command, ["--listen", f"127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: cannot listen on 127.0.0.1:{port}: address already in use"


async def test_cli_sigterm_closes_clients_with_1001_and_exits_cleanly():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspector", "mock", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:  # until it listens
                try:
                    ws = await connect(f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime")
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            async with ws:
                assert json.loads(await ws.recv())["type"] == "session.created"
                proc.send_signal(signal.SIGTERM)
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            output, _ = await asyncio.to_thread(proc.communicate)
        assert proc.returncode == 0, output.decode()
        assert b"Traceback" not in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_reports_bad_scripts_and_missing_sessions(tmp_path):
    script = tmp_path / "bad.txt"
    script.write_text("say hi\nwhen /x/ dance\n")
    result = CliRunner().invoke(mock_command, ["--script", str(script), "--listen", f"127.0.0.1:{free_port()}"])
    assert result.exit_code == 1 and "line 2" in result.output
    db, _ = store_with(tmp_path, "text_in_audio_out_turn")
    result = CliRunner().invoke(mock_command, ["--from-session", "999", "--db", str(db)])
    assert result.exit_code == 1 and result.output.startswith("error: ") and "Traceback" not in result.output


def test_cli_help_documents_every_option_and_the_script_format():
    result = CliRunner().invoke(mock_command, ["--help"])
    for option in (
        "--listen",
        "--script",
        "--seed",
        "--latency",
        "--require-key",
        "--from-session",
        "--db",
    ):
        assert option in result.output
    for rule in (
        "when /REGEX/FLAGS say TEXT",
        "after NAME say TEXT",
        "hear TEXT",
        "response.cancelled",
    ):
        assert rule in result.output


def test_inspector_cli_registers_mock():
    from inspector.cli import main

    assert main.get_command(None, "mock") is mock_command  # type: ignore[arg-type]
