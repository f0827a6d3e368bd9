"""Mock fidelity: behaviours the recordings and the protocol docs show, one test each (the
state machine without sockets; see test_mock_server_fidelity.py for the shell's part)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_mock_state import new_session, only_error, send, text_session, types, user_text

from inspector.mock.responses import REALISTIC
from inspector.mock.script import Script, ScriptError

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
