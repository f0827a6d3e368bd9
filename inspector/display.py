"""Formatting shared by the CLI and the TUI: times, durations, offsets, sizes, short ids."""

from __future__ import annotations

import math
import time

__all__ = [
    "LATENCIES",
    "SIDEBAND_NOTE",
    "fit_end",
    "fit_middle",
    "format_bytes",
    "format_duration",
    "format_latencies",
    "format_offset",
    "format_started",
    "plural",
    "short_id",
]


# What an attached session (inspector attach) holds, said wherever one is shown.
SIDEBAND_NOTE = (
    "only what the sideband saw: the session's server events; the caller's own client events "
    "(WebRTC data channel, SIP) and other sideband users' client events are not there"
)


# A turn's latencies (`inspector.turns.Turn`), all from its input (the commit of the user's audio or
# the response.create after a message): attribute, name (shown everywhere a latency is: the
# turns view, the demo, `inspector turns` in capitals) and what it runs to.
LATENCIES = (
    ("to_created_ms", "→created", "response.created"),
    ("to_first_output_ms", "→output", "first text or audio"),
    ("to_done_ms", "→done", "last response.done"),
)


def format_latencies(turn: object) -> str:
    """`→created 282 ms  →output 482 ms  →done 544 ms` (— for unknown)."""
    values = ((name, getattr(turn, attribute)) for attribute, name, _ in LATENCIES)
    return "  ".join(f"{name} {'—' if ms is None else f'{ms:,.0f} ms'}" for name, ms in values)


def format_started(ts: float, width: int = 19) -> str:
    """Local date and time, to the second (`2025-01-02 03:04:05`; in less than 19 characters
    without the year, in less than 14 without the seconds). Never raises: a time no clock can
    show (NaN, infinite, beyond what the platform's `localtime` accepts) is shown as the raw
    number, or `?`."""
    try:
        if not math.isfinite(ts):
            return "?"
        form = "%Y-%m-%d %H:%M:%S" if width >= 19 else "%m-%d %H:%M:%S" if width >= 14 else "%m-%d %H:%M"
        return time.strftime(form, time.localtime(ts))
    except (OverflowError, OSError, ValueError, TypeError):
        try:
            return f"{ts:g}"
        except Exception:
            return "?"


def format_duration(seconds: float | None) -> str:
    """`920ms`, `14.3s`, `2m05s`, `1h02m`; `—` when unknown."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_offset(t_ns: int) -> str:
    """Offset from the session start in at most 10 characters, so that columns stay aligned:
    `+1234.5ms` below 100 s, then `+16:40.123` (minutes), then `+2:46:40` (hours)."""
    if t_ns < 100_000_000_000:
        return f"+{t_ns / 1e6:.1f}ms"
    # Round first, then split: rounding 59.9996 s after the split would print ":60.000".
    minutes, ms = divmod(round(t_ns / 1e6), 60_000)
    if minutes < 60:
        return f"+{minutes}:{ms / 1000:06.3f}"
    hours, minutes = divmod(minutes, 60)
    return f"+{hours}:{minutes:02d}:{ms // 1000:02d}"


def format_bytes(size: int) -> str:
    if size < 1024:
        return f"{size}B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f}KB"
    return f"{size / 1024 / 1024:.1f}MB"


def short_id(value: str | None, width: int = 12) -> str:
    """Generated ids are long and share a prefix: keep the prefix and the tail."""
    if not value:
        return ""
    if len(value) <= width:
        return value
    prefix, _, rest = value.partition("_")
    return f"{prefix}_…{rest[-(width - len(prefix) - 2) :]}" if rest else value[:width]


def fit_end(text: str, width: int) -> str:
    """`text` in at most `width` characters, cut at the end with … when longer."""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…" if width > 0 else ""


def fit_middle(text: str, width: int) -> str:
    """`text` in exactly `width` characters, cut in the middle when longer: the ends tell event
    types apart (`response.output_audio_transcript.delta` and `….done`)."""
    if len(text) <= width:
        return text.ljust(width)
    head = (width - 1) // 3
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def plural(n: int, word: str) -> str:
    """`1 error`, `2 errors`, `0 errors`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
