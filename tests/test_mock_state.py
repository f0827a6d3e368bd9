"""The mock's session state machine, without sockets: one test per protocol rule."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from inspector.mock.audio import tone
from inspector.mock.responses import REALISTIC
from inspector.mock.script import Script, ScriptError
from inspector.mock.session import DEFAULT_INSTRUCTIONS
from inspector.mock.state import CLIENT_EVENTS, MockSession

PCM_MS = 48  # bytes per millisecond of PCM16 24 kHz mono


def new_session(**kwargs: Any) -> MockSession:
    kwargs.setdefault("seed", 1)
    session = MockSession(now_unix=1_700_000_000, **kwargs)
    session.connect(0.0)
    session.outbox.pop_all(0.0)
    return session


def send(session: MockSession, event: dict[str, Any], now: float = 0.0) -> list[dict[str, Any]]:
    return [e for _, e in session.feed(event, now)]


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def only_error(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert types(events) == ["error"], types(events)
    return events[0]["error"]


def user_text(text: str, **extra: Any) -> dict[str, Any]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item, **extra}


def append(ms: int, *, loud: bool) -> dict[str, Any]:
    audio = tone("audio/pcm", ms) if loud else bytes(ms * PCM_MS)
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}


def _json(event: dict[str, Any]) -> str:
    return orjson.dumps(event).decode()


def text_session(**kwargs: Any) -> MockSession:
    session = new_session(**kwargs)
    send(
        session,
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}},
    )
    return session


# --- input audio buffer ------------------------------------------------------------------------


def test_commit_on_empty_buffer_is_input_audio_buffer_commit_empty_with_real_message():
    session = new_session()
    error = only_error(send(session, {"type": "input_audio_buffer.commit", "event_id": "c1"}))
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["message"] == (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
        "but buffer only has 0.00ms of audio."
    )
    assert error["event_id"] == "c1"


def test_commit_needs_100_ms_and_then_creates_the_user_audio_item():
    session = new_session()
    send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        },
    )
    send(session, append(60, loud=False))
    assert "60.00ms" in only_error(send(session, {"type": "input_audio_buffer.commit"}))["message"]
    send(session, append(40, loud=False))
    events = send(session, {"type": "input_audio_buffer.commit"})
    assert types(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert events[1]["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    assert events[0]["previous_item_id"] is None


def test_clear_empties_the_buffer():
    session = new_session()
    send(session, append(200, loud=False))
    assert types(send(session, {"type": "input_audio_buffer.clear"})) == ["input_audio_buffer.cleared"]
    assert only_error(send(session, {"type": "input_audio_buffer.commit"}))["code"] == "input_audio_buffer_commit_empty"


# --- server VAD --------------------------------------------------------------------------------


def test_vad_detects_a_tone_between_silences_commits_and_answers():
    session = new_session()
    events = send(session, append(500, loud=False)) + send(session, append(1000, loud=True))
    assert types(events) == ["input_audio_buffer.speech_started"]
    assert events[0]["audio_start_ms"] == 500 - 300  # onset minus prefix_padding_ms
    events = send(session, append(400, loud=False))
    assert types(events)[:5] == [
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
    ]
    assert events[0]["audio_end_ms"] == 1500 + 200  # end of speech plus silence_duration_ms
    assert events[0]["item_id"] == events[1]["item_id"]
    assert types(events)[-2:] == ["response.done", "rate_limits.updated"]
    # The committed item holds the speech with its padding, not the whole buffer.
    assert len(session.conversation.audio[events[1]["item_id"]]) == (1700 - 200) * PCM_MS


def test_vad_ignores_audio_below_its_threshold():
    session = new_session()
    quiet = base64.b64encode(tone("audio/pcm", 1000, amplitude=0.005)).decode()
    assert send(session, {"type": "input_audio_buffer.append", "audio": quiet}) == []


def test_vad_without_create_response_commits_but_does_not_answer():
    session = new_session()
    turn = {"type": "server_vad", "create_response": False}
    send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": turn}}},
        },
    )
    events = send(session, append(600, loud=True)) + send(session, append(400, loud=False))
    assert "input_audio_buffer.committed" in types(events)
    assert "response.created" not in types(events)


def test_speech_during_a_response_cancels_it_with_turn_detected():
    session = new_session(timing=REALISTIC)
    session.receive(_json(user_text("hello")), 0.0)
    session.pop_due(10.0)
    session.receive('{"type": "response.create"}', 10.0)
    sent = session.pop_due(10.6)  # up to the first audio deltas
    assert "response.output_audio.delta" in types(sent)
    session.receive(_json(append(200, loud=True)), 10.6)
    rest = session.outbox.pop_all(10.6)
    events = [e for _, e in rest]
    assert types(events)[0] == "input_audio_buffer.speech_started"
    assert types(events)[-2:] == ["response.done", "rate_limits.updated"]
    done = events[-2]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert done["output"][0]["status"] == "incomplete"
    assert "response.output_audio.done" in types(events) and "response.content_part.done" in types(events)


# --- session.update ----------------------------------------------------------------------------


def test_session_update_requires_session_type():
    session = new_session()
    error = only_error(send(session, {"type": "session.update", "session": {"instructions": "x"}, "event_id": "u1"}))
    assert (error["code"], error["param"], error["event_id"]) == (
        "missing_required_parameter",
        "session.type",
        "u1",
    )
    assert error["message"] == "Missing required parameter: 'session.type'."


@pytest.mark.parametrize(
    ("update", "param"),
    [
        ({"temperature": 0.8}, "session.temperature"),
        ({"modalities": ["text"]}, "session.modalities"),
        ({"audio": {"output": {"volume": 1}}}, "session.audio.output.volume"),
        (
            {"audio": {"input": {"turn_detection": {"type": "server_vad", "speed": 1}}}},
            "session.audio.input.turn_detection.speed",
        ),
    ],
)
def test_session_update_rejects_unknown_parameters_with_the_dotted_param(update, param):
    error = only_error(send(new_session(), {"type": "session.update", "session": {"type": "realtime", **update}}))
    assert (error["code"], error["param"]) == ("unknown_parameter", param)
    assert error["message"] == f"Unknown parameter: '{param}'."


@pytest.mark.parametrize(
    ("update", "param", "code"),
    [
        ({"output_modalities": ["video"]}, "session.output_modalities[0]", "invalid_value"),
        (
            {"output_modalities": ["audio", "text"]},
            "session.output_modalities",
            "array_above_max_length",
        ),
        ({"output_modalities": []}, "session.output_modalities", "empty_array"),
        ({"audio": {"output": {"voice": "robot"}}}, "session.audio.output.voice", "invalid_value"),
        (
            {"audio": {"input": {"turn_detection": {"type": "push_to_talk"}}}},
            "session.audio.input.turn_detection.type",
            "invalid_value",
        ),
        (
            {"audio": {"output": {"speed": 3}}},
            "session.audio.output.speed",
            "decimal_above_max_value",
        ),
        ({"max_output_tokens": 5000}, "session.max_output_tokens", "integer_above_max_value"),
        ({"tool_choice": "sometimes"}, "session.tool_choice", "invalid_value"),
        ({"instructions": 3}, "session.instructions", "invalid_type"),
    ],
)
def test_session_update_checks_enum_values_and_ranges(update, param, code):
    error = only_error(send(new_session(), {"type": "session.update", "session": {"type": "realtime", **update}}))
    assert (error["code"], error["param"]) == (code, param)


def test_an_invalid_session_update_changes_nothing():
    session = new_session()
    before = dict(session.session)
    bad = {
        "type": "realtime",
        "instructions": "new",
        "output_modalities": ["text"],
        "temperature": 1,
    }
    only_error(send(session, {"type": "session.update", "session": bad}))
    assert session.session == before


def test_session_update_merges_only_present_fields_and_answers_the_full_session():
    session = new_session()
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}}
    send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "tools": [tool], "instructions": "A"},
        },
    )
    events = send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"output": {"speed": 1.2}}},
        },
    )
    updated = events[0]["session"]
    assert types(events) == ["session.updated"]
    assert updated["instructions"] == "A"
    assert updated["tools"] == [{"type": "function", "name": "f", "description": "", "parameters": {"type": "object"}}]
    assert updated["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "alloy",
        "speed": 1.2,
    }
    assert updated["audio"]["input"]["turn_detection"]["threshold"] == 0.5
    assert list(updated) == list(session.session)  # full session, recorded key order


def test_session_update_clears_with_empty_string_empty_list_and_null():
    session = new_session()
    tool = {"type": "function", "name": "f"}
    send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "tools": [tool], "instructions": "A"},
        },
    )
    clearing = {
        "type": "realtime",
        "tools": [],
        "instructions": "",
        "audio": {"input": {"turn_detection": None}},
    }
    updated = send(session, {"type": "session.update", "session": clearing})[0]["session"]
    assert updated["tools"] == []
    assert updated["audio"]["input"]["turn_detection"] is None
    # Recorded (message_history_seeding): "" gives back the default instructions.
    assert updated["instructions"] == DEFAULT_INSTRUCTIONS


def test_partial_turn_detection_takes_the_defaults_as_recorded():
    session = new_session()
    turn = {"type": "server_vad", "create_response": True, "interrupt_response": True}
    updated = send(
        session,
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {
                    "input": {
                        "turn_detection": turn,
                        "transcription": {"model": "gpt-realtime-whisper"},
                    }
                },
            },
        },
    )[0]["session"]
    assert updated["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    assert updated["audio"]["input"]["transcription"] == {
        "model": "gpt-realtime-whisper",
        "language": None,
        "prompt": None,
    }


def test_voice_can_change_until_assistant_audio_exists():
    session = new_session()
    voice = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"output": {"voice": "echo"}}},
    }
    assert types(send(session, voice)) == ["session.updated"]
    send(session, user_text("hi"))
    send(session, {"type": "response.create"})  # audio by default
    voice["session"]["audio"]["output"]["voice"] = "sage"
    error = only_error(send(session, voice))
    assert error["code"] == "cannot_update_voice"
    assert error["message"] == "Cannot update a conversation's voice if assistant audio is present."
    assert session.session["audio"]["output"]["voice"] == "echo"


# --- items -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "part", "ok"),
    [
        ("system", {"type": "input_text", "text": "x"}, True),
        ("system", {"type": "input_audio", "audio": ""}, False),
        ("user", {"type": "input_text", "text": "x"}, True),
        ("user", {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}, True),
        ("user", {"type": "output_text", "text": "x"}, False),
        ("assistant", {"type": "output_text", "text": "x"}, True),
        ("assistant", {"type": "input_text", "text": "x"}, False),
        ("assistant", {"type": "output_audio", "transcript": "x"}, False),
    ],
)
def test_item_roles_accept_only_their_content_types(role, part, ok):
    item = {"type": "message", "role": role, "content": [part]}
    events = send(new_session(), {"type": "conversation.item.create", "item": item})
    if ok:
        assert types(events) == ["conversation.item.added", "conversation.item.done"]
        assert events[0]["item"]["status"] == "completed"
    else:
        error = only_error(events)
        assert (error["code"], error["param"]) == ("invalid_value", "item.content[0].type")


def test_item_create_requires_the_fields_of_its_type():
    session = new_session()
    error = only_error(
        send(
            session,
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call", "arguments": "{}"},
            },
        )
    )
    assert (error["code"], error["param"]) == ("missing_required_parameter", "item.name")
    error = only_error(
        send(
            session,
            {"type": "conversation.item.create", "item": {"type": "message", "content": []}},
        )
    )
    assert error["param"] == "item.role"


def test_function_call_output_needs_an_existing_call_id():
    session = new_session()
    output = {"type": "function_call_output", "call_id": "call_nope", "output": "x"}
    error = only_error(send(session, {"type": "conversation.item.create", "item": output, "event_id": "e9"}))
    assert error["code"] == "invalid_tool_call_id"
    assert error["message"] == "Tool call ID 'call_nope' not found in conversation."
    assert error["event_id"] == "e9"
    call = {"type": "function_call", "name": "f", "call_id": "call_nope", "arguments": "{}"}
    send(session, {"type": "conversation.item.create", "item": call})
    events = send(session, {"type": "conversation.item.create", "item": output})
    assert events[0]["item"] == {
        "id": events[0]["item"]["id"],
        "type": "function_call_output",
        "call_id": "call_nope",
        "output": "x",
    }


def test_previous_item_id_root_inserts_first_and_unknown_ids_are_errors():
    session = new_session()
    first = send(session, user_text("one"))[0]["item"]["id"]
    events = send(session, {**user_text("zero"), "previous_item_id": "root"})
    assert events[0]["previous_item_id"] is None
    assert [i["id"] for i in session.conversation.items][1] == first
    error = only_error(send(session, {**user_text("x"), "previous_item_id": "item_missing"}))
    assert error["param"] == "previous_item_id"


def test_input_audio_item_with_bad_base64_is_invalid_value_and_the_session_goes_on():
    session = new_session()
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "abc"}]}
    error = only_error(send(session, {"type": "conversation.item.create", "item": item, "event_id": "a1"}))
    assert (error["code"], error["param"], error["event_id"]) == (
        "invalid_value",
        "item.content[0].audio",
        "a1",
    )
    assert session.conversation.items == []
    item["content"][0] = {"type": "input_audio", "audio": "", "transcript": 5}
    error = only_error(send(session, {"type": "conversation.item.create", "item": item}))
    assert (error["code"], error["param"]) == ("invalid_type", "item.content[0].transcript")
    item["content"][0] = {"type": "input_audio", "audio": base64.b64encode(bytes(4800)).decode()}
    events = send(session, {"type": "conversation.item.create", "item": item})
    assert types(events) == ["conversation.item.added", "conversation.item.done"]
    assert session.conversation.audio[events[0]["item"]["id"]] == bytes(4800)


def test_client_item_ids_are_kept():
    item = {"id": "item_client_1", **user_text("x")["item"]}
    events = send(new_session(), {"type": "conversation.item.create", "item": item})
    assert events[0]["item"]["id"] == "item_client_1"


def test_retrieve_delete_and_truncate_reply_and_reject_unknown_items():
    session = new_session()
    item_id = send(session, user_text("hi"))[0]["item"]["id"]
    assert send(session, {"type": "conversation.item.retrieve", "item_id": item_id})[0]["item"]["id"] == item_id
    for kind, code, verb in [
        ("retrieve", "item_retrieve_invalid_item_id", "retrieving"),
        ("delete", "item_delete_invalid_item_id", "deleting"),
    ]:
        error = only_error(send(session, {"type": f"conversation.item.{kind}", "item_id": "item_x"}))
        assert error["code"] == code
        assert error["message"] == f"Error {verb} item: the item with id 'item_x' does not exist."
    truncate = {
        "type": "conversation.item.truncate",
        "item_id": "item_x",
        "content_index": 0,
        "audio_end_ms": 10,
    }
    assert only_error(send(session, truncate))["code"] == "item_truncate_invalid_item_id"
    events = send(session, {"type": "conversation.item.delete", "item_id": item_id})
    assert types(events) == ["conversation.item.deleted"] and events[0]["item_id"] == item_id
    assert session.conversation.items == []


def test_truncate_cuts_assistant_audio_and_checks_its_length():
    session = new_session()
    send(session, user_text("hi"))
    done = send(session, {"type": "response.create"})
    item_id = next(e for e in done if e["type"] == "response.output_item.done")["item"]["id"]
    length = len(session.conversation.audio[item_id]) // PCM_MS
    error = only_error(
        send(
            session,
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": length + 1,
            },
        )
    )
    assert error["message"] == f"Audio content of {length}ms is already shorter than {length + 1}ms"
    events = send(
        session,
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 100,
        },
    )
    assert events[0]["type"] == "conversation.item.truncated"
    assert (events[0]["content_index"], events[0]["audio_end_ms"]) == (0, 100)
    assert len(session.conversation.audio[item_id]) == 100 * PCM_MS


# --- responses ---------------------------------------------------------------------------------

TEXT_RESPONSE = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "conversation.item.done",
    "response.output_item.done",
    "response.done",
    "rate_limits.updated",
]


def collapse(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if not (out and name == out[-1] and name.endswith(".delta")):
            out.append(name)
    return out


def test_text_response_has_the_recorded_event_sequence_and_usage():
    session = text_session()
    send(session, user_text("hi"))
    events = send(session, {"type": "response.create"})
    assert collapse(types(events)) == TEXT_RESPONSE
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == Script().default_text
    done = events[-2]["response"]
    assert done["status"] == "completed" and done["output"][0]["content"] == [{"type": "output_text", "text": text}]
    assert set(done["usage"]) == {
        "total_tokens",
        "input_tokens",
        "output_tokens",
        "input_token_details",
        "output_token_details",
    }
    assert all(len(e["delta"]) + len(e["obfuscation"]) >= 16 for e in events if e["type"].endswith("text.delta"))


def test_audio_response_streams_real_pcm16_with_a_matching_transcript():
    session = new_session()
    send(session, user_text("hi"))
    events = send(session, {"type": "response.create"})
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    transcript = "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")
    assert transcript == Script().default_text
    assert len(audio) % 2 == 0 and len(audio) > 48 * 1000  # over a second of PCM16
    assert len(audio) == len(session.conversation.audio[events[-2]["response"]["output"][0]["id"]])
    assert events[-2]["response"]["output"][0]["content"] == [{"type": "output_audio", "transcript": transcript}]
    assert events[-2]["response"]["usage"]["output_token_details"]["audio_tokens"] > 0


def test_response_create_while_active_is_conversation_already_has_active_response():
    session = new_session(timing=REALISTIC)
    session.receive('{"type": "response.create"}', 0.0)
    session.receive('{"type": "response.create", "event_id": "r2"}', 0.1)
    error = next(e for e in session.pop_due(0.1) if e["type"] == "error")["error"]
    rid = session.active.id
    assert error["code"] == "conversation_already_has_active_response"
    assert error["message"] == (
        f"Conversation already has an active response in progress: {rid}. Wait until the response "
        "is finished before creating a new one."
    )
    assert error["event_id"] == "r2"


def test_response_create_overrides_session_config_for_that_response_only():
    session = text_session()
    send(session, user_text("hi"))
    override = {
        "output_modalities": ["audio"],
        "audio": {"output": {"voice": "echo"}},
        "metadata": {"topic": "x"},
        "instructions": "Be brief.",
    }
    first = send(session, {"type": "response.create", "response": override})
    created = first[0]["response"]
    assert created["output_modalities"] == ["audio"]
    assert created["audio"]["output"]["voice"] == "echo"
    assert created["metadata"] == {"topic": "x"}
    assert "response.output_audio.delta" in types(first)
    second = send(session, {"type": "response.create"})
    assert second[0]["response"]["output_modalities"] == ["text"]
    assert second[0]["response"]["audio"]["output"]["voice"] == "alloy"
    assert second[0]["response"]["metadata"] is None
    assert session.session["instructions"] == DEFAULT_INSTRUCTIONS


def test_response_create_rejects_unknown_response_parameters():
    error = only_error(send(new_session(), {"type": "response.create", "response": {"temperature": 1}}))
    assert (error["code"], error["param"]) == ("unknown_parameter", "response.temperature")


def test_out_of_band_response_stays_out_of_the_conversation():
    session = text_session()
    events = send(session, {"type": "response.create", "response": {"conversation": "none", "input": []}})
    assert events[0]["response"]["conversation_id"] is None
    assert not any(t.startswith("conversation.") for t in types(events))
    assert session.conversation.items == []


def test_max_output_tokens_ends_the_response_incomplete():
    session = text_session()
    events = send(session, {"type": "response.create", "response": {"max_output_tokens": 2}})
    done = events[-2]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert len([e for e in events if e["type"] == "response.output_text.delta"]) == 2


def test_default_script_calls_get_weather_only_when_the_tool_is_declared():
    session = text_session()
    send(session, user_text("What is the weather in London?"))
    assert "response.function_call_arguments.done" not in types(send(session, {"type": "response.create"}))
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    events = send(session, {"type": "response.create", "response": {"tools": [tool]}})
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert (done["name"], done["arguments"]) == ("get_weather", '{"city": "London"}')
    assert done["call_id"].startswith("call_") and len(done["call_id"]) == 21


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_with_nothing_active_is_response_cancel_not_active():
    error = only_error(send(new_session(), {"type": "response.cancel", "event_id": "k1"}))
    assert (error["code"], error["message"], error["event_id"]) == (
        "response_cancel_not_active",
        "Cancellation failed: no active response found",
        "k1",
    )


def test_cancel_closes_open_parts_and_ends_cancelled_without_a_cancelled_event():
    session = text_session(timing=REALISTIC)
    session.receive(_json(user_text("hi")), 0.0)
    session.receive('{"type": "response.create"}', 0.0)
    seen = session.pop_due(0.52)  # a few text deltas are out
    sent_text = "".join(e["delta"] for e in seen if e["type"] == "response.output_text.delta")
    assert sent_text and sent_text != Script().default_text
    session.receive('{"type": "response.cancel"}', 0.52)
    rest = [e for _, e in session.outbox.pop_all(0.52)]
    assert types(rest) == [
        "response.output_text.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    assert rest[0]["text"] == sent_text
    assert rest[3]["item"]["status"] == "incomplete"
    assert rest[4]["response"]["status_details"] == {
        "type": "cancelled",
        "reason": "client_cancelled",
    }
    assert "response.cancelled" not in types(seen + rest)
    assert session.active is None
    assert only_error(send(session, {"type": "response.cancel"}))["code"] == "response_cancel_not_active"


def test_cancel_before_any_output_forgets_the_unseen_item():
    session = text_session(timing=REALISTIC)
    session.receive('{"type": "response.create"}', 0.0)
    session.pop_due(0.3)  # response.created only
    session.receive('{"type": "response.cancel"}', 0.3)
    rest = [e for _, e in session.outbox.pop_all(0.3)]
    assert types(rest) == ["response.done", "rate_limits.updated"]
    assert rest[0]["response"]["output"] == []
    assert session.conversation.items == []


def test_barge_in_before_the_cancelled_response_is_done_still_answers_the_new_turn():
    # Realistic latency: speech starts and stops within one append, while the cancelled
    # response's closing events are still queued (it is `active` until its response.done).
    session = new_session(timing=REALISTIC)
    session.receive(_json(append(1500, loud=False)), 0.0)  # settle the VAD
    session.receive(_json(append(600, loud=True)), 0.0)
    session.receive(_json(append(600, loud=False)), 0.0)
    sent = session.pop_due(0.8)
    assert "response.output_audio.delta" in types(sent)
    session.receive(_json(append(600, loud=True)), 0.8)
    session.receive(_json(append(600, loud=False)), 0.8)
    rest = [e for _, e in session.outbox.pop_all(0.8)]
    dones = [e["response"] for e in rest if e["type"] == "response.done"]
    assert [d["status"] for d in dones] == ["cancelled", "completed"]
    names = types(rest)
    assert names.index("response.done") < names.index("response.created")
    # The answer follows the new user turn in the conversation.
    committed = next(e for e in rest if e["type"] == "input_audio_buffer.committed")
    assert [i["id"] for i in session.conversation.items][-2] == committed["item_id"]
    assert session.active is None


def test_cancel_usage_and_stored_audio_cover_only_what_was_streamed():
    session = new_session(timing=REALISTIC)
    session.receive(_json(user_text("hi")), 0.0)
    session.receive('{"type": "response.create"}', 0.0)
    sent = session.pop_due(0.6)
    deltas = [e for e in sent if e["type"] == "response.output_audio.delta"]
    streamed = sum(len(base64.b64decode(e["delta"])) for e in deltas)
    transcript = [e for e in sent if e["type"] == "response.output_audio_transcript.delta"]
    assert deltas and transcript
    planned = session.active.usage
    session.receive('{"type": "response.cancel"}', 0.6)
    rest = [e for _, e in session.outbox.pop_all(0.6)]
    done = next(e for e in rest if e["type"] == "response.done")["response"]
    details = done["usage"]["output_token_details"]
    audio_tokens = -(-streamed // (50 * PCM_MS))  # one token per started 50 ms
    assert details == {"text_tokens": len(transcript), "audio_tokens": audio_tokens}
    assert done["usage"]["input_tokens"] == planned["input_tokens"]
    assert done["usage"]["total_tokens"] < planned["total_tokens"]
    assert len(session.conversation.audio[done["output"][0]["id"]]) == streamed
    limits = rest[-1]["rate_limits"][0]
    assert limits["limit"] - limits["remaining"] == done["usage"]["total_tokens"]


def test_response_cancel_response_id_must_be_a_string():
    session = new_session()
    for bad in ([], {}, 5):
        event = {"type": "response.cancel", "response_id": bad, "event_id": "k2"}
        error = only_error(send(session, event))
        assert (error["code"], error["param"], error["event_id"]) == (
            "invalid_type",
            "response_id",
            "k2",
        )
    assert (
        only_error(send(session, {"type": "response.cancel", "response_id": "resp_x"}))["code"]
        == "response_cancel_not_active"
    )


# --- inline response input ---------------------------------------------------------------------


def test_inline_response_input_items_need_no_id():
    session = text_session()
    user = user_text("hi")["item"]
    call = {"type": "function_call", "name": "f", "arguments": "{}", "call_id": "call_1"}
    output = {"type": "function_call_output", "call_id": "call_1", "output": "ok"}
    for entries in ([user], [user, call, output]):
        params = {"conversation": "none", "input": entries}
        events = send(session, {"type": "response.create", "response": params})
        assert events[-2]["response"]["status"] == "completed"
    assert session.conversation.items == []


@pytest.mark.parametrize(
    ("entry", "code", "param"),
    [
        (
            {"type": "message", "role": "user", "content": "hi"},
            "invalid_type",
            "response.input[0].content",
        ),
        (
            {"type": "message", "role": "user", "content": [{"type": "output_text", "text": "x"}]},
            "invalid_value",
            "response.input[0].content[0].type",
        ),
        (
            {"type": "function_call", "arguments": "{}"},
            "missing_required_parameter",
            "response.input[0].name",
        ),
        ({"type": "item_reference", "id": []}, "invalid_type", "response.input[0].id"),
        (
            {"type": "message", "role": "user", "content": [], "x": 1},
            "unknown_parameter",
            "response.input[0].x",
        ),
        ("hi", "invalid_type", "response.input[0]"),
    ],
)
def test_inline_response_input_follows_the_item_rules(entry, code, param):
    event = {"type": "response.create", "event_id": "o1", "response": {"input": [entry]}}
    error = only_error(send(text_session(), event))
    assert (error["code"], error["param"], error["event_id"]) == (code, param, "o1")


# --- framing errors ----------------------------------------------------------------------------


def test_unknown_event_type_is_invalid_value_listing_supported_types():
    error = only_error(send(new_session(), {"type": "response.cancelled", "event_id": "z"}))
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "type", "z")
    assert all(f"'{name}'" in error["message"] for name in CLIENT_EVENTS)
    assert error["message"].startswith("Invalid value: 'response.cancelled'. Supported values are: 'session.update', ")


def test_output_audio_buffer_clear_is_webrtc_only_so_unknown_and_not_listed():
    error = only_error(send(new_session(), {"type": "output_audio_buffer.clear"}))
    assert (error["code"], error["param"]) == ("invalid_value", "type")
    assert error["message"].startswith("Invalid value: 'output_audio_buffer.clear'.")
    assert error["message"].count("output_audio_buffer.clear") == 1


def test_unknown_top_level_field_is_unknown_parameter():
    error = only_error(send(new_session(), {"type": "input_audio_buffer.commit", "audio": "AAAA"}))
    assert (error["code"], error["param"]) == ("unknown_parameter", "audio")


def test_non_json_and_binary_frames_get_errors():
    session = new_session()
    assert only_error(send(session, "{not json"))["code"] == "invalid_json"
    assert only_error(send(session, b"\x00\x01"))["code"] == "invalid_event"


# --- determinism and script --------------------------------------------------------------------


def test_same_seed_gives_the_same_events():
    def run() -> list[dict[str, Any]]:
        session = new_session(seed=42)
        return send(session, user_text("hi")) + send(session, {"type": "response.create"})

    assert run() == run()
    ids = [e["event_id"] for e in run()]
    assert all(i.startswith("event_") and len(i) == 27 for i in ids)


def test_script_rules_substitute_groups_and_function_outputs():
    script = Script.parse(
        """
        # comment
        when /book (\\w+) at (\\d+)/i call book_table with {"place": "$1", "time": "$2"}
        when /hello/i say Hi $0!
        after book_table say Booked $place: $output
        say Fallback.
        hear I want a table.
        """
    )
    user = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Book Luigi at 8"}],
    }
    call = script.answer([user], ["book_table"])
    assert (call.call_name, call.call_arguments) == (
        "book_table",
        '{"place": "Luigi", "time": "8"}',
    )
    assert script.answer([user], []).text == "Fallback."
    items = [
        user,
        {
            "type": "function_call",
            "call_id": "c",
            "name": "book_table",
            "arguments": call.call_arguments,
        },
        {"type": "function_call_output", "call_id": "c", "output": "ok"},
    ]
    assert script.answer(items, ["book_table"]).text == "Booked Luigi: ok"
    user["content"][0]["text"] = "hello there"
    assert script.answer([user], []).text == "Hi hello!"
    assert script.heard(0) == script.heard(5) == "I want a table."


@pytest.mark.parametrize("line", ["when /x/ shout y", "when /(/ say y", "when /x/ call f with {bad}", "banana"])
def test_script_errors_name_the_line(line):
    with pytest.raises(ScriptError, match="line 2"):
        Script.parse("# header\n" + line)
