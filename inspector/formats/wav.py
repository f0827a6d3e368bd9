"""Audio out of a session: the user's input and the model's output as two 24 kHz mono WAV files.

Input audio is every `input_audio_buffer.append`; output audio every `response.output_audio.delta`
(beta: `response.audio.delta`); with a turn number, only that turn's (see `inspector.turns`). The audio
format comes from the session events in the recording as they happen: `session.created` /
`session.updated` from the server and `session.update` from the client (GA
`audio.input.format.type` / `audio.output.format.type`, beta `input_audio_format` /
`output_audio_format`). PCM16 is written as is; G.711 μ-law and A-law (8 kHz) are decoded here
(the stdlib's `audioop` is gone since Python 3.13) and upsampled ×3 by linear interpolation, so
every file is 24 kHz 16-bit mono and its duration is exactly that of the audio sent.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import os
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from inspector.audio import decode_to_pcm16
from inspector.protocol import AUDIO_FIELDS, Direction
from inspector.store import Store
from inspector.turns import INPUT_AUDIO_TYPES, OUTPUT_AUDIO_TYPES, read_turns

__all__ = [
    "AudioFormats",
    "NoAudio",
    "WavFile",
    "export_wav",
    "upsample3",
    "wav_name",
    "wav_paths",
]

RATE = 24000
_BETA_FORMATS = {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}
_SESSION_TYPES = {"session.created", "session.updated", "session.update"}


class NoAudio(ValueError):
    """The session (or the turn) holds no audio to export."""


class Upsampler:
    """8 kHz → 24 kHz by linear interpolation, fed chunk by chunk: each input sample becomes three
    output samples (itself and two steps toward the next one), the last one is held at the end."""

    def __init__(self) -> None:
        self._held: int | None = None

    def feed(self, samples: array) -> array:
        out = array("h")
        if not samples:
            return out
        seq = ([self._held] if self._held is not None else []) + samples.tolist()
        for a, b in itertools.pairwise(seq):
            step = b - a
            out.extend((a, a + step // 3, a + (2 * step) // 3))
        self._held = seq[-1]
        return out

    def flush(self) -> array:
        held, self._held = self._held, None
        return array("h", [held] * 3) if held is not None else array("h")


def upsample3(samples: array) -> array:
    """The whole-buffer form of `Upsampler`: len(out) == 3 * len(samples)."""
    up = Upsampler()
    return up.feed(samples) + up.flush()


# -- formats as the session goes --------------------------------------------------------------


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


@dataclass
class AudioFormats:
    """The input and output audio formats in force, updated event by event."""

    input: str = "audio/pcm"
    output: str = "audio/pcm"

    def update(self, event: Any) -> None:
        session = _dig(event, "session")
        if not isinstance(session, dict):
            return
        for side in ("input", "output"):
            fmt = _dig(session, "audio", side, "format", "type")
            beta = session.get(f"{side}_audio_format")
            if isinstance(fmt, str):
                setattr(self, side, fmt)
            elif isinstance(beta, str) and beta in _BETA_FORMATS:
                setattr(self, side, _BETA_FORMATS[beta])


# -- writing ----------------------------------------------------------------------------------


@dataclass
class WavFile:
    role: str  # input or output
    path: Path
    frames: int = 0  # 24 kHz samples written
    chunks: int = 0  # audio events used
    source_formats: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return self.frames / RATE


class _Track:
    """One WAV file, opened on the first audio. Written as `NAME.partial` and renamed by
    `close()`: an export that fails half way (a damaged database) leaves no short WAV file that
    looks whole; `discard()` removes it."""

    def __init__(self, role: str, path: Path) -> None:
        self.info = WavFile(role, path)
        self._partial = path.with_name(path.name + ".partial")
        self._wave: wave.Wave_write | None = None
        self._odd = b""  # half a PCM16 sample carried to the next chunk
        self._up: Upsampler | None = None
        self._formats: list[str] = []

    def _write(self, samples: array) -> None:
        if self._wave is None:
            self.info.path.parent.mkdir(parents=True, exist_ok=True)
            self._wave = wave.open(str(self._partial), "wb")  # noqa: SIM115 - open across write() calls, closed in close()
            self._wave.setnchannels(1)
            self._wave.setsampwidth(2)
            self._wave.setframerate(RATE)
        if sys.byteorder == "big":
            samples.byteswap()
        self._wave.writeframes(samples.tobytes())
        self.info.frames += len(samples)

    def add(self, audio: bytes, fmt: str) -> None:
        self.info.chunks += 1
        if fmt not in self._formats:
            self._formats.append(fmt)
        if fmt in ("audio/pcmu", "audio/pcma"):
            if self._up is None:
                self._up = Upsampler()
            self._write(self._up.feed(decode_to_pcm16(audio, fmt)))
            return
        self._flush_g711()
        data = self._odd + audio
        cut = len(data) - len(data) % 2
        self._odd = data[cut:]
        samples = array("h")
        samples.frombytes(data[:cut])
        if sys.byteorder == "big":
            samples.byteswap()
        self._write(samples)

    def _flush_g711(self) -> None:
        if self._up is not None:
            tail = self._up.flush()
            self._up = None
            if tail:
                self._write(tail)

    def close(self) -> WavFile:
        self._flush_g711()
        if self._wave is not None:
            self._wave.close()
            os.replace(self._partial, self.info.path)
        self.info.source_formats = tuple(self._formats)
        return self.info

    def discard(self) -> None:
        if self._wave is not None:
            with contextlib.suppress(Exception):  # the error being raised matters, not this one
                self._wave.close()
        self._partial.unlink(missing_ok=True)


def wav_name(session_id: int, turn: int | None = None) -> str:
    """The files' prefix when only a directory is given: `session-N[-turn-T]`."""
    return f"session-{session_id}" + (f"-turn-{turn}" if turn else "")


def wav_paths(prefix: Path) -> dict[str, Path]:
    """`prefix-input.wav` and `prefix-output.wav` (a trailing `.wav` on the prefix is dropped)."""
    base = prefix.with_suffix("") if prefix.suffix.lower() == ".wav" else prefix
    return {role: base.with_name(f"{base.name}-{role}.wav") for role in ("input", "output")}


def export_wav(
    store: Store,
    session_id: int,
    prefix: Path,
    *,
    turn: int | None = None,
) -> list[WavFile]:
    """Write the session's input and output audio, or one turn's (numbered as everywhere:
    `inspector.turns`): the user's speech and every spoken answer of the turn, tool rounds
    included. Returns the files written (a side with no audio writes no file). Raises `NoAudio`
    when there is nothing to write and `IndexError` for a turn that does not exist."""
    store.session(session_id)  # SessionNotFound before any file is created
    wanted: set[int] | None = None
    if turn is not None:
        turns = read_turns(store, session_id)
        if not 1 <= turn <= len(turns):
            raise IndexError(f"session {session_id} has {len(turns)} turn(s); there is no turn {turn}")
        chosen = turns[turn - 1]
        wanted = set(chosen.input_seqs) | set(chosen.output_seqs)
    tracks = {role: _Track(role, path) for role, path in wav_paths(prefix).items()}
    try:
        _write_tracks(store, session_id, tracks, wanted)
    except BaseException:
        for track in tracks.values():
            track.discard()
        raise
    written = [track.close() for track in tracks.values()]
    written = [w for w in written if w.frames]
    if not written:
        scope = f"session {session_id}" if wanted is None else f"that turn of session {session_id}"
        raise NoAudio(f"{scope} has no audio (no input_audio_buffer.append or output audio deltas)")
    return written


def _write_tracks(store: Store, session_id: int, tracks: dict[str, _Track], wanted: set[int] | None) -> None:
    """Feed each audio event of the session (or of `wanted` seqs) to its side's track."""
    formats = AudioFormats()
    for ev in store.events(session_id):  # rows only: frames are fetched for the few needed
        if ev.type in _SESSION_TYPES:
            formats.update(_parse(store.frame(session_id, ev.seq)))
            continue
        client = ev.direction == Direction.CLIENT
        if client and ev.type in INPUT_AUDIO_TYPES:
            role, fmt = "input", formats.input
        elif not client and ev.type in OUTPUT_AUDIO_TYPES:
            role, fmt = "output", formats.output
        else:
            continue
        if wanted is not None and ev.seq not in wanted:
            continue
        audio = _audio(_parse(store.frame(session_id, ev.seq)), ev.type)
        if audio:
            tracks[role].add(audio, fmt)


def _parse(frame: str | bytes) -> Any:
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None


def _audio(event: Any, event_type: str | None) -> bytes:
    value = _dig(event, AUDIO_FIELDS.get(event_type or "", ""))
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value)
    except (binascii.Error, ValueError):
        return b""
