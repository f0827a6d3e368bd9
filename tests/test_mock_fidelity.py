"""Mock fidelity: behaviours the recordings and the protocol docs show, one test each (the
state machine without sockets; see test_mock_server_fidelity.py for the shell's part)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_mock_state import append, new_session, only_error, send, text_session, types, user_text

from inspector.mock.outbox import Close
from inspector.mock.responses import REALISTIC
from inspector.mock.script import Script, ScriptError
from inspector.mock.state import MockSession

# --- validation holes found by fuzzing --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "got"), [([], "an array"), (0, "an integer"), ("", "a string"), (False, "a boolean")]
)
def test_response_create_refuses_a_response_that_is_not_an_object(value: Any, got: str):
    error = only_error(send(text_session(), {"type": "response.create", "response": value}))
    assert error["code"] == "invalid_type"
    assert error["message"] == f"Invalid type for 'response': expected an object, but got {got} instead."


def test_response_create_with_null_response_still_starts_a_response():
    assert "response.created" in types(send(text_session(), {"type": "response.create", "response": None}))


def test_response_metadata_must_be_an_object_of_strings():
    session = text_session()
    error = only_error(send(session, {"type": "response.create", "response": {"metadata": [1]}}))
    assert (error["code"], error["param"]) == ("invalid_type", "response.metadata")
    error = only_error(send(session, {"type": "response.create", "response": {"metadata": {"k": 1}}}))
    assert (error["code"], error["param"]) == ("invalid_type", "response.metadata.k")
    ok = send(session, {"type": "response.create", "response": {"metadata": {"k": "v"}}})
    assert ok[0]["response"]["metadata"] == {"k": "v"}


@pytest.mark.parametrize(("model", "code"), [("", "empty_string"), ("m" * 1024 * 1024, "string_above_max_length")])
def test_session_update_refuses_an_empty_or_huge_model_name(model: str, code: str):
    session = new_session()
    error = only_error(send(session, {"type": "session.update", "session": {"type": "realtime", "model": model}}))
    assert (error["code"], error["param"]) == (code, "session.model")
    assert session.session["model"] == "gpt-realtime"


# --- several output items in one response -----------------------------------------------------


def _done(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for e in events if e["type"] == "response.done")["response"]


def test_then_say_gives_two_messages_in_one_response_in_order_one_part_each():
    session = text_session(script=Script.parse("say Hello. then say Bonjour."))
    send(session, user_text("Hi"))
    events = send(session, {"type": "response.create"})
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [e["output_index"] for e in added] == [0, 1]
    assert types(events).count("response.content_part.added") == 2
    assert types(events).count("response.created") == types(events).count("response.done") == 1
    output = _done(events)["output"]
    assert [o["content"][0]["text"] for o in output] == ["Hello.", "Bonjour."]
    # The second item follows the first in the conversation.
    second = [e for e in events if e["type"] == "conversation.item.added"][1]
    assert second["previous_item_id"] == output[0]["id"]


def test_say_then_call_gives_a_message_then_a_function_call():
    script = Script.parse('when /weather/ say Let me check. then call get_weather {"city": "Paris"}')
    session = text_session(script=script)
    tool = {"type": "function", "name": "get_weather", "parameters": {}}
    send(session, {"type": "session.update", "session": {"type": "realtime", "tools": [tool]}})
    send(session, user_text("weather?"))
    output = _done(send(session, {"type": "response.create"}))["output"]
    assert [o["type"] for o in output] == ["message", "function_call"]
    assert json.loads(output[1]["arguments"]) == {"city": "Paris"}


def test_a_then_call_of_an_undeclared_tool_is_left_out():
    session = text_session(script=Script.parse("say Sure. then call nope {}"))
    send(session, user_text("Hi"))
    assert [o["type"] for o in _done(send(session, {"type": "response.create"}))["output"]] == ["message"]


def test_a_bad_then_clause_is_a_script_error_naming_the_line():
    with pytest.raises(ScriptError, match="line 1"):
        Script.parse("say A then call lookup {not json}")


def test_cancel_after_the_first_of_two_audio_items_keeps_the_first_and_drops_the_second():
    session = new_session(script=Script.parse("say One. then say Two."), timing=REALISTIC)
    send(session, user_text("Hi"))
    session.receive(json.dumps({"type": "response.create"}), 0.0)
    sent: list[Any] = []
    while "response.output_item.done" not in [e["type"] for e in sent]:
        due = session.next_due()
        assert due is not None
        sent += session.pop_due(due)
    # Only the first item reached the client: the rest of the plan is still pending.
    events = send(session, {"type": "response.cancel"}, due)
    done = _done(events)
    assert done["status"] == "cancelled"
    assert [o["content"][0]["transcript"] for o in done["output"]] == ["One."]


# --- timers: idle timeout and session expiry ----------------------------------------------------


def run_until(session: MockSession, until: float) -> list[dict[str, Any]]:
    """Advance the clock through everything due before `until`, as the shell does."""
    out: list[Any] = []
    while (due := session.next_due()) is not None and due <= until:
        out += session.pop_due(due)
    return out


def idle_session(idle_ms: int = 5000) -> MockSession:
    session = MockSession(seed=1, script=Script.parse("say Hi."))
    session.connect(0.0)
    turn = {"type": "server_vad", "idle_timeout_ms": idle_ms}
    update = {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}
    update["session"]["audio"] = {"input": {"turn_detection": turn}}
    session.receive(json.dumps(update), 0.0)
    session.receive(json.dumps(user_text("Hello")), 0.0)
    session.receive(json.dumps({"type": "response.create"}), 0.0)
    run_until(session, 0.0)
    return session


def test_idle_timeout_nudges_commits_and_answers_in_the_services_order():
    session = idle_session()
    session.receive(json.dumps(append(300, loud=False)), 1.0)
    assert run_until(session, 4.9) == []
    events = run_until(session, 5.1)
    assert types(events)[:7] == [
        "input_audio_buffer.timeout_triggered",
        "conversation.item.added",
        "conversation.item.done",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
    ]
    trigger = events[0]
    assert (trigger["audio_start_ms"], trigger["audio_end_ms"]) == (0, 300)
    assert events[1]["item"]["role"] == "system"
    assert events[3]["item_id"] == trigger["item_id"] == events[4]["item"]["id"]
    assert events[4]["item"]["content"] == [{"type": "input_audio", "transcript": None}]


def test_idle_timeout_fires_again_only_after_new_audio():
    session = idle_session()
    assert "input_audio_buffer.timeout_triggered" in types(run_until(session, 6.0))
    assert run_until(session, 60.0) == []  # the nudge's answer is done: no audio, no second nudge
    session.receive(json.dumps(append(100, loud=False)), 60.0)
    assert "input_audio_buffer.timeout_triggered" in types(run_until(session, 66.0))


def test_speech_cancels_the_idle_timer():
    session = idle_session()
    session.receive(json.dumps(append(200, loud=True)), 1.0)
    assert "input_audio_buffer.timeout_triggered" not in types(run_until(session, 5.5))


def test_session_expires_with_the_services_error_then_close_1001():
    session = MockSession(seed=1, max_session_s=120, now_unix=1_700_000_000)
    session.connect(10.0)
    assert session.session["expires_at"] == 1_700_000_120
    assert run_until(session, 129.0)[0]["type"] == "session.created"
    error, close = run_until(session, 130.0)
    assert error["error"]["code"] == "session_expired"
    assert error["error"]["message"] == "Your session hit the maximum duration of 2 minutes."
    assert close == Close(1001, "session_expired")
    assert session.next_due() is None


# --- flavours and models ----------------------------------------------------------------------


def test_azure_flavour_sends_no_rate_limits_updated():
    azure = text_session(flavor="azure")
    openai = text_session()
    for session in (azure, openai):
        send(session, user_text("Hi"))
    assert "rate_limits.updated" not in types(send(azure, {"type": "response.create"}))
    assert "rate_limits.updated" in types(send(openai, {"type": "response.create"}))


@pytest.mark.parametrize(
    ("model", "silence"),
    [("gpt-realtime", 200), ("gpt-realtime-2025-08-28", 200), ("gpt-4o-realtime-preview-2024-12-17", 500)],
)
def test_server_vad_defaults_follow_the_model(model: str, silence: int):
    session = MockSession(seed=1, model=model)
    assert session.session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == silence
    update = {"type": "session.update", "session": {"type": "realtime"}}
    update["session"]["audio"] = {"input": {"turn_detection": {"type": "server_vad"}}}
    updated = send(session, update)[0]["session"]
    assert updated["audio"]["input"]["turn_detection"]["silence_duration_ms"] == silence
