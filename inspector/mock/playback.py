"""`inspector mock --from-session`: answer a client with the server frames of a recording.

Pure like `state.MockSession` and driven by the same shell. The recording is cut into segments:
the server frames before the first client frame are sent at connect; after the n-th client frame
the mock sends the server frames that followed the n-th client frame in the recording, with
their original gaps (or none). Client frames are matched by position, not content, so a replay
of the same recording gets exactly the recorded answers; a client that sends more frames than
the recording held gets nothing more. Recorded frames are sent byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inspector.mock.outbox import Close, Outbox, Outgoing

__all__ = ["PlaybackSession", "Recorded", "load_recording"]


@dataclass(frozen=True, slots=True)
class Recorded:
    direction: str  # "client" or "server"
    t: float  # seconds since the session began
    frame: str | bytes


@dataclass(frozen=True, slots=True)
class _Segment:
    start: float  # when the client frame that opens it was recorded (0 for the first)
    frames: tuple[Recorded, ...]


def _segments(recording: Sequence[Recorded]) -> list[_Segment]:
    segments = [_Segment(0.0, ())]
    for record in recording:
        if record.direction == "client":
            segments.append(_Segment(record.t, ()))
        else:
            last = segments[-1]
            segments[-1] = _Segment(last.start, (*last.frames, record))
    return segments


class PlaybackSession:
    """Plays a recording back. `gaps`: keep the recorded delays; `close`: end as recorded."""

    def __init__(self, recording: Sequence[Recorded], *, gaps: bool = True, close: Close | None = None) -> None:
        self.segments = _segments(recording)
        self.gaps = gaps
        self.close = close
        self.outbox = Outbox()
        self.received = 0

    def connect(self, now: float) -> None:
        self._schedule(0, now)

    def receive(self, frame: str | bytes, now: float) -> None:
        self.received += 1
        if self.received < len(self.segments):
            self._schedule(self.received, now)

    def next_due(self) -> float | None:
        return self.outbox.next_due()

    def pop_due(self, now: float, limit: int | None = None) -> list[Outgoing]:
        return self.outbox.pop_due(now, limit)

    def _schedule(self, index: int, now: float) -> None:
        segment = self.segments[index]
        for record in segment.frames:
            delay = max(0.0, record.t - segment.start) if self.gaps else 0.0
            # Binary frames cannot come from the service; a recording holding one sends its text.
            frame = record.frame if isinstance(record.frame, str) else record.frame.decode("utf-8", "replace")
            self.outbox.put(frame, now, delay)
        if index == len(self.segments) - 1 and self.close is not None:
            self.outbox.put(self.close, now)


def load_recording(db: str | Path, session_id: int) -> tuple[list[Recorded], Close | None]:
    """A recorded session's frames from the store, and its close if the server closed it.

    Raises `inspector.store.StoreError` (or `SessionNotFound`) with a message fit for the CLI.
    """
    from inspector.store import open_store  # the store is only needed for playback

    with open_store(db, create=False) as store:
        info = store.session(session_id)
        recording = [
            Recorded(event.direction.value, event.t, event.frame if event.frame is not None else "")
            for event in store.events(session_id, with_frames=True)
        ]
    close = None
    if info.close_side == "server" and info.close_code is not None:
        close = Close(info.close_code, info.close_reason or "")
    return recording, close
