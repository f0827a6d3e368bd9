"""`inspector demo` end to end in-process: the mock, the tap and the openai SDK on real sockets
of 127.0.0.1, recording into a real SQLite file (run 20× faster than real time)."""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from test_formats import frames_of

from inspector.cli import main
from inspector.demo import API_KEY, speech_like_pcm
from inspector.display import format_latencies
from inspector.formats import import_files
from inspector.formats.jsonl import export_jsonl
from inspector.formats.wav import export_wav
from inspector.protocol import Direction
from inspector.store import Store
from inspector.turns import read_turns


def run_demo(db: Path, *extra: str):
    result = CliRunner().invoke(main, ["demo", "--db", str(db), "--speed", "20", *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    return db, run_demo(db, "--no-tui").stdout


def test_demo_records_a_session_with_every_kind_of_event(demo):
    db, out = demo
    with Store(db, create=False) as store:
        (info,) = store.sessions()
        assert (info.source, info.label, info.model, info.status) == ("tap", "demo", "gpt-realtime", "closed")
        assert (info.close_side, info.close_code) == ("client", 1000)
        events = list(store.events(info.id, with_frames=True))
    kinds = {(e.direction, e.type) for e in events}
    data = [e.data() for e in events]
    C, S = Direction.CLIENT, Direction.SERVER
    # A text turn.
    assert {(C, "conversation.item.create"), (C, "response.create"), (S, "response.output_text.delta")} <= kinds
    # An audio turn with server VAD, 20 ms appends of PCM16, audio out.
    appends = [d for d in data if d and d.get("type") == "input_audio_buffer.append"]
    assert len(appends) == 110 and all(len(a["audio"]) == 1280 for a in appends)
    assert {
        (S, "input_audio_buffer.speech_started"),
        (S, "input_audio_buffer.speech_stopped"),
        (S, "input_audio_buffer.committed"),
        (S, "response.output_audio.delta"),
    } <= kinds
    assert (C, "input_audio_buffer.commit") in kinds  # only the error step commits by hand
    # A function call round trip.
    call = next(d for d in data if d and d.get("type") == "response.function_call_arguments.done")
    assert call["name"] == "get_weather" and orjson.loads(call["arguments"]) == {"city": "Paris"}
    outputs = [
        d["item"]
        for d in data
        if d and d.get("type") == "conversation.item.create" and d["item"]["type"] == "function_call_output"
    ]
    assert [o["call_id"] for o in outputs] == [call["call_id"]]
    # A cancelled response.
    statuses = [d["response"]["status"] for d in data if d and d.get("type") == "response.done"]
    assert statuses.count("cancelled") == 1 and statuses.count("completed") == 4
    assert (C, "response.cancel") in kinds
    # One error.
    errors = [d["error"]["code"] for d in data if d and d.get("type") == "error"]
    assert errors == ["input_audio_buffer_commit_empty"]
    # What it printed along the way, numbered by turn (the refused commit joins turn 4), and the summary.
    for line in ("turn 1  text", "turn 2  audio", "turn 3  function call", "turn 4  cancelled", "turn 4  error"):
        assert line in out
    assert "recorded session 1" in out
    assert "cancelled (client_cancelled)" in out and "inspector tui --db" in out


def test_demo_steps_give_the_turn_models_latencies_with_the_summarys_numbers_and_names(demo):
    db, out = demo
    latency = r"(→created \S+(?: ms)?  →output \S+(?: ms)?  →done \S+(?: ms)?)"
    steps = dict(re.findall(rf"^turn (\d)  (?:text|audio|function call|cancelled) .*  {latency}$", out, re.M))
    summary = dict(re.findall(rf"^    (\d)  .*  {latency}", out, re.M))
    assert sorted(steps) == ["1", "2", "3", "4"] and steps == summary
    with Store(db, create=False) as store:
        turns = read_turns(store, 1)
    assert [format_latencies(t) for t in turns] == [steps[str(n)] for n in (1, 2, 3, 4)]
    assert " ms)" not in out.split("recorded session")[0]  # no client wall-clock times any more


def test_demo_api_key_never_reaches_the_database(demo):
    db, _ = demo
    raw = b"".join(p.read_bytes() for p in db.parent.glob("demo.db*"))
    assert API_KEY.encode() not in raw
    with Store(db, create=False) as store:
        headers = dict(store.sessions()[0].request_headers)
    assert headers["Authorization"] == "[REDACTED]"


def test_demo_session_exports_its_audio_and_round_trips_through_jsonl(demo, tmp_path: Path):
    db, _ = demo
    with Store(db, create=False) as source:
        files = {f.role: f for f in export_wav(source, 1, tmp_path / "demo")}
        buffer = io.BytesIO()
        export_jsonl(source, 1, buffer)
        original = frames_of(source, 1)
    with wave.open(str(files["input"].path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.getnframes() == 2200 * 24  # 300 ms silence + 1200 ms speech + 700 ms silence
    assert files["output"].seconds == pytest.approx(3.42, abs=0.1)
    path = tmp_path / "demo.jsonl"
    path.write_bytes(buffer.getvalue())
    with Store(tmp_path / "copy.db") as copy:
        (imp,) = import_files(copy, [path])
        assert frames_of(copy, imp.session_id) == original


def test_demo_prints_a_summary_when_stdout_is_not_a_terminal(tmp_path: Path):
    out = run_demo(tmp_path / "d.db").stdout  # CliRunner's stdout is not a TTY
    assert "not a terminal" in out and "event types:" in out


def test_demo_opens_the_tui_on_the_recorded_session_in_a_terminal(tmp_path: Path, monkeypatch):
    import inspector.demo
    import inspector.tui.cli

    opened = []
    monkeypatch.setattr(inspector.tui.cli, "run_tui", lambda db, session_id, *a: opened.append((db, session_id)))
    monkeypatch.setattr(inspector.tui.cli, "has_terminal", lambda: True)
    result = run_demo(tmp_path / "t.db")
    assert opened == [(tmp_path / "t.db", 1)]
    assert "event types:" not in result.stdout


def test_speech_like_audio_is_loud_throughout_and_exactly_as_long_as_asked():
    import array
    import math

    pcm = speech_like_pcm(1000)
    samples = array.array("h", pcm)
    assert len(samples) == 24000
    for start in range(480, 24000 - 960, 480):  # every 20 ms frame away from the fades
        frame = samples[start : start + 480]
        rms = math.sqrt(sum(s * s for s in frame) / len(frame))
        assert rms > 600, start  # about -35 dBFS: the VAD threshold at 0.5


def test_demo_ignores_a_proxy_in_the_environment(tmp_path: Path, monkeypatch):
    # Everything is on loopback: a proxy (which could not reach it) must not be used for it.
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    run_demo(tmp_path / "p.db", "--no-tui")
    with Store(tmp_path / "p.db", create=False) as store:
        assert store.sessions()[0].status == "closed"


def test_the_demo_has_four_turns_with_its_tool_round_inside_the_third(demo):
    from inspector.turns import Trigger, read_turns

    db, _ = demo
    with Store(db, create=False) as store:
        turns = read_turns(store, 1)
    assert [t.trigger for t in turns] == [Trigger.USER_TEXT, Trigger.USER_AUDIO, Trigger.USER_TEXT, Trigger.USER_TEXT]
    assert [len(t.responses) for t in turns] == [1, 1, 2, 1]
    assert turns[2].tool_calls[0].name == "get_weather" and turns[2].tool_calls[0].output
    assert turns[3].status.startswith("cancelled")
    assert "input_audio_buffer_commit_empty" in turns[3].errors[0]  # step 5's refused commit
