"""The preview (beta) protocol at the mock's edges (inspector.mock.preview, preview_session):
translation rules and the per-session choice of protocol, on a virtual clock, no sockets."""

from __future__ import annotations

import json
from typing import Any

from inspector.mock.outbox import Outgoing
from inspector.mock.preview import client_event_to_ga, is_preview_update, item_to_preview, server_event_to_preview
from inspector.mock.preview_session import PreviewSession
from inspector.mock.state import MockSession

PREVIEW_UPDATE = {
    "type": "session.update",
    "session": {
        "modalities": ["text"],
        "voice": "sage",
        "input_audio_format": "g711_ulaw",
        "output_audio_format": "pcm16",
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
        "input_audio_transcription": {"model": "whisper-1"},
        "temperature": 0.7,
        "max_response_output_tokens": 200,
    },
}
USER_TEXT = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
}


def session(declared: bool = True) -> PreviewSession:
    wrapped = PreviewSession(MockSession(seed=1, flavor="azure", max_session_s=None), declared=declared)
    wrapped.connect(0.0)
    return wrapped


def send(s: PreviewSession, event: dict[str, Any]) -> list[dict[str, Any]]:
    s.receive(json.dumps(event), 0.0)
    return drain(s)


def drain(s: PreviewSession) -> list[dict[str, Any]]:
    out: list[Outgoing] = []
    while (batch := s.pop_due(1e9, limit=1)) or s.next_due() is not None:
        out += batch
    return [e for e in out if isinstance(e, dict)]


def test_preview_session_update_becomes_the_ga_update_with_the_same_meaning():
    inbound = client_event_to_ga(PREVIEW_UPDATE)
    assert inbound.error is None and inbound.temperature == 0.7
    assert inbound.event is not None
    assert inbound.event["session"] == {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {
            "output": {"voice": "sage", "format": {"type": "audio/pcm", "rate": 24000}},
            "input": {
                "format": {"type": "audio/pcmu"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
                "transcription": {"model": "whisper-1"},
            },
        },
        "max_output_tokens": 200,
    }


def test_preview_text_and_audio_modalities_mean_ga_audio_and_audio_alone_is_refused():
    both = client_event_to_ga({"type": "session.update", "session": {"modalities": ["audio", "text"]}})
    assert both.event is not None and both.event["session"]["output_modalities"] == ["audio"]
    alone = client_event_to_ga({"type": "session.update", "session": {"modalities": ["audio"]}})
    assert alone.error is not None
    assert (alone.error.code, alone.error.param) == ("invalid_value", "session.modalities")


def test_preview_fields_are_checked_under_their_preview_names():
    def error(session: dict[str, Any]) -> tuple[str, str | None]:
        found = client_event_to_ga({"type": "session.update", "session": session}).error
        assert found is not None
        return found.code, found.param

    assert error({"temperature": 2}) == ("decimal_above_max_value", "session.temperature")
    assert error({"input_audio_format": "audio/pcm"}) == ("invalid_value", "session.input_audio_format")
    assert error({"output_modalities": ["text"]}) == ("unknown_parameter", "session.output_modalities")
    assert error({"type": "realtime"}) == ("unknown_parameter", "session.type")


def test_preview_assistant_text_item_becomes_output_text_and_user_items_stay():
    assistant = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hello"}]}
    inbound = client_event_to_ga({"type": "conversation.item.create", "item": assistant})
    assert inbound.event is not None
    assert inbound.event["item"]["content"] == [{"type": "output_text", "text": "Hello"}]
    assert client_event_to_ga(USER_TEXT).event is USER_TEXT


def test_only_a_typeless_session_update_with_a_preview_field_is_preview_shaped():
    assert is_preview_update(PREVIEW_UPDATE)
    assert not is_preview_update({"type": "session.update", "session": {"type": "realtime", "voice": "sage"}})
    assert not is_preview_update({"type": "session.update", "session": {"instructions": "Be brief."}})


def test_ga_events_get_preview_names_and_item_done_is_not_sent():
    added = {"type": "conversation.item.added", "event_id": "e", "previous_item_id": None, "item": {"id": "i"}}
    assert server_event_to_preview(added, 0.8) == {
        "type": "conversation.item.created",
        "event_id": "e",
        "previous_item_id": None,
        "item": {"id": "i", "object": "realtime.item"},
    }
    assert server_event_to_preview({**added, "type": "conversation.item.done"}, 0.8) is None
    delta = {"type": "response.output_text.delta", "event_id": "e", "delta": "Hi", "obfuscation": "xyz"}
    assert server_event_to_preview(delta, 0.8) == {"type": "response.text.delta", "event_id": "e", "delta": "Hi"}


def test_assistant_items_go_out_with_preview_content_types():
    item = {"id": "i", "type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": "x"}]}
    assert item_to_preview(item)["content"] == [{"type": "audio", "transcript": "x"}]


def test_declared_preview_session_opens_with_a_preview_session_and_conversation_created():
    events = drain(session())
    assert [e["type"] for e in events] == ["session.created", "conversation.created"]
    created = events[0]["session"]
    assert "type" not in created and created["object"] == "realtime.session"
    assert (created["modalities"], created["input_audio_format"], created["temperature"]) == (
        ["text", "audio"],
        "pcm16",
        0.8,
    )


def test_preview_session_updated_echoes_the_update_in_the_preview_shape():
    s = session()
    drain(s)
    (updated,) = send(s, PREVIEW_UPDATE)
    got = updated["session"]
    assert updated["type"] == "session.updated"
    assert (got["modalities"], got["voice"], got["input_audio_format"], got["temperature"]) == (
        ["text"],
        "sage",
        "g711_ulaw",
        0.7,
    )
    assert got["turn_detection"]["silence_duration_ms"] == 400
    assert got["max_response_output_tokens"] == 200


def test_a_refused_preview_update_keeps_the_old_temperature():
    s = session()
    drain(s)
    (error,) = send(s, {"type": "session.update", "session": {"temperature": 1.0, "voice": "nobody"}})
    assert (error["error"]["code"], error["error"]["param"]) == ("invalid_value", "session.voice")
    (updated,) = send(s, {"type": "session.update", "session": {"voice": "sage"}})
    assert updated["session"]["temperature"] == 0.8


def test_preview_text_turn_uses_preview_names_and_shapes():
    s = session()
    drain(s)
    send(s, {"type": "session.update", "session": {"modalities": ["text"]}})
    send(s, USER_TEXT)
    events = send(s, {"type": "response.create", "response": {"temperature": 0.9}})
    kinds = [e["type"] for e in events]
    assert "response.text.delta" in kinds and "response.text.done" in kinds
    assert not [k for k in kinds if "output_text" in k or k == "conversation.item.done"]
    done = events[-1]["response"]
    assert (done["modalities"], done["output"][0]["content"][0]["type"]) == (["text"], "text")


def test_undecided_azure_session_turns_preview_at_a_preview_shaped_first_update():
    s = session(declared=False)
    assert drain(s)[0]["session"]["type"] == "realtime"  # nothing said yet: GA
    (updated,) = send(s, PREVIEW_UPDATE)
    assert "type" not in updated["session"] and s.mode == "preview"


def test_undecided_azure_session_stays_ga_after_a_ga_update():
    s = session(declared=False)
    drain(s)
    send(s, {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})
    send(s, USER_TEXT)
    kinds = [e["type"] for e in send(s, {"type": "response.create"})]
    assert s.mode == "ga" and "response.output_text.delta" in kinds and "conversation.item.done" in kinds
