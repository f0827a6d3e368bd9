"""The mock's shell over real sockets: cancel and back-to-back creates with no latency, the Azure
flavour's handshake, and session expiry."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from conftest import mock_in_a_thread, until
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from inspector.mock.cli import parse_duration
from inspector.mock.script import Script
from inspector.mock.server import run_mock

# Long enough (~1 MB of deltas) that the socket buffers cannot hold it all: the mock is still
# streaming when the client answers response.created, however slow a loaded machine makes the client.
LONG = Script.parse("say " + " ".join(["word"] * 8000) + ".")
TEXT = {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}
USER = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
}


async def text_turn_ready(ws: Any) -> None:
    await until(ws, "session.created")
    await ws.send(json.dumps(TEXT))
    await until(ws, "session.updated")
    await ws.send(json.dumps(USER))
    await until(ws, "conversation.item.done")


async def test_cancel_sent_on_response_created_lands_mid_response_with_no_latency():
    # The mock on a loop of its own, as a real server is: the client's frames reach its socket
    # while it streams (a client on the mock's own loop runs only when the mock yields).
    with mock_in_a_thread(seed=1, latency="none", script=LONG) as url:
        async with asyncio.timeout(10), connect(f"{url}/v1/realtime?model=gpt-realtime") as ws:
            await text_turn_ready(ws)
            await ws.send('{"type": "response.create"}')
            await until(ws, "response.created")
            await ws.send('{"type": "response.cancel"}')
            events = await until(ws, "response.done")
    assert events[-1]["response"]["status"] == "cancelled"
    assert "error" not in [e["type"] for e in events]


async def test_two_response_creates_in_a_row_give_conversation_already_has_active_response():
    with mock_in_a_thread(seed=1, latency="none", script=LONG) as url:
        async with asyncio.timeout(10), connect(f"{url}/v1/realtime?model=gpt-realtime") as ws:
            await text_turn_ready(ws)
            await ws.send('{"type": "response.create"}')
            await ws.send('{"type": "response.create", "event_id": "second"}')
            events = await until(ws, "response.done")
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert [(e["code"], e["event_id"]) for e in errors] == [("conversation_already_has_active_response", "second")]


@pytest.mark.parametrize(
    "path",
    ["/openai/realtime?api-version=2025-04-01-preview&deployment=my-voice", "/openai/v1/realtime?model=my-voice"],
)
async def test_azure_paths_and_api_key_header_open_a_session_named_after_the_deployment(path: str):
    async with asyncio.timeout(10), run_mock(flavor="azure", require_key=True) as mock:
        async with connect(mock.url + path, additional_headers={"api-key": "k"}) as ws:
            created = json.loads(await ws.recv())
    assert created["session"]["model"] == "my-voice"


async def test_azure_refuses_a_missing_key_at_the_handshake_with_401():
    async with asyncio.timeout(10), run_mock(flavor="azure", require_key=True) as mock:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(mock.url + "/openai/v1/realtime?model=my-voice"):
                pass
    assert refused.value.response.status_code == 401


async def test_max_session_ends_the_session_with_session_expired_and_close_1001():
    async with asyncio.timeout(10), run_mock(max_session_s=0.3) as mock:
        async with connect(mock.realtime_url) as ws:
            await until(ws, "session.created")
            error = await until(ws, "error")
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    assert error[-1]["error"]["code"] == "session_expired"
    assert ws.close_code == 1001


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("5m", 300), ("1.5h", 5400), ("250ms", 0.25), ("0", 0)])
def test_max_session_durations_parse(text: str, seconds: float):
    assert parse_duration(text) == seconds


def test_a_bad_duration_is_none():
    assert parse_duration("soon") is None
