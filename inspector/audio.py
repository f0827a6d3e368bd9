"""Audio formats of the Realtime API: PCM16 24 kHz mono and G.711 μ-law / A-law at 8 kHz.

Pure code shared by the mock (VAD levels, synthesis), the WAV export and the event summaries.
G.711 is decoded here because the stdlib's `audioop` is gone since Python 3.13.
"""

from __future__ import annotations

from array import array
from functools import lru_cache

__all__ = ["G711_RATE", "PCM_RATE", "bytes_per_ms", "decode_to_pcm16", "g711_table"]

PCM_RATE = 24000
G711_RATE = 8000


def bytes_per_ms(fmt: str) -> float:
    """48 bytes per ms for PCM16 24 kHz (`audio/pcm`), 8 for G.711 (`audio/pcmu`, `audio/pcma`)."""
    return PCM_RATE * 2 / 1000 if fmt == "audio/pcm" else G711_RATE / 1000


def _ulaw_to_linear(code: int) -> int:
    code = ~code & 0xFF
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if code & 0x80 else magnitude


def _alaw_to_linear(code: int) -> int:
    code ^= 0x55
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    if exponent == 0:
        magnitude = (mantissa << 4) + 8
    else:
        magnitude = ((mantissa << 4) + 0x108) << (exponent - 1)
    return magnitude if code & 0x80 else -magnitude


@lru_cache(maxsize=2)
def g711_table(fmt: str) -> tuple[int, ...]:
    """The 16-bit sample of each of the 256 codes of `audio/pcmu` or `audio/pcma`."""
    convert = _ulaw_to_linear if fmt == "audio/pcmu" else _alaw_to_linear
    return tuple(convert(code) for code in range(256))


def decode_to_pcm16(data: bytes, fmt: str) -> array:
    """Signed 16-bit samples at the format's own rate, whatever the input format."""
    if fmt == "audio/pcm":
        samples = array("h")
        samples.frombytes(data[: len(data) // 2 * 2])
        return samples
    return array("h", map(g711_table(fmt).__getitem__, data))
