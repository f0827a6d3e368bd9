"""JSON Lines export of events: the same records as `inspector events --json`. No Textual."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from inspector.protocol import Opcode
from inspector.store import Event, Store

__all__ = ["event_record", "export_jsonl"]

_CHUNK = 512


def event_record(ev: Event) -> dict[str, Any]:
    """`{"seq", "t", "direction", "type", "opcode", "frame"}`; binary frames as base64."""
    frame = ev.frame
    return {
        "seq": ev.seq,
        "t": ev.t,
        "direction": ev.direction.value,
        "type": ev.type,
        "opcode": "binary" if ev.opcode == Opcode.BINARY else "text",
        "frame": base64.b64encode(frame).decode() if isinstance(frame, bytes) else frame,
    }


def _events(store: Store, session_id: int, seqs: Iterable[int] | None) -> Iterable[Event]:
    if seqs is None:
        yield from store.events(session_id, with_frames=True)
        return
    for seq in seqs:
        yield store.event(session_id, seq, with_frame=True)


def export_jsonl(
    store: Store,
    session_id: int,
    path: Path,
    seqs: Iterable[int] | None = None,
    *,
    cancelled: Any = None,
) -> int:
    """Write a session's events (or only `seqs`) to `path`; returns how many were written.
    `cancelled()` is polled between chunks; a cancelled export leaves a partial file."""
    count = 0
    with open(path, "wb") as out:
        lines: list[bytes] = []
        for ev in _events(store, session_id, seqs):
            lines.append(orjson.dumps(event_record(ev)))
            count += 1
            if len(lines) >= _CHUNK:
                out.write(b"\n".join(lines) + b"\n")
                lines.clear()
                if cancelled is not None and cancelled():
                    break
        if lines:
            out.write(b"\n".join(lines) + b"\n")
    return count
