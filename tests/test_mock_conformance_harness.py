"""The conformance harness (inspector.mock.conformance): a replay (its waits and remapping are
the replay plan's, tested in test_replay_plan.py) against the mock on a virtual clock; its own
rules; and the five recordings."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES

from inspector.mock import conformance_run
from inspector.mock.conformance import compare, normalise
from inspector.mock.conformance_run import is_preview_recording, load_records, mock_session, run_against_mock
from inspector.mock.state import MockSession

USER = {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": []}}


class Listening:
    """A mock session that keeps the frames it was sent and the events it sent back."""

    def __init__(self, inner: MockSession) -> None:
        self.inner = inner
        self.heard: list[dict] = []
        self.said: list[dict] = []

    def receive(self, frame: str, now: float) -> None:
        self.heard.append(json.loads(frame))
        self.inner.receive(frame, now)

    def pop_due(self, now: float, limit: int | None = None) -> list:
        out = self.inner.pop_due(now, limit)
        self.said += [p if isinstance(p, dict) else json.loads(p) for p in out if isinstance(p, dict | str)]
        return out

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_the_tool_output_reaches_the_mock_with_the_call_id_the_mock_made():
    records = load_records(FIXTURES / "tool_call_round.jsonl")
    recorded_call = next(
        e["item"]["call_id"]
        for d, e in records
        if d == "client" and e.get("item", {}).get("type") == "function_call_output"
    )
    listening: list[Listening] = []

    def make_session(model: str) -> Listening:
        listening.append(Listening(mock_session(model)))
        return listening[0]

    assert run_against_mock("tool", records, make_session=make_session).matches
    sent = next(e for e in listening[0].heard if e.get("item", {}).get("type") == "function_call_output")
    made = {e["call_id"] for e in listening[0].said if e["type"] == "response.function_call_arguments.done"}
    assert sent["item"]["call_id"] in made and sent["item"]["call_id"] != recorded_call


def test_appends_wait_a_little_for_the_answer_to_the_session_update_before_them(monkeypatch):
    # The mock answers the session.update ~0.3 s later; sent at once, the appends would open the
    # turn before its session.updated, which the service had sent before them.
    records = load_records(FIXTURES / "audio_in_server_vad_turn.jsonl")
    assert run_against_mock("audio", records).matches
    monkeypatch.setattr(conformance_run, "APPEND_PATIENCE", None)
    report = run_against_mock("audio", records)
    assert report.divergence is not None and report.divergence.turn == 0
    assert report.divergence.expected == ["session.created", ">session.updated<"]


def test_a_wait_the_mock_never_answers_ends_after_the_patience_and_is_noted():
    created = load_records(FIXTURES / "text_in_audio_out_turn.jsonl")[0]
    text = {"type": "input_text", "text": "hi"}
    records = [
        created,
        ("client", {**USER, "item": {**USER["item"], "content": [text]}}),
        ("server", {"type": "response.created", "response": {"id": "resp_A"}}),  # no response.create: never comes
        ("client", {"type": "response.cancel"}),
    ]
    report = run_against_mock("lost", records, patience=2.0)
    assert "replay: waited 2 s for response.created #1 of turn 1 (got 0)" in report.notes
    assert report.extra_errors == ["response_cancel_not_active (after response.cancel)"]  # it went out anyway


def test_normalise_folds_delta_runs_and_moves_transcription_to_a_sorted_tail():
    types = [
        "response.created",
        "response.output_audio.delta",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "response.output_audio_transcript.delta",
        "response.done",
    ]
    assert normalise(types) == [
        "response.created",
        "{response.output_audio.delta|response.output_audio_transcript.delta}",
        "response.done",
        "conversation.item.input_audio_transcription.completed",
    ]


def _turn(*server: str) -> list[tuple[str, dict]]:
    return [("server", {"type": "session.created"}), ("client", USER), ("client", {"type": "response.create"})] + [
        ("server", {"type": t}) for t in server
    ]


def test_compare_reports_the_turn_and_the_first_differing_event_with_context():
    recorded = _turn("response.created", "response.output_item.added", "response.done")
    got = _turn("response.created", "response.done")
    report = compare("s", recorded, got)
    assert not report.matches
    assert report.divergence is not None
    assert (report.divergence.turn, report.divergence.index) == (1, 1)
    assert report.divergence.expected[-2:] == [">response.output_item.added<", "response.done"]
    assert "first divergence in turn 1, event 2" in report.render()


def test_compare_lists_errors_the_mock_sent_that_the_recording_does_not_hold():
    recorded = _turn("error")
    recorded[-1] = ("server", {"type": "error", "error": {"code": "invalid_value"}})
    report = compare("s", recorded, recorded, [("invalid_value", "x"), ("unknown_parameter", "response.create")])
    assert report.extra_errors == ["unknown_parameter (after response.create)"]
    assert not report.matches


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.jsonl")), ids=lambda p: p.stem)
def test_mock_matches_every_recorded_session_turn_by_turn(path):
    report = run_against_mock(path.stem, load_records(path))
    assert report.matches, report.render()


PREVIEW_RECORDING = FIXTURES.parent / "azure-preview" / "text_then_audio_turn.jsonl"


def test_preview_recording_matches_a_preview_session_under_azure_in_preview_names():
    records = load_records(PREVIEW_RECORDING)
    assert is_preview_recording(records)
    report = run_against_mock("preview", records, flavor="azure")
    assert report.matches, report.render()


def test_preview_recording_differs_under_openai_whose_service_has_no_preview():
    report = run_against_mock("preview", load_records(PREVIEW_RECORDING), flavor="openai")
    assert not report.matches
    assert "missing_required_parameter (after session.update)" in report.extra_errors


def test_compare_tells_preview_names_from_their_ga_names():
    recorded = _turn("response.created", "response.text.delta", "response.done")
    got = _turn("response.created", "response.output_text.delta", "response.done")
    assert not compare("s", recorded, got).matches
