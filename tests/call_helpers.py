"""Mock calls for the tests: create one, and play the caller on its primary socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

TIMEOUT = 10
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Look up the weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


async def create_call(http_url: str, sdp: bytes = b"v=0\r\n") -> str:
    """POST an SDP offer to the mock; the call id from the `Location` header."""
    request = urllib.request.Request(
        f"{http_url}/v1/realtime/calls", data=sdp, method="POST", headers={"Content-Type": "application/sdp"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with await asyncio.to_thread(opener.open, request, timeout=TIMEOUT) as answer:
        assert answer.status == 201
        return str(answer.headers["Location"]).rsplit("/", 1)[1]


async def hang_up(http_url: str, call_id: str) -> int:
    request = urllib.request.Request(f"{http_url}/v1/realtime/calls/{call_id}/hangup", data=b"", method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with await asyncio.to_thread(opener.open, request, timeout=TIMEOUT) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def until_done(ws: ClientConnection, received: list[dict[str, Any]]) -> dict[str, Any]:
    """Read events into `received` up to the next `response.done`."""
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        received.append(event)
        if event["type"] == "response.done":
            return event


def user_text(text: str) -> str:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return json.dumps({"type": "conversation.item.create", "item": item})


async def text_and_tool_turns(primary: ClientConnection) -> list[dict[str, Any]]:
    """A text turn, then a tool round (the default script's weather call), after a
    `session.update` declaring the tool; every server event the primary received after
    `session.created`."""
    received: list[dict[str, Any]] = []
    tools = {
        "type": "session.update",
        "session": {"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER_TOOL]},
    }
    await primary.send(json.dumps(tools))
    await primary.send(user_text("Hi there"))
    await primary.send(json.dumps({"type": "response.create"}))
    await until_done(primary, received)
    await primary.send(user_text("What's the weather in Paris?"))
    await primary.send(json.dumps({"type": "response.create"}))
    done = await until_done(primary, received)
    call = next(o for o in done["response"]["output"] if o["type"] == "function_call")
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "Sunny, 21 C"}
    await primary.send(json.dumps({"type": "conversation.item.create", "item": output}))
    await primary.send(json.dumps({"type": "response.create"}))
    await until_done(primary, received)
    return received


async def drain(ws: ClientConnection, received: list[dict[str, Any]]) -> None:
    """Read the rest of what `ws` gets (e.g. a last `rate_limits.updated`) until it closes."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            received.append(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))
