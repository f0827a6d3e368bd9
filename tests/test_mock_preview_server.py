"""A preview (beta) protocol client over real sockets: `--flavor azure` answers it in the preview
protocol, `--flavor openai` refuses it as the service does, and GA clients get GA either way."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from conftest import until
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from inspector.mock.audio import tone
from inspector.mock.server import run_mock

AZURE_PATH = "/openai/realtime?api-version=2024-10-01-preview&deployment=gpt-4o-realtime-preview"
BETA = {"OpenAI-Beta": "realtime=v1", "api-key": "k"}
USER_TEXT = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
}
GA_ONLY = {
    "response.output_text.delta",
    "response.output_audio.delta",
    "conversation.item.added",
    "conversation.item.done",
}


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


async def test_preview_client_on_azure_gets_preview_names_for_a_text_turn():
    async with asyncio.timeout(10), run_mock(flavor="azure", seed=1) as mock:
        async with connect(mock.url + AZURE_PATH, additional_headers=BETA) as ws:
            opening = await until(ws, "conversation.created")
            await ws.send(json.dumps({"type": "session.update", "session": {"modalities": ["text"]}}))
            updated = (await until(ws, "session.updated"))[-1]["session"]
            await ws.send(json.dumps(USER_TEXT))
            await ws.send(json.dumps({"type": "response.create"}))
            turn = await until(ws, "response.done")
    assert kinds(opening) == ["session.created", "conversation.created"]
    assert "type" not in updated and (updated["modalities"], updated["input_audio_format"]) == (["text"], "pcm16")
    assert {"conversation.item.created", "response.text.delta", "response.text.done"} <= set(kinds(turn))
    assert not GA_ONLY & set(kinds(turn))
    assert turn[-1]["response"]["output"][0]["content"] == [
        {"type": "text", "text": turn[-2]["item"]["content"][0]["text"]}
    ]


async def test_preview_client_on_azure_gets_preview_names_for_a_server_vad_audio_turn():
    speech = tone("audio/pcm", 1000) + bytes(48 * 1200)  # a second of tone, then silence
    async with asyncio.timeout(10), run_mock(flavor="azure", seed=1) as mock:
        async with connect(mock.url + AZURE_PATH, subprotocols=["realtime", "openai-beta.realtime-v1"]) as ws:
            await until(ws, "conversation.created")
            for start in range(0, len(speech), 4800):
                chunk = base64.b64encode(speech[start : start + 4800]).decode()
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
            turn = await until(ws, "response.done")
    assert {"input_audio_buffer.committed", "response.audio.delta", "response.audio_transcript.delta"} <= set(
        kinds(turn)
    )
    user = next(e for e in turn if e["type"] == "conversation.item.created")["item"]
    assert (user["object"], user["content"]) == ("realtime.item", [{"type": "input_audio", "transcript": None}])
    assert turn[-1]["response"]["output"][0]["content"][0]["type"] == "audio"


async def test_preview_items_are_accepted_with_preview_content_types():
    seeded = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Earlier answer"}]}
    async with asyncio.timeout(10), run_mock(flavor="azure", seed=1) as mock:
        async with connect(mock.url + AZURE_PATH, additional_headers=BETA) as ws:
            await until(ws, "conversation.created")
            await ws.send(json.dumps({"type": "conversation.item.create", "item": seeded}))
            created = (await until(ws, "conversation.item.created"))[-1]["item"]
    assert created["content"] == [{"type": "text", "text": "Earlier answer"}]


async def test_preview_session_update_alone_makes_an_azure_session_preview():
    update = {"type": "session.update", "session": {"modalities": ["text"], "voice": "sage", "temperature": 0.7}}
    async with asyncio.timeout(10), run_mock(flavor="azure", seed=1) as mock:
        async with connect(mock.url + AZURE_PATH) as ws:
            await until(ws, "session.created")
            await ws.send(json.dumps(update))
            updated = (await until(ws, "session.updated"))[-1]["session"]
            await ws.send(json.dumps(USER_TEXT))
            await ws.send(json.dumps({"type": "response.create"}))
            turn = await until(ws, "response.done")
    assert (updated["voice"], updated["temperature"]) == ("sage", 0.7)
    assert "response.text.delta" in kinds(turn)


@pytest.mark.parametrize(
    "how",
    [{"additional_headers": BETA}, {"subprotocols": ["realtime", "openai-beta.realtime-v1"]}],
    ids=["header", "subprotocol"],
)
async def test_preview_client_on_openai_still_gets_beta_api_shape_disabled_and_close_4000(how: dict[str, Any]):
    async with asyncio.timeout(10), run_mock(flavor="openai") as mock:
        async with connect(mock.realtime_url, **how) as ws:
            error = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    assert error["error"]["code"] == "beta_api_shape_disabled"
    assert ws.close_code == 4000


async def test_preview_session_update_on_openai_still_misses_session_type():
    async with asyncio.timeout(10), run_mock(flavor="openai") as mock:
        async with connect(mock.realtime_url) as ws:
            await until(ws, "session.created")
            await ws.send(json.dumps({"type": "session.update", "session": {"modalities": ["text"]}}))
            error = (await until(ws, "error"))[-1]["error"]
    assert (error["code"], error["param"]) == ("missing_required_parameter", "session.type")


async def test_ga_client_on_azure_still_gets_ga():
    update = {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}
    async with asyncio.timeout(10), run_mock(flavor="azure", seed=1) as mock:
        async with connect(mock.url + "/openai/v1/realtime?model=my-voice") as ws:
            created = (await until(ws, "session.created"))[-1]["session"]
            await ws.send(json.dumps(update))
            await until(ws, "session.updated")
            await ws.send(json.dumps(USER_TEXT))
            await ws.send(json.dumps({"type": "response.create"}))
            turn = await until(ws, "response.done")
    assert created["type"] == "realtime"
    assert {"conversation.item.added", "conversation.item.done", "response.output_text.delta"} <= set(kinds(turn))
    assert "response.text.delta" not in kinds(turn)
