"""Conformance: does the mock answer a recorded session's client events the way the service did?

The pure half of the harness (the driver is `conformance_run`). Waiting and id remapping are the
replay engine's (`inspector.replay.plan.ReplayPlan`): the harness is a replay against the mock's
state machine on a virtual clock. What is its own:

- **audio**: `stand_in_audio` puts a tone where the recorded VAD heard speech into appends whose
  audio the recording cut short, so that the mock's VAD hears what the service heard;
- **what is compared** (`compare`): the server event types of each turn of the one turn model
  (`inspector.turns`; turn 0 is what comes before the first turn), with each run of deltas folded
  into the set of delta types in it and asynchronous input transcription left out of the sequence
  (the types of its non-delta events are compared per turn, as a sorted tail). Errors the mock sent
  and the recording does not hold are listed apart.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from inspector.mock.audio import tone
from inspector.protocol import Direction, describe_frame
from inspector.turns import TurnRow, build_turns

__all__ = [
    "Divergence",
    "Report",
    "compare",
    "group_by_turn",
    "normalise",
    "stand_in_audio",
]

TRANSCRIPTION = "conversation.item.input_audio_transcription."
CONTEXT = 3  # events shown on each side of a divergence


def speech_spans(records: Sequence[tuple[str, dict[str, Any]]], padding_ms: int = 300) -> list[tuple[float, float]]:
    """Where the recorded server VAD heard speech, without its prefix padding and the silence
    that ended it (taken from the recorded `turn_detection`, else the defaults)."""
    spans, start, silence = [], None, 200
    for _, event in records:
        kind = event.get("type")
        if kind in ("session.created", "session.updated"):
            session = event.get("session") or {}
            # GA keeps it under audio.input; the preview protocol at the top of the session.
            ga_turn = (session.get("audio") or {}).get("input", {}).get("turn_detection")
            turn = (ga_turn if "audio" in session else session.get("turn_detection")) or {}
            padding_ms = int(turn.get("prefix_padding_ms", padding_ms))
            silence = int(turn.get("silence_duration_ms", silence))
        elif kind == "input_audio_buffer.speech_started":
            start = event["audio_start_ms"] + padding_ms
        elif kind == "input_audio_buffer.speech_stopped" and start is not None:
            spans.append((start, event["audio_end_ms"] - silence))
    return spans


def stand_in_audio(records: Sequence[tuple[str, dict[str, Any]]], chunk_ms: int = 100) -> list[bytes | None]:
    """For each recorded append, None to send it as it is, or the audio to send instead.

    Recordings may hold appends cut short (the fixtures keep 33 bytes of each); such an append
    stands for `chunk_ms` of audio: a tone where the recorded VAD heard speech, else silence."""
    spans = speech_spans(records)
    out: list[bytes | None] = []
    for direction, event in records:
        if direction != "client" or event.get("type") != "input_audio_buffer.append":
            continue
        try:
            size = len(base64.b64decode(str(event.get("audio", "")), validate=True))
        except (binascii.Error, ValueError):
            size = 0
        if size >= 960:  # at least 20 ms of PCM16: real audio
            out.append(None)
            continue
        at = len(out) * chunk_ms
        loud = any(s - chunk_ms / 2 <= at < e for s, e in spans)
        out.append(tone("audio/pcm", chunk_ms) if loud else bytes(chunk_ms * 48))
    return out


# --- comparison -------------------------------------------------------------------------------


def group_by_turn(transcript: Sequence[tuple[str, dict[str, Any]]]) -> list[list[str]]:
    """The server event types of each turn (index 0: before the first turn), as sent: a preview
    recording must be answered in preview names, not merely in GA names that mean the same."""
    pairs = []
    for seq, (direction, event) in enumerate(transcript, start=1):
        info = describe_frame(orjson.dumps(event))
        row = TurnRow.of(seq, Direction(direction), 0, info)
        pairs.append((row, event))
    starts = [turn.first_seq for turn in build_turns(pairs)]
    groups: list[list[str]] = [[] for _ in range(len(starts) + 1)]
    for row, _ in pairs:
        if row.direction == Direction.SERVER:
            index = sum(1 for s in starts if s <= row.seq)
            groups[index].append(row.type or "?")
    return groups


def normalise(types: Sequence[str], ignore: frozenset[str] = frozenset()) -> list[str]:
    """Fold each run of deltas into one `{a|b}` entry; transcription goes to a sorted tail."""
    out: list[str] = []
    run: set[str] = set()
    tail: list[str] = []
    for kind in types:
        if kind in ignore:
            continue
        if kind.startswith(TRANSCRIPTION):
            if not kind.endswith(".delta"):
                tail.append(kind)
            continue
        if kind.endswith(".delta"):
            run.add(kind)
            continue
        if run:
            out.append("{" + "|".join(sorted(run)) + "}")
            run = set()
        out.append(kind)
    if run:
        out.append("{" + "|".join(sorted(run)) + "}")
    return out + sorted(tail)


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first place the mock's events part from the recording's."""

    turn: int
    index: int
    expected: list[str]  # the recording's events around the point, the point marked
    got: list[str]


@dataclass
class Report:
    """One session's verdict."""

    name: str
    turns: int
    divergence: Divergence | None = None
    extra_errors: list[str] = field(default_factory=list)  # "code (after CLIENT_TYPE)"
    notes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return self.divergence is None and not self.extra_errors

    def render(self) -> str:
        head = f"{self.name}: " + ("match" if self.matches else "DIFFERS") + f" ({self.turns} turns)"
        lines = [head]
        if d := self.divergence:
            lines.append(f"  first divergence in turn {d.turn}, event {d.index + 1}:")
            lines.append("    recorded: " + "  ".join(d.expected))
            lines.append("    mock:     " + "  ".join(d.got))
        lines += [f"  error the service did not send: {e}" for e in self.extra_errors]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _window(seq: list[str], index: int) -> list[str]:
    shown = [f">{s}<" if i == index else s for i, s in enumerate(seq)][max(0, index - CONTEXT) : index + CONTEXT + 1]
    return shown + (["(end)"] if index >= len(seq) else [])


def compare(
    name: str,
    recorded: Sequence[tuple[str, dict[str, Any]]],
    got: Sequence[tuple[str, dict[str, Any]]],
    errors: Sequence[tuple[str, str]] = (),
) -> Report:
    """Compare the recording with the mock's transcript (client events as sent, server events
    as received, in order). `errors`: (code, client event type) of each error the mock sent."""
    ignore: set[str] = set()
    notes = []
    if not any(e.get("type") == "rate_limits.updated" for d, e in recorded if d == "server"):
        # The service sends it after every response; a recording without any was filtered.
        ignore.add("rate_limits.updated")
        notes.append("the recording holds no rate_limits.updated: not compared")
    want = [normalise(t, frozenset(ignore)) for t in group_by_turn(recorded)]
    have = [normalise(t, frozenset(ignore)) for t in group_by_turn(got)]
    report = Report(name, len(want) - 1, notes=notes)
    for turn in range(max(len(want), len(have))):
        a = want[turn] if turn < len(want) else []
        b = have[turn] if turn < len(have) else []
        if a != b:
            index = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            report.divergence = Divergence(turn, index, _window(a, index), _window(b, index))
            break
    recorded_codes = Counter(
        str((e.get("error") or {}).get("code")) for d, e in recorded if d == "server" and e.get("type") == "error"
    )
    for code, after in errors:
        if recorded_codes[code] > 0:
            recorded_codes[code] -= 1
        else:
            report.extra_errors.append(f"{code} (after {after})")
    return report
