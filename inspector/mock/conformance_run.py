"""Drive the mock's state machine with a recorded session's client events: the driver half of
the conformance harness (the rules are in `conformance`).

A run is a replay (`inspector.replay.plan.ReplayPlan`: its waits, its id remapping) against a
`MockSession` on a virtual clock instead of a socket, so it is fast and the same every time. The
recording has no timing, so the plan sends as soon as its waits allow (`Pace.ASAP`) and the
clock moves only for the mock: an audio append moves it on by the audio it carries (a client
streams in real time), and a wait moves it to the mock's next due event, or to the wait's
deadline when nothing is due before (then the event is sent anyway, and the comparison shows
what was missing). Appends wait at most `APPEND_PATIENCE` (the plan's `stream_patience`) for
what preceded them: without pacing nothing else keeps the stream from overtaking the answer to
the `session.update` before it, and a client streams its microphone whatever the server says:
the speech events an append waits for may come only with that very append when the mock's VAD
decides a chunk later than the service's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from inspector.mock.conformance import Report, compare, stand_in_audio
from inspector.mock.outbox import Close
from inspector.mock.preview_session import PreviewSession
from inspector.mock.responses import REALISTIC
from inspector.mock.state import MockSession
from inspector.mock.state_core import Flavor
from inspector.protocol import Direction
from inspector.replay.plan import Done, Pace, RecordedEvent, ReplayPlan, Send, Wait

__all__ = [
    "is_preview_recording",
    "load_records",
    "mock_session",
    "recorded_events",
    "recorded_model",
    "run_against_mock",
]

APPEND = "input_audio_buffer.append"
APPEND_PATIENCE = 0.5  # seconds
Records = Sequence[tuple[str, dict[str, Any]]]


def load_records(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """A recording in the fixture format (JSON Lines of `{direction, kind, data}`); frames that
    are not messages (closes, binary) are left out."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if record.get("kind", "message") == "message" and isinstance(record.get("data"), dict):
                out.append((str(record["direction"]), record["data"]))
    return out


def recorded_model(records: Records) -> str:
    for direction, event in records:
        if direction == "server" and event.get("type") == "session.created":
            return str((event.get("session") or {}).get("model") or "gpt-realtime")
    return "gpt-realtime"


def is_preview_recording(records: Records) -> bool:
    """A session of the preview (beta) protocol: its `session.created` has no `session.type`."""
    for direction, event in records:
        if direction == "server" and event.get("type") == "session.created":
            return "type" not in (event.get("session") or {})
    return False


AnySession = MockSession | PreviewSession


def mock_session(model: str, *, flavor: Flavor = "openai", preview: bool = False) -> AnySession:
    """The session a recording is run against: seed 3, realistic timing. A preview recording
    under Azure gets a preview session, as its client declared it at connect (its recorded
    `session.created` is preview); OpenAI's service has no preview, so there it meets GA."""
    session = MockSession(seed=3, timing=REALISTIC, model=model, flavor=flavor)
    return PreviewSession(session, declared=True) if preview and flavor == "azure" else session


def recorded_events(records: Records) -> list[RecordedEvent]:
    """The recording as the replay planner reads it: no timing (the fixtures have none)."""
    return [RecordedEvent(seq, Direction(d), 0, orjson.dumps(e).decode()) for seq, (d, e) in enumerate(records, 1)]


def _stand_ins_by_seq(records: Records) -> dict[int, bytes | None]:
    """`stand_in_audio` keyed by each append's place in the recording (`RecordedEvent.seq`)."""
    appends = [seq for seq, (d, e) in enumerate(records, 1) if d == "client" and e.get("type") == APPEND]
    return dict(zip(appends, stand_in_audio(records), strict=True))


@dataclass
class _Run:
    """The mock's side of one run: what it sent, in order with what it was sent."""

    session: AnySession
    plan: ReplayPlan
    clock: float = 0.0
    transcript: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    last_client: str = "connect"
    closed: Close | None = None

    def take(self) -> None:
        for payload in self.session.pop_due(self.clock):
            if isinstance(payload, Close):
                self.closed = payload
                self.plan.closed(f"the mock closed the connection ({payload.code} {payload.reason})")
                continue
            frame = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
            event = orjson.loads(frame) if isinstance(payload, str) else payload
            self.transcript.append(("server", event))
            self.plan.receive(frame, self.clock)
            if event.get("type") == "error":
                self.errors.append((str((event.get("error") or {}).get("code")), self.last_client))

    def wait(self, deadline: float) -> None:
        """Move the clock to the mock's next event, or to `deadline` if none comes before it."""
        due = self.session.next_due()
        self.clock = max(self.clock, due) if due is not None and due <= deadline else deadline
        self.take()

    def send(self, event: dict[str, Any], audio_s: float) -> None:
        self.last_client = str(event.get("type"))
        self.transcript.append(("client", event))
        self.session.receive(orjson.dumps(event).decode(), self.clock)
        self.take()
        if audio_s:
            self.clock += audio_s
            self.take()

    def drain(self, patience: float) -> None:
        """Let everything still pending arrive (transcriptions, `rate_limits.updated`)."""
        give_up = self.clock + patience
        while self.closed is None and (due := self.session.next_due()) is not None and due <= give_up:
            self.clock = max(self.clock, due)
            self.take()


def _with_audio(frame: str | bytes, audio: bytes | None) -> tuple[dict[str, Any], float]:
    event: dict[str, Any] = orjson.loads(frame)
    if audio is None:
        return event, 0.0
    return {**event, "audio": base64.b64encode(audio).decode()}, len(audio) / 48_000


def run_against_mock(
    name: str,
    records: Records,
    *,
    make_session: Callable[[str], AnySession] | None = None,
    flavor: Flavor = "openai",
    patience: float = 30.0,
) -> Report:
    """Send the recording's client events to a fresh mock session and compare what it answers.

    `make_session(model)` builds the session (default: `mock_session` for `flavor`); `patience`
    is how long a wait may last on the virtual clock (the plan's `timeout`)."""
    model = recorded_model(records)
    preview = is_preview_recording(records)
    session = make_session(model) if make_session else mock_session(model, flavor=flavor, preview=preview)
    plan = ReplayPlan(recorded_events(records), pace=Pace.ASAP, timeout=patience, stream_patience=APPEND_PATIENCE)
    run = _Run(session, plan)
    session.connect(0.0)
    run.take()
    stand_ins = _stand_ins_by_seq(records)
    while not isinstance(action := plan.next(run.clock), Done):
        if isinstance(action, Wait):
            run.wait(action.deadline)
        elif isinstance(action, Send):
            assert action.step.seq is not None  # only the final wait has none, and it sends nothing
            run.send(*_with_audio(action.frame, stand_ins.get(action.step.seq)))
    run.drain(patience)
    report = compare(name, records, run.transcript, run.errors)
    # A skipped event names an id the mock never made; a timeout, what it never sent.
    report.notes += [f"replay: {d.message}" for d in plan.divergences if d.kind != "closed"]
    if run.closed is not None:
        report.notes.append(f"the mock closed the connection: {run.closed.code} {run.closed.reason}")
    return report
