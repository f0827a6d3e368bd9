"""Pure event description and redaction."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from inspector.protocol import (
    Opcode,
    audio_bytes,
    audio_summary,
    describe_frame,
)
from inspector.redaction import (
    REDACTED,
    redact_headers,
    redact_query,
    redact_subprotocols,
    redact_text,
    redact_url,
)


def test_locators_are_found_at_top_level_and_inside_item_and_response():
    delta = describe_frame(
        '{"type":"response.output_text.delta","event_id":"event_1","item_id":"item_1","response_id":"resp_1","delta":"Hel"}'
    )
    assert (delta.type, delta.event_id, delta.item_id, delta.response_id, delta.summary) == (
        "response.output_text.delta",
        "event_1",
        "item_1",
        "resp_1",
        "Hel",
    )
    created = describe_frame('{"type":"response.created","response":{"id":"resp_2","status":"in_progress"}}')
    assert created.response_id == "resp_2"
    item = describe_frame(
        '{"type":"conversation.item.create","item":{"id":"item_9","type":"function_call_output","call_id":"call_7","output":"{}"}}'
    )
    assert (item.item_id, item.call_id) == ("item_9", "call_7")


def test_errors_and_failed_responses_are_flagged():
    err = describe_frame(
        '{"type":"error","error":{"code":"response_cancel_not_active","message":"Cancellation failed"}}'
    )
    assert err.is_error and err.summary == "response_cancel_not_active: Cancellation failed"
    failed = describe_frame('{"type":"response.done","response":{"id":"r","status":"failed"}}')
    assert failed.is_error
    ok = describe_frame('{"type":"response.done","response":{"id":"r","status":"completed"}}')
    assert not ok.is_error and ok.summary == "completed"


def test_problem_frames_are_described_not_raised():
    assert describe_frame(b"\x00", Opcode.BINARY).problem == "binary"
    assert describe_frame("{oops").problem == "not_json"
    assert describe_frame("[]").problem == "not_object"
    assert describe_frame('{"type": 5}').problem == "no_type"


@given(st.text(max_size=200))
def test_describe_frame_never_raises(text):
    describe_frame(text)


def test_audio_is_summarised_by_duration_and_size():
    b64 = "A" * 1280  # 960 bytes = 20 ms of PCM16 at 24 kHz
    assert audio_bytes(b64) == 960
    assert audio_summary(b64) == "<audio 20 ms, 960 B>"
    info = describe_frame('{"type":"input_audio_buffer.append","audio":"' + b64 + '"}')
    assert info.summary == "<audio 20 ms, 960 B>" and info.audio == b64


def test_key_shaped_strings_are_redacted_but_audio_and_ids_are_not():
    text = "key sk-proj-abcdefghijk01 and ek_abcdefghijklmnop0123, id event_abcdefghijklmnopqrstu"
    assert redact_text(text) == f"key {REDACTED} and {REDACTED}, id event_abcdefghijklmnopqrstu"
    audio = "ask-AAAAAAAAAAAAAAAAAAA+/sk"  # 'sk-' inside a longer token is not a key
    assert redact_text(audio) == audio


def test_credential_headers_subprotocols_and_query_parameters_are_redacted():
    headers = redact_headers([("Authorization", "Bearer x"), ("api-key", "y"), ("User-Agent", "ua")])
    assert headers == [("Authorization", REDACTED), ("api-key", REDACTED), ("User-Agent", "ua")]
    assert redact_subprotocols(
        ["realtime", "openai-insecure-api-key.abc", "openai-project.p", "openai-beta.realtime-v1"]
    ) == ["realtime", f"openai-insecure-api-key.{REDACTED}", f"openai-project.{REDACTED}", "openai-beta.realtime-v1"]
    assert redact_headers(
        [("OpenAI-Organization", "org-1"), ("OpenAI-Project", "proj_1"), ("OpenAI-Beta", "realtime=v1")]
    ) == [("OpenAI-Organization", REDACTED), ("OpenAI-Project", REDACTED), ("OpenAI-Beta", "realtime=v1")]
    assert redact_query("model=m&api-key=secret&key=k2") == f"model=m&api-key={REDACTED}&key={REDACTED}"
    assert redact_url("wss://u:p@host/v1/realtime?api-key=s") == f"wss://host/v1/realtime?api-key={REDACTED}"


def test_a_browser_key_of_any_shape_is_redacted_inside_the_subprotocol_header():
    headers = redact_headers([("Sec-WebSocket-Protocol", "realtime, openai-insecure-api-key.AzureKey0123456789abcdef")])
    assert headers == [("Sec-WebSocket-Protocol", f"realtime, openai-insecure-api-key.{REDACTED}")]


def test_input_transcription_is_summarised_by_its_transcript():
    info = describe_frame(
        '{"type":"conversation.item.input_audio_transcription.completed","item_id":"item_1","transcript":"Hello there"}'
    )
    assert info.summary == "Hello there" and info.item_id == "item_1"
