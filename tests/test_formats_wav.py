"""WAV export on real SQLite files: durations equal to the audio sent, readable by `wave`,
G.711 decoded and upsampled, one turn at a time; and the pure turn finder."""

from __future__ import annotations

import base64
import math
import struct
import wave
from array import array
from pathlib import Path

import orjson
import pytest

from inspector.audio import decode_to_pcm16
from inspector.formats.wav import NoAudio, export_wav, upsample3


def ulaw_to_pcm16(data: bytes):
    return decode_to_pcm16(data, "audio/pcmu")


def alaw_to_pcm16(data: bytes):
    return decode_to_pcm16(data, "audio/pcma")


from inspector.protocol import Direction
from inspector.store import FrameIn, Store

C, S = Direction.CLIENT, Direction.SERVER


def ev(direction: Direction, t_ms: int, **data) -> FrameIn:
    return FrameIn(direction, t_ms * 1_000_000, orjson.dumps(data).decode())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pcm_tone(ms: int, freq: float = 440.0, amplitude: int = 8000, phase: int = 0) -> bytes:
    n = ms * 24
    return struct.pack(
        f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * freq * (phase + i) / 24000)) for i in range(n))
    )


def read_wav(path: Path) -> tuple[int, int, int, bytes]:
    with wave.open(str(path), "rb") as w:
        return w.getnchannels(), w.getsampwidth(), w.getframerate(), w.readframes(w.getnframes())


def session_created(input_fmt: dict | None = None, output_fmt: dict | None = None) -> FrameIn:
    audio = {
        "input": {"format": input_fmt or {"type": "audio/pcm", "rate": 24000}},
        "output": {"format": output_fmt or {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
    }
    return ev(S, 0, type="session.created", session={"type": "realtime", "audio": audio})


def audio_turn(t: int, response: str, user_audio: list[bytes], model_audio: list[bytes]) -> list[FrameIn]:
    """Appends, a server-VAD commit, a response with audio deltas."""
    frames = [
        ev(C, t + i * 20, type="input_audio_buffer.append", audio=b64(chunk)) for i, chunk in enumerate(user_audio)
    ]
    t += 20 * len(user_audio)
    frames += [
        ev(S, t + 1, type="input_audio_buffer.committed", item_id=f"item_u{response}"),
        ev(S, t + 2, type="response.created", response={"id": response, "status": "in_progress"}),
    ]
    frames += [
        ev(S, t + 3 + i, type="response.output_audio.delta", response_id=response, item_id="item_a", delta=b64(chunk))
        for i, chunk in enumerate(model_audio)
    ]
    frames.append(ev(S, t + 50, type="response.done", response={"id": response, "status": "completed"}))
    return frames


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "wav.db") as s:
        yield s


def test_pcm16_export_writes_exactly_the_audio_appended_and_received_at_24khz(store: Store, tmp_path: Path):
    user = [pcm_tone(20, phase=i * 480) for i in range(50)] + [b"\x01\x02\x03"]  # 1 s + an odd tail
    model = [pcm_tone(40, 220.0, phase=i * 960) for i in range(12)] + [b"\x05"]  # 480 ms, odd split
    frames = [session_created(), *audio_turn(100, "resp_1", user, model)]
    session_id = store.import_session(frames)
    files = {f.role: f for f in export_wav(store, session_id, tmp_path / "out" / "s1")}
    assert sorted(files) == ["input", "output"]
    assert files["input"].path == tmp_path / "out" / "s1-input.wav"
    channels, width, rate, pcm = read_wav(files["input"].path)
    assert (channels, width, rate) == (1, 2, 24000)
    joined = b"".join(user)
    assert pcm == joined[: len(joined) // 2 * 2]  # byte for byte; the dangling half sample dropped
    assert len(pcm) / 2 / 24000 == pytest.approx(1.0 + 1 / 24000)
    _, _, _, out = read_wav(files["output"].path)
    assert len(out) // 2 == len(b"".join(model)) // 2 and files["output"].seconds == pytest.approx(0.48, abs=1e-4)
    assert out[:4] == model[0][:4]


def test_g711_sessions_are_decoded_and_upsampled_to_24khz_with_the_same_duration(store: Store, tmp_path: Path):
    # The client asks for μ-law in, A-law out; the server confirms. 8 kHz: 20 ms = 160 bytes.
    mulaw_chunks = [bytes((i * 7 + k) % 256 for k in range(160)) for i in range(25)]  # 500 ms
    alaw_chunks = [bytes([0xD5, 0x55, 0xAA, 0x2A] * 40) for _ in range(10)]  # 200 ms
    g711 = {"input": {"format": {"type": "audio/pcmu"}}, "output": {"format": {"type": "audio/pcma"}}}
    frames = [
        session_created(),
        ev(C, 5, type="session.update", session={"type": "realtime", "audio": g711}),
        ev(S, 6, type="session.updated", session={"type": "realtime", "audio": g711}),
        *audio_turn(100, "resp_1", mulaw_chunks, alaw_chunks),
    ]
    session_id = store.import_session(frames)
    files = {f.role: f for f in export_wav(store, session_id, tmp_path / "g711.wav")}
    assert files["input"].path.name == "g711-input.wav"
    assert files["input"].source_formats == ("audio/pcmu",)
    channels, width, rate, pcm = read_wav(files["input"].path)
    assert (channels, width, rate) == (1, 2, 24000)
    assert len(pcm) // 2 == 3 * 160 * 25  # 500 ms at 24 kHz
    samples = array("h", pcm)
    expected = upsample3(ulaw_to_pcm16(b"".join(mulaw_chunks)))
    assert samples == expected
    assert samples[0::3] == ulaw_to_pcm16(b"".join(mulaw_chunks))  # the original samples are kept
    _, _, _, out = read_wav(files["output"].path)
    assert len(out) // 2 / 24000 == pytest.approx(0.2)
    assert array("h", out)[0:12:3].tolist() == [8, -8, 32256, -32256]


def test_beta_g711_format_names_are_understood(store: Store, tmp_path: Path):
    frames = [
        ev(S, 0, type="session.created", session={"input_audio_format": "g711_ulaw", "output_audio_format": "pcm16"}),
        ev(C, 10, type="input_audio_buffer.append", audio=b64(b"\xff" * 800)),  # 100 ms of μ-law silence
    ]
    session_id = store.import_session(frames)
    (info,) = export_wav(store, session_id, tmp_path / "beta")
    assert info.role == "input" and info.seconds == pytest.approx(0.1)
    assert set(array("h", read_wav(info.path)[3])) == {0}


def test_g711_decoders_match_the_itu_tables():
    assert ulaw_to_pcm16(bytes([0x00, 0x80, 0x7F, 0xFF, 0x0F, 0x10, 0x8F])).tolist() == [
        -32124,
        32124,
        0,
        0,
        -16764,
        -15996,
        16764,
    ]
    assert alaw_to_pcm16(bytes([0x55, 0xD5, 0x2A, 0xAA, 0x00, 0x80])).tolist() == [-8, 8, -32256, 32256, -5504, 5504]
    ulaw = ulaw_to_pcm16(bytes(range(256))).tolist()
    # Monotonic within each sign half, as the companding curve is.
    assert ulaw[:128] == sorted(ulaw[:128]) and ulaw[128:] == sorted(ulaw[128:], reverse=True)
    assert ulaw[128:] == [-v for v in ulaw[:128]]


def test_one_turn_exports_only_that_turns_audio(store: Store, tmp_path: Path):
    first_user, second_user = [pcm_tone(20)] * 10, [pcm_tone(20, 300.0)] * 30
    frames = [
        session_created(),
        *audio_turn(100, "resp_1", first_user, [b"\x01\x00" * 2400]),
        *audio_turn(2000, "resp_2", second_user, [b"\x02\x00" * 4800] * 2),
    ]
    session_id = store.import_session(frames)
    files = {f.role: f for f in export_wav(store, session_id, tmp_path / "t2", turn=2)}
    assert files["input"].seconds == pytest.approx(0.6)
    assert read_wav(files["input"].path)[3] == b"".join(second_user)
    assert read_wav(files["output"].path)[3] == b"\x02\x00" * 9600
    with pytest.raises(IndexError, match="2 turn"):
        export_wav(store, session_id, tmp_path / "t3", turn=3)


def test_a_session_without_audio_is_refused(store: Store, tmp_path: Path):
    session_id = store.import_session([ev(S, 0, type="session.created", session={})])
    with pytest.raises(NoAudio):
        export_wav(store, session_id, tmp_path / "none")
    assert not list(tmp_path.glob("none*"))
