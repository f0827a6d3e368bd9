"""Drive the mock's state machine with a recorded session's client events: the driver half of
the conformance harness (the rules are in `conformance`).

No sockets: a `MockSession` is driven on a virtual clock, so a run is fast and the same every
time. Client events go in at the clock's time; an audio append moves the clock on by the audio
it carries (a client streams in real time), and waiting for a server event moves it to the
mock's next due event, up to `patience` seconds (then the step is sent anyway, and the
comparison shows what was missing). Appends wait at most `APPEND_PATIENCE`: a client streams its
microphone whatever the server says, and the speech events an append waits for may come only
with that very append when the mock's VAD decides a chunk later than the service's.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from inspector.mock.conformance import IdMap, Report, Step, compare, plan_steps, stand_in_audio
from inspector.mock.outbox import Close
from inspector.mock.preview_session import PreviewSession
from inspector.mock.responses import REALISTIC
from inspector.mock.state import MockSession
from inspector.mock.state_core import Flavor
from inspector.protocol import ga_type

__all__ = ["is_preview_recording", "load_records", "mock_session", "recorded_model", "run_against_mock"]

APPEND_PATIENCE = 0.5
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


@dataclass
class _Run:
    """The mock's side of one run: what it sent, in order with what it was sent."""

    session: AnySession
    clock: float = 0.0
    transcript: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    received: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)
    last_client: str = "connect"
    closed: Close | None = None

    def take(self) -> None:
        for payload in self.session.pop_due(self.clock):
            if isinstance(payload, Close):
                self.closed = payload
                continue
            event = payload if isinstance(payload, dict) else orjson.loads(payload)
            self.transcript.append(("server", event))
            self.received[ga_type(str(event.get("type")))] += 1
            if event.get("type") == "error":
                self.errors.append((str((event.get("error") or {}).get("code")), self.last_client))

    def wait(self, until: tuple[str, int] | None, patience: float) -> None:
        give_up = self.clock + patience
        while until is not None and self.received[until[0]] < until[1] and self.closed is None:
            due = self.session.next_due()
            if due is None or due > give_up:
                return
            self.clock = max(self.clock, due)
            self.take()

    def send(self, event: dict[str, Any], audio_s: float) -> None:
        self.last_client = str(event.get("type"))
        self.transcript.append(("client", event))
        self.session.receive(orjson.dumps(event).decode(), self.clock)
        self.take()
        if audio_s:
            self.clock += audio_s
            self.take()


def _with_audio(step: Step, audio: bytes | None) -> tuple[dict[str, Any], float]:
    import base64

    if audio is None:
        return step.event, 0.0
    return {**step.event, "audio": base64.b64encode(audio).decode()}, len(audio) / 48_000


def run_against_mock(
    name: str,
    records: Records,
    *,
    make_session: Callable[[str], AnySession] | None = None,
    flavor: Flavor = "openai",
    patience: float = 30.0,
) -> Report:
    """Send the recording's client events to a fresh mock session and compare what it answers.

    `make_session(model)` builds the session (default: `mock_session` for `flavor`)."""
    model = recorded_model(records)
    preview = is_preview_recording(records)
    session = make_session(model) if make_session else mock_session(model, flavor=flavor, preview=preview)
    run = _Run(session)
    session.connect(0.0)
    run.take()
    recorded_server = [event for direction, event in records if direction == "server"]
    stand_ins = iter(stand_in_audio(records))
    ids, learnt_recorded, learnt_mock = IdMap(), 0, 0
    for step in plan_steps(records):
        is_append = step.event.get("type") == "input_audio_buffer.append"
        run.wait(step.wait_for, APPEND_PATIENCE if is_append else patience)
        if run.closed is not None:
            break
        mock_server = [e for d, e in run.transcript if d == "server"]
        ids.learn(recorded_server[learnt_recorded : step.recorded_server], mock_server[learnt_mock:])
        learnt_recorded, learnt_mock = max(learnt_recorded, step.recorded_server), len(mock_server)
        audio = next(stand_ins) if is_append else None
        event, audio_s = _with_audio(step, audio)
        run.send(ids.remap(event), audio_s)
    run.wait(("\0never", 1), patience)  # let everything still pending arrive
    report = compare(name, records, run.transcript, run.errors)
    if run.closed is not None:
        report.notes.append(f"the mock closed the connection: {run.closed.code} {run.closed.reason}")
    return report
