"""An energy-based voice activity detector standing in for the service's server VAD.

The real VAD is a model; clients only see its decisions (`speech_started {audio_start_ms}`,
`speech_stopped {audio_end_ms}`) and their timing. Loud frames are speech, quiet frames are not:
enough for test audio (a tone between silences) and for a microphone in a quiet room.

`threshold` (0..1) maps linearly onto a level in dBFS: 0.5 -> -35 dBFS, 0.9 -> -15 dBFS.
Positions are milliseconds of audio appended since the session began, as on the wire:
`audio_start_ms` already includes `prefix_padding_ms`, `audio_end_ms` includes the silence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from inspector.audio import bytes_per_ms
from inspector.mock.audio import frame_levels

__all__ = ["FRAME_MS", "EnergyVad", "VadEvent", "threshold_dbfs"]

FRAME_MS = 20
# Two loud frames in a row before speech counts, so a click does not start a turn.
MIN_SPEECH_FRAMES = 2
# semantic_vad waits for the end of a thought; eagerness sets how long silence must last here.
SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 500, "auto": 500, "high": 250}


def threshold_dbfs(threshold: float) -> float:
    return -60.0 + 50.0 * threshold


@dataclass(frozen=True, slots=True)
class VadEvent:
    kind: Literal["started", "stopped"]
    ms: int


@dataclass
class EnergyVad:
    position_ms: int = 0
    in_speech: bool = False
    _rest: bytes = b""
    _loud_run: int = 0
    _quiet_ms: int = 0
    _fmt: str = field(default="audio/pcm")

    def reset(self) -> None:
        """Forget a speech in progress (after `input_audio_buffer.clear`)."""
        self.in_speech = False
        self._loud_run = 0
        self._quiet_ms = 0

    def feed(self, data: bytes, fmt: str, config: dict[str, Any] | None) -> list[VadEvent]:
        """Advance over appended audio; `config` is the session's `turn_detection` (None: the
        position still advances, so that later speech is placed right)."""
        if fmt != self._fmt:
            self._rest, self._fmt = b"", fmt
        frame_bytes = int(bytes_per_ms(fmt) * FRAME_MS)
        data = self._rest + data
        whole = len(data) - len(data) % frame_bytes
        self._rest = data[whole:]
        if config is None:
            self.position_ms += whole // frame_bytes * FRAME_MS
            self.reset()
            return []
        limit = threshold_dbfs(float(config.get("threshold", 0.5)))
        padding = int(config.get("prefix_padding_ms", 300))
        if config.get("type") == "semantic_vad":
            silence = SEMANTIC_SILENCE_MS.get(config.get("eagerness", "auto"), 500)
        else:
            silence = int(config.get("silence_duration_ms", 200))
        events: list[VadEvent] = []
        for level in frame_levels(data[:whole], fmt, FRAME_MS):
            self.position_ms += FRAME_MS
            loud = level > limit
            if not self.in_speech:
                self._loud_run = self._loud_run + 1 if loud else 0
                if self._loud_run >= MIN_SPEECH_FRAMES:
                    onset = self.position_ms - MIN_SPEECH_FRAMES * FRAME_MS
                    self.in_speech, self._quiet_ms, self._loud_run = True, 0, 0
                    events.append(VadEvent("started", max(0, onset - padding)))
            else:
                self._quiet_ms = 0 if loud else self._quiet_ms + FRAME_MS
                if self._quiet_ms >= silence:
                    self.in_speech = False
                    events.append(VadEvent("stopped", self.position_ms))
        return events
