"""Audio the mock produces and measures: PCM16 24 kHz mono and G.711 (8 kHz) at 8 bits.

The mock never needs real speech: assistant audio is a tone of the right length (so players,
meters and truncation maths behave), and the VAD only needs the loudness of each frame.
"""

from __future__ import annotations

import bisect
import math
import struct
from functools import lru_cache

from inspector.audio import G711_RATE, PCM_RATE, bytes_per_ms, decode_to_pcm16, g711_table

__all__ = ["frame_levels", "tone"]

# --- G.711 encoding (decoding lives in inspector.audio) --------------------------------------


@lru_cache(maxsize=2)
def _encode_table(fmt: str) -> tuple[list[int], list[int]]:
    # Encoding by nearest decoded value: 20 lines shorter than the G.711 bit twiddling and
    # exact enough for a tone.
    pairs = sorted((value, code) for code, value in enumerate(g711_table(fmt)))
    return [v for v, _ in pairs], [c for _, c in pairs]


def _encode_sample(fmt: str, sample: int) -> int:
    values, codes = _encode_table(fmt)
    i = bisect.bisect_left(values, sample)
    if i == len(values) or (i > 0 and sample - values[i - 1] <= values[i] - sample):
        i -= 1
    return codes[i]


# --- levels ----------------------------------------------------------------------------------


def frame_levels(data: bytes, fmt: str, frame_ms: int) -> list[float]:
    """RMS level of each whole frame in dBFS (-100 for digital silence)."""
    samples = decode_to_pcm16(data, fmt)
    rate = PCM_RATE if fmt == "audio/pcm" else G711_RATE
    n = rate * frame_ms // 1000
    levels = []
    for start in range(0, len(samples) - n + 1, n):
        frame = samples[start : start + n]
        power = sum(s * s for s in frame) / n
        levels.append(10 * math.log10(power / 32768**2) if power > 0 else -100.0)
    return levels


# --- synthesis -------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _period(fmt: str, frequency: int, amplitude: float) -> bytes:
    rate = PCM_RATE if fmt == "audio/pcm" else G711_RATE
    n = rate // frequency  # frequencies are chosen to divide the rate: a period tiles exactly
    samples = [round(amplitude * 32767 * math.sin(2 * math.pi * i / n)) for i in range(n)]
    if fmt == "audio/pcm":
        return struct.pack(f"<{n}h", *samples)
    return bytes(_encode_sample(fmt, s) for s in samples)


def tone(fmt: str, duration_ms: int, frequency: int = 200, amplitude: float = 0.2) -> bytes:
    """A sine tone of exactly `duration_ms` in `fmt`; cheap (tiles one cached period)."""
    size = int(duration_ms * bytes_per_ms(fmt))
    if fmt == "audio/pcm":
        size -= size % 2
    period = _period(fmt, frequency, amplitude)
    return (period * (size // len(period) + 1))[:size]
