"""Mock fidelity: behaviours the recordings and the protocol docs show, one test each (the
state machine without sockets; see test_mock_server_fidelity.py for the shell's part)."""

from __future__ import annotations

from typing import Any

import pytest
from test_mock_state import new_session, only_error, send, text_session, types

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
