"""`inspector attach`: recording mock calls through their sideband, over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from openai import OpenAI
from websockets.asyncio.client import connect

from inspector.attach import WebhookListen, attach_calls, sideband_url
from inspector.cli import main
from inspector.mock.calls_http import WebhookTarget
from inspector.mock.server import MockServer, run_mock
from inspector.protocol import call_id_of
from inspector.store import SessionStatus, Store
from inspector.webhooks import WebhookError, sign_webhook, verify_webhook
from tests.call_helpers import TIMEOUT, create_call, drain, hang_up, text_and_tool_turns, until_done

FAKE_KEY = "sk-attachtest012345"
SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtYXR0YWNoLXRlc3Rz"  # base64 of a test secret


@pytest.fixture
async def mock() -> AsyncIterator[MockServer]:
    async with run_mock(seed=3, latency="none") as server:
        yield server


async def _attached(db: Path, mock: MockServer, *call_ids: str) -> asyncio.Task:
    task = asyncio.create_task(attach_calls(db, call_ids, upstream=mock.url, api_key=FAKE_KEY))
    for call_id in call_ids:  # attached once the mock counts the sideband beside the primary
        await _members(mock, call_id, 2)
    return task


def test_sideband_url_names_the_call_and_a_call_id_is_read_back_from_the_query():
    url = sideband_url("https://api.openai.com", "rtc_a/b")
    assert url == "wss://api.openai.com/v1/realtime?call_id=rtc_a%2Fb"
    assert call_id_of(url.partition("?")[2]) == "rtc_a/b"
    assert call_id_of("model=gpt-realtime") is None


async def test_attach_records_the_server_events_the_primary_got_in_order_and_ends_on_hangup(mock, tmp_path):
    db = tmp_path / "a.db"
    call_id = await create_call(mock.http_url)
    async with connect(f"{mock.url}/v1/realtime?call_id={call_id}&mock_role=primary") as primary:
        await primary.recv()  # session.created, sent before the sideband attached
        attaching = await _attached(db, mock, call_id)
        seen = await text_and_tool_turns(primary)
        assert await hang_up(mock.http_url, call_id) == 200
        await drain(primary, seen)
        [result] = await asyncio.wait_for(attaching, TIMEOUT)
    with Store(db) as store:
        info = store.session(result.session_id)
        recorded = [json.loads(e.frame) for e in store.events(info.id, with_frames=True)]
    assert recorded == seen
    assert all(e.get("type") != "session.created" for e in recorded)
    assert (info.source, info.status, info.close_code, info.close_reason, info.close_side) == (
        "attach",
        SessionStatus.CLOSED,
        1000,
        "call ended",
        "server",
    )
    assert info.client_events == 0 and call_id_of(info.query) == call_id
    assert FAKE_KEY.encode() not in db.read_bytes()


async def test_one_process_attaches_two_calls_into_two_sessions(mock, tmp_path):
    db = tmp_path / "two.db"
    calls = [await create_call(mock.http_url) for _ in range(2)]
    async with (
        connect(f"{mock.url}/v1/realtime?call_id={calls[0]}&mock_role=primary") as first,
        connect(f"{mock.url}/v1/realtime?call_id={calls[1]}&mock_role=primary") as second,
    ):
        attaching = await _attached(db, mock, *calls)
        for ws, text in ((first, "one"), (second, "two")):
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            await ws.send(json.dumps({"type": "response.create"}))
            await until_done(ws, [])
        for call_id in calls:
            await hang_up(mock.http_url, call_id)
        results = await asyncio.wait_for(attaching, TIMEOUT)
    with Store(db) as store:
        sessions = {call_id_of(store.session(r.session_id).query): store.session(r.session_id) for r in results}
        texts = {c: [e.frame for e in store.events(s.id, with_frames=True)] for c, s in sessions.items()}
    assert set(sessions) == set(calls) and all(s.server_events > 0 for s in sessions.values())
    assert any('"one"' in f for f in texts[calls[0]]) and not any('"one"' in f for f in texts[calls[1]])


def test_the_cli_lists_an_attached_session_with_its_call_and_what_a_sideband_misses(tmp_path):
    db = tmp_path / "cli.db"
    with Store(db) as store:
        store.create_session(source="attach", started_at=time.time(), query="call_id=rtc_shown")
    output = CliRunner().invoke(main, ["sessions", "--db", str(db)]).output
    assert "attach" in output and "call rtc_shown" in output and "client events" in output


def test_attach_refuses_to_run_without_a_key_for_a_remote_service(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = CliRunner().invoke(main, ["attach", "rtc_1", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "OPENAI_API_KEY" in result.output


# -- webhooks ---------------------------------------------------------------------------------


def test_the_mocks_signature_is_one_the_openai_sdk_accepts_and_ours_checks():
    body = b'{"type":"realtime.call.incoming","data":{"call_id":"rtc_1"}}'
    headers = sign_webhook(body, SECRET, webhook_id="evt_1", timestamp=int(time.time()))
    OpenAI(api_key="sk-unused", webhook_secret=SECRET).webhooks.unwrap(body, headers)
    verify_webhook(body, headers, SECRET, now=time.time())
    with pytest.raises(WebhookError, match="does not match"):
        verify_webhook(body + b" ", headers, SECRET, now=time.time())


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=TIMEOUT) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def _receiver(db: Path, upstream: str, stop: asyncio.Event) -> tuple[asyncio.Task, int]:
    ports: asyncio.Queue[int] = asyncio.Queue()
    hook = WebhookListen("127.0.0.1", 0, SECRET)
    task = asyncio.create_task(
        attach_calls(db, [], upstream=upstream, api_key=FAKE_KEY, webhook=hook, stop=stop, ready=ports.put_nowait)
    )
    return task, await asyncio.wait_for(ports.get(), TIMEOUT)


async def _members(mock: MockServer, call_id: str, count: int) -> None:
    for _ in range(250):
        if len(mock.calls.calls[call_id].members) == count:  # type: ignore[union-attr]
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"call {call_id} never had {count} sockets")


async def test_a_signed_incoming_call_webhook_from_the_mock_attaches_and_records_the_call(mock, tmp_path):
    db, stop = tmp_path / "hook.db", asyncio.Event()
    receiver, port = await _receiver(db, mock.url, stop)
    mock.calls.webhook = WebhookTarget(f"http://127.0.0.1:{port}/", SECRET)  # type: ignore[union-attr]
    call_id = await create_call(mock.http_url)
    async with connect(f"{mock.url}/v1/realtime?call_id={call_id}&mock_role=primary") as primary:
        await primary.recv()
        await _members(mock, call_id, 2)  # the webhook arrived and the sideband attached
        seen = await text_and_tool_turns(primary)
        await hang_up(mock.http_url, call_id)
        await drain(primary, seen)
    await _members(mock, call_id, 0)
    stop.set()
    [result] = await asyncio.wait_for(receiver, TIMEOUT)
    with Store(db) as store:
        recorded = [json.loads(e.frame) for e in store.events(result.session_id, with_frames=True)]
        assert store.session(result.session_id).source == "attach"
    assert (result.call_id, result.close_code) == (call_id, 1000)
    assert [e["type"] for e in recorded] == [e["type"] for e in seen]
    assert recorded == seen


def _incoming(call_id: str) -> bytes:
    return json.dumps({"type": "realtime.call.incoming", "data": {"call_id": call_id, "sip_headers": []}}).encode()


async def test_webhooks_with_a_bad_or_missing_signature_or_an_old_timestamp_get_400_and_attach_nothing(tmp_path):
    db, stop = tmp_path / "refused.db", asyncio.Event()
    receiver, port = await _receiver(db, "ws://127.0.0.1:9", stop)
    url, now = f"http://127.0.0.1:{port}/", int(time.time())
    body = _incoming("rtc_refused")
    wrong_key = sign_webhook(body, "whsec_" + "b3RoZXItc2VjcmV0", webhook_id="evt_1", timestamp=now)
    replayed = sign_webhook(body, SECRET, webhook_id="evt_2", timestamp=now - 301)
    statuses = [await asyncio.to_thread(_post, url, body, h) for h in (wrong_key, replayed, {})]
    stop.set()
    assert statuses == [400, 400, 400]
    assert await asyncio.wait_for(receiver, TIMEOUT) == []
    with Store(db) as store:
        assert store.sessions() == []
