"""The mock's calls (`inspector/mock/calls.py`): a primary socket and sidebands on one session,
over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from inspector.mock.calls import calls_route
from inspector.mock.handshake import admit
from inspector.mock.server import MockServer, run_mock
from tests.call_helpers import TIMEOUT, create_call, hang_up, text_and_tool_turns, until_done, user_text


@pytest.fixture
async def mock() -> AsyncIterator[MockServer]:
    async with run_mock(seed=5, latency="none") as server:
        yield server


def test_a_sideband_url_needs_no_model():
    admission = admit("/v1/realtime?call_id=rtc_1", {}, (), require_key=False)
    assert (admission.error, admission.call_id, admission.primary) == (None, "rtc_1", False)
    assert admit("/v1/realtime?call_id=rtc_1&mock_role=primary", {}, (), require_key=False).primary


def test_calls_routes_are_told_apart_from_realtime_paths():
    assert calls_route("/v1/realtime/calls") == (None, None)
    assert calls_route("/v1/realtime/calls/rtc_9/hangup") == ("rtc_9", "hangup")
    assert calls_route("/v1/realtime?model=gpt-realtime") is None


async def test_the_openai_sdk_creates_a_call_and_gets_201_a_location_and_an_sdp_answer(mock):
    client = AsyncOpenAI(api_key="sk-test", base_url=f"{mock.http_url}/v1")
    raw = await client.realtime.calls.with_raw_response.create(
        sdp="v=0\r\n", session={"type": "realtime", "model": "gpt-realtime-mini"}
    )
    assert raw.status_code == 201
    assert raw.headers["content-type"] == "application/sdp"
    call_id = raw.headers["location"].removeprefix("/v1/realtime/calls/")
    assert call_id.startswith("rtc_")
    # The session asked for in the multipart form is the call's.
    async with connect(f"{mock.url}/v1/realtime?call_id={call_id}&mock_role=primary") as primary:
        created = json.loads(await asyncio.wait_for(primary.recv(), TIMEOUT))
    assert created["session"]["model"] == "gpt-realtime-mini"


async def test_a_sideband_sees_what_the_primary_sees_after_it_attached_but_no_session_created(mock):
    call_id = await create_call(mock.http_url)
    async with connect(f"{mock.url}/v1/realtime?call_id={call_id}&mock_role=primary") as primary:
        assert json.loads(await primary.recv())["type"] == "session.created"
        async with connect(f"{mock.url}/v1/realtime?call_id={call_id}") as sideband:
            seen_by_primary = await text_and_tool_turns(primary)
            seen_by_sideband = []
            for _ in range(3):
                await until_done(sideband, seen_by_sideband)
    assert seen_by_sideband == seen_by_primary
    assert "session.created" not in [e["type"] for e in seen_by_sideband]


async def test_a_sideband_may_send_client_events_and_both_sockets_get_the_answer(mock):
    call_id = await create_call(mock.http_url)
    async with connect(f"{mock.url}/v1/realtime?call_id={call_id}&mock_role=primary") as primary:
        await primary.recv()  # session.created
        async with connect(f"{mock.url}/v1/realtime?call_id={call_id}") as sideband:
            await sideband.send(
                json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}})
            )
            for ws in (primary, sideband):
                event = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                assert (event["type"], event["session"]["instructions"]) == ("session.updated", "Be brief.")


async def test_hangup_closes_every_socket_of_the_call_and_a_second_hangup_is_404(mock):
    call_id = await create_call(mock.http_url)
    async with connect(f"{mock.url}/v1/realtime?call_id={call_id}&mock_role=primary") as primary:
        await primary.recv()
        async with connect(f"{mock.url}/v1/realtime?call_id={call_id}") as sideband:
            await primary.send(user_text("Hello"))
            assert await hang_up(mock.http_url, call_id) == 200
            for ws in (primary, sideband):
                with pytest.raises(ConnectionClosed):
                    while True:
                        await asyncio.wait_for(ws.recv(), TIMEOUT)
                assert (ws.close_code, ws.close_reason) == (1000, "call ended")
    assert await hang_up(mock.http_url, call_id) == 404


async def test_a_sideband_of_an_unknown_call_gets_call_id_not_found(mock):
    async with connect(f"{mock.url}/v1/realtime?call_id=rtc_nope") as ws:
        error = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert error["error"]["code"] == "call_id_not_found"
    assert ws.close_code == 4000


async def test_ordinary_sessions_still_work_beside_the_calls(mock):
    await create_call(mock.http_url)
    async with connect(mock.realtime_url) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "session.created"
