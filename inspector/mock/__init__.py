"""`inspector mock`: an offline OpenAI Realtime (GA) server for developing and testing clients.

The session logic is a pure state machine (`state.MockSession`); `server.run_mock` is the thin
WebSocket shell around it, usable in-process::

    async with run_mock(port=0, seed=1) as mock:
        client = AsyncOpenAI(api_key="sk-test", websocket_base_url=mock.url + "/v1")
"""

from __future__ import annotations
