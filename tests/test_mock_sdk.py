"""The official `openai` SDK as the mock's client, over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from inspector.mock.audio import tone
from inspector.mock.script import Script
from inspector.mock.server import MockServer, run_mock

TIMEOUT = 10
LONG_ANSWER = " ".join(f"word{i}" for i in range(250))
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Look up the weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
async def mock() -> AsyncIterator[MockServer]:
    async with run_mock(seed=11, latency="none") as server:
        yield server


@pytest.fixture
async def slow_mock() -> AsyncIterator[MockServer]:
    # A long answer streams for about a second: time enough to cancel it on a loaded machine.
    async with run_mock(seed=11, latency="realistic", script=Script.parse(f"say {LONG_ANSWER}")) as server:
        yield server


def client_for(server: MockServer) -> AsyncOpenAI:
    return AsyncOpenAI(api_key="sk-test-not-a-real-key", websocket_base_url=f"ws://127.0.0.1:{server.port}/v1")


async def until(conn: Any, last: str) -> list[Any]:
    """Events up to and including the first of type `last`."""
    events = []
    async with asyncio.timeout(TIMEOUT):
        async for event in conn:
            events.append(event)
            if event.type == last:
                return events
    raise AssertionError(f"connection ended before {last}: {[e.type for e in events]}")


async def text_mode(conn: Any, **session: Any) -> None:
    await conn.session.update(session={"type": "realtime", "output_modalities": ["text"], **session})
    await until(conn, "session.updated")


async def say(conn: Any, text: str) -> None:
    await conn.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )


def pcm_chunks(ms: int, *, loud: bool, chunk_ms: int = 20) -> list[str]:
    audio = tone("audio/pcm", ms) if loud else bytes(ms * 48)
    size = chunk_ms * 48
    return [base64.b64encode(audio[i : i + size]).decode() for i in range(0, len(audio), size)]


async def test_sdk_text_turn_gets_the_scripted_sentence(mock):
    async with client_for(mock).realtime.connect(model="gpt-realtime") as conn:
        assert (await conn.recv()).type == "session.created"
        await text_mode(conn)
        await say(conn, "Say a short greeting.")
        await conn.response.create()
        events = await until(conn, "response.done")
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == Script().default_text
    done = events[-1].response
    assert done.status == "completed"
    assert done.output[0].content[0].text == text
    assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens


async def test_sdk_audio_turn_with_server_vad_answers_with_pcm16_and_transcript(mock):
    async with client_for(mock).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        transcription = {"model": "gpt-realtime-whisper"}
        await conn.session.update(session={"type": "realtime", "audio": {"input": {"transcription": transcription}}})
        await until(conn, "session.updated")
        for chunk in pcm_chunks(300, loud=False) + pcm_chunks(800, loud=True) + pcm_chunks(400, loud=False):
            await conn.input_audio_buffer.append(audio=chunk)
        events = await until(conn, "response.done")
    kinds = [e.type for e in events]
    assert kinds[:5] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert events[0].audio_start_ms == 0 and events[1].audio_end_ms == 1100 + 200
    completed = next(e for e in events if e.type == "conversation.item.input_audio_transcription.completed")
    assert completed.transcript == Script().transcripts[0]
    audio = b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
    transcript = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
    assert len(audio) % 2 == 0 and len(audio) >= 48 * 1000
    assert transcript == events[-1].response.output[0].content[0].transcript == Script().default_text


async def test_sdk_function_call_round_trip(mock):
    async with client_for(mock).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await text_mode(conn, tools=[WEATHER_TOOL])
        await say(conn, "What's the weather in Paris?")
        await conn.response.create()
        events = await until(conn, "response.done")
        call = next(e for e in events if e.type == "response.function_call_arguments.done")
        assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
        assert events[-1].response.output[0].type == "function_call"
        output = "Sunny and 21 degrees in Paris."
        await conn.conversation.item.create(
            item={"type": "function_call_output", "call_id": call.call_id, "output": output}
        )
        await conn.response.create()
        events = await until(conn, "response.done")
    # rate_limits.updated of the first response, then the output item, then the answer.
    assert [e.type for e in events][:3] == [
        "rate_limits.updated",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert events[-1].response.output[0].content[0].text == output


async def test_sdk_cancel_ends_the_response_cancelled_with_its_parts_closed(slow_mock):
    async with client_for(slow_mock).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await text_mode(conn)
        await say(conn, "Tell me something long.")
        await conn.response.create()
        before = await until(conn, "response.output_text.delta")
        await conn.response.cancel()
        after = await until(conn, "response.done")
    kinds = [e.type for e in before + after]
    assert "response.cancelled" not in kinds
    for opened in ("response.content_part", "response.output_item"):
        assert kinds.count(f"{opened}.added") == kinds.count(f"{opened}.done") == 1
    done = after[-1].response
    assert done.status == "cancelled"
    assert done.status_details.reason == "client_cancelled"
    assert done.output[0].status == "incomplete"
    assert 0 < len(done.output[0].content[0].text) < len(LONG_ANSWER)


async def first_error(conn: Any) -> Any:
    return next(e for e in await until(conn, "error") if e.type == "error").error


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (
            lambda c: c.input_audio_buffer.commit(event_id="evt_1"),
            "input_audio_buffer_commit_empty",
        ),
        (lambda c: c.response.cancel(event_id="evt_1"), "response_cancel_not_active"),
        (
            lambda c: c.session.update(session={"instructions": "x"}, event_id="evt_1"),
            "missing_required_parameter",
        ),
        (
            lambda c: c.session.update(session={"type": "realtime", "temperature": 0.5}, event_id="evt_1"),
            "unknown_parameter",
        ),
        (
            lambda c: c.session.update(session={"type": "realtime", "output_modalities": ["smell"]}, event_id="evt_1"),
            "invalid_value",
        ),
        (
            lambda c: c.send_raw('{"type": "response.cancelled", "event_id": "evt_1"}'),
            "invalid_value",
        ),
        (
            lambda c: c.conversation.item.delete(item_id="item_nope", event_id="evt_1"),
            "item_delete_invalid_item_id",
        ),
        (
            lambda c: c.conversation.item.retrieve(item_id="item_nope", event_id="evt_1"),
            "item_retrieve_invalid_item_id",
        ),
        (
            lambda c: c.conversation.item.truncate(
                item_id="item_nope", content_index=0, audio_end_ms=5, event_id="evt_1"
            ),
            "item_truncate_invalid_item_id",
        ),
        (
            lambda c: c.conversation.item.create(
                item={"type": "function_call_output", "call_id": "call_nope", "output": "x"},
                event_id="evt_1",
            ),
            "invalid_tool_call_id",
        ),
        (
            lambda c: c.conversation.item.create(
                item={
                    "type": "message",
                    "role": "system",
                    "content": [{"type": "input_audio", "audio": ""}],
                },
                event_id="evt_1",
            ),
            "invalid_value",
        ),
    ],
    ids=[
        "commit-empty",
        "cancel-not-active",
        "session-type-missing",
        "unknown-session-parameter",
        "bad-modality",
        "unknown-event-type",
        "delete-unknown-item",
        "retrieve-unknown-item",
        "truncate-unknown-item",
        "unknown-call-id",
        "system-audio-content",
    ],
)
async def test_sdk_error_paths_echo_the_event_id_and_keep_the_socket_open(mock, action, code):
    async with client_for(mock).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await action(conn)
        error = await first_error(conn)
        assert (error.code, error.event_id, error.type) == (code, "evt_1", "invalid_request_error")
        await conn.response.cancel()  # the socket still answers
        assert (await first_error(conn)).code == "response_cancel_not_active"


async def test_sdk_invalid_json_and_binary_frames_get_errors(mock):
    async with client_for(mock).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.send_raw("this is not json")
        assert (await first_error(conn)).code == "invalid_json"
        await conn.send_raw(b"\x00\x01\x02")
        assert (await first_error(conn)).code == "invalid_event"


async def test_sdk_second_response_create_while_active_is_refused(slow_mock):
    async with client_for(slow_mock).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await text_mode(conn)
        await conn.response.create()
        await conn.response.create(event_id="evt_2")
        error = await first_error(conn)
        assert (error.code, error.event_id) == ("conversation_already_has_active_response", "evt_2")
        await conn.response.cancel()  # the first response is the one still running
        assert (await until(conn, "response.done"))[-1].response.status == "cancelled"


async def test_sdk_voice_is_fixed_once_assistant_audio_exists(mock):
    async with client_for(mock).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await say(conn, "hi")
        await conn.response.create()
        await until(conn, "response.done")
        await conn.session.update(
            session={"type": "realtime", "audio": {"output": {"voice": "marin"}}}, event_id="evt_3"
        )
        error = await first_error(conn)
        assert (error.code, error.event_id) == ("cannot_update_voice", "evt_3")


async def test_sdk_beta_header_gets_beta_api_shape_disabled_then_close_4000(mock):
    conn_manager = client_for(mock).realtime.connect(model="gpt-realtime", extra_headers={"OpenAI-Beta": "realtime=v1"})
    async with conn_manager as conn:
        error = (await conn.recv()).error
        assert error.code == "beta_api_shape_disabled"
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(TIMEOUT):
                await conn.recv()
    assert closed.value.rcvd.code == 4000


async def close_after_error(url: str, **kwargs: Any) -> tuple[dict[str, Any], int]:
    async with asyncio.timeout(TIMEOUT), connect(url, **kwargs) as ws:
        error = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code is not None
        return error, ws.close_code


async def test_beta_subprotocol_gets_beta_api_shape_disabled_then_close_4000(mock):
    # Browsers cannot set the OpenAI-Beta header; the beta put it in the subprotocol list.
    error, code = await close_after_error(
        mock.realtime_url,
        subprotocols=["realtime", "openai-insecure-api-key.sk-x", "openai-beta.realtime-v1"],
    )
    assert (error["error"]["code"], code) == ("beta_api_shape_disabled", 4000)


async def test_missing_model_gets_missing_model_then_close_4000(mock):
    error, code = await close_after_error(mock.url + "/v1/realtime")
    assert (error["type"], error["error"]["code"], code) == ("error", "missing_model", 4000)


async def test_require_key_refuses_a_missing_key_with_close_3000_and_accepts_any_key():
    async with run_mock(require_key=True) as server:
        error, code = await close_after_error(server.url + "/v1/realtime?model=gpt-realtime")
        assert (error["error"]["code"], code) == ("invalid_api_key", 3000)
        error, code = await close_after_error(
            server.url + "/v1/realtime?model=gpt-realtime",
            additional_headers={"Authorization": "Bearer "},
        )
        assert code == 3000
        async with client_for(server).realtime.connect(model="gpt-realtime") as conn:
            assert (await conn.recv()).type == "session.created"
        # Browsers put the key in a subprotocol; `realtime` is selected, the key accepted.
        url = server.url + "/v1/realtime?model=gpt-realtime"
        async with connect(url, subprotocols=["realtime", "openai-insecure-api-key.sk-x"]) as ws:
            assert ws.subprotocol == "realtime"
            assert json.loads(await ws.recv())["type"] == "session.created"


async def test_require_key_accepts_only_bearer_keys_not_other_auth_schemes():
    async with run_mock(require_key=True) as server:
        for auth in ("Basic abc", "Token sk-x", "Bearer"):
            error, code = await close_after_error(server.realtime_url, additional_headers={"Authorization": auth})
            assert (error["error"]["code"], code) == ("invalid_api_key", 3000), auth
        async with connect(server.realtime_url, additional_headers={"api-key": "k"}) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"


async def test_paths_not_ending_in_realtime_are_404(mock):
    with pytest.raises(InvalidStatus) as refused:
        async with connect(mock.url + "/v1/chat?model=gpt-realtime"):
            pass
    assert refused.value.response.status_code == 404


async def test_a_16_mib_append_is_accepted(mock):
    audio = base64.b64encode(bytes(12 * 1024 * 1024)).decode()  # 16 MiB of base64
    async with connect(mock.url + "/v1/realtime?model=gpt-realtime", max_size=None) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
        await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        async with asyncio.timeout(TIMEOUT):
            assert json.loads(await ws.recv())["type"] == "input_audio_buffer.cleared"
