"""The conformance harness (inspector.mock.conformance): its rules, and the five recordings."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from inspector.mock.conformance import IdMap, compare, normalise, plan_steps
from inspector.mock.conformance_run import is_preview_recording, load_records, run_against_mock

USER = {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": []}}


def test_each_client_event_waits_for_the_last_server_event_it_followed_deltas_and_transcription_aside():
    records = [
        ("server", {"type": "session.created"}),
        ("client", USER),
        ("server", {"type": "response.created"}),
        ("server", {"type": "response.output_text.delta"}),
        ("server", {"type": "conversation.item.input_audio_transcription.completed"}),
        ("client", {"type": "response.cancel"}),
        ("server", {"type": "response.created"}),
        ("client", {"type": "response.cancel"}),
    ]
    assert [s.wait_for for s in plan_steps(records)] == [
        ("session.created", 1),
        ("response.created", 1),
        ("response.created", 2),
    ]


def test_id_map_rewrites_generated_ids_in_client_events_by_order_of_appearance():
    ids = IdMap()
    ids.learn(
        [{"item": {"id": "item_A", "call_id": "call_X"}}, {"response": {"id": "resp_R"}}],
        [{"item": {"id": "item_1", "call_id": "call_9"}}, {"response": {"id": "resp_2"}}],
    )
    event = {"type": "conversation.item.create", "item": {"call_id": "call_X", "output": "item_A stays in text"}}
    assert ids.remap(event)["item"] == {"call_id": "call_9", "output": "item_A stays in text"}
    assert ids.remap({"type": "response.cancel", "response_id": "resp_R"})["response_id"] == "resp_2"


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
