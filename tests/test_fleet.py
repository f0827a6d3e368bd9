"""A fleet: taps on several hosts (here processes with different `INSPECTOR_HOST`) recording into
one PostgreSQL database, and one place to look at them all."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from click.testing import CliRunner
from conftest import echo_handler, run_upstream, wait_for
from websockets.asyncio.client import connect

from inspector.cli import main


def listening_port(log: Path) -> int:
    found = re.search(rb"tap listening on ws://127\.0\.0\.1:(\d+)", log.read_bytes())
    assert found is not None
    return int(found.group(1))


@contextlib.asynccontextmanager
async def tap_process(upstream: str, db: str, host: str, log: Path) -> AsyncIterator[int]:
    """The real `inspector tap` in its own process as host `host`; yields its port, then stops it
    as a user does (SIGTERM: it drains its writer)."""
    args = ["tap", "--listen", "127.0.0.1:0", "--upstream", upstream, "--db", db]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "inspector", *args],
            stdout=out,
            stderr=out,
            env={**os.environ, "INSPECTOR_HOST": host},
        )
    try:
        await wait_for(lambda: b"tap listening" in log.read_bytes(), timeout=20)
        yield listening_port(log)
        proc.send_signal(signal.SIGTERM)
        await wait_for(lambda: proc.poll() is not None, timeout=30)
        assert proc.returncode == 0, proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


async def test_two_taps_on_two_hosts_record_into_one_database_and_sessions_and_the_tui_list_both_with_their_host(
    pg_url, tmp_path
):
    hosts = {"tap-host-a": "model-a", "tap-host-b": "model-b"}
    async with run_upstream(echo_handler) as up, contextlib.AsyncExitStack() as taps:
        ports = {
            host: await taps.enter_async_context(tap_process(up.url, pg_url, host, tmp_path / host)) for host in hosts
        }
        async with contextlib.AsyncExitStack() as clients:  # both sessions open at once
            for host, model in hosts.items():
                ws = await clients.enter_async_context(
                    connect(f"ws://127.0.0.1:{ports[host]}/v1/realtime?model={model}")
                )
                for i in range(3):
                    await ws.send(json.dumps({"type": "ping", "i": i}))
                    await ws.recv()
    rows = [json.loads(line) for line in cli("sessions", "--json", "--db", pg_url).splitlines()]
    assert sorted((r["host"], r["model"], r["status"], r["client_events"]) for r in rows) == [
        ("tap-host-a", "model-a", "closed", 3),
        ("tap-host-b", "model-b", "closed", 3),
    ]
    table = cli("sessions", "--db", pg_url).splitlines()
    assert table[0].split()[:6] == ["ID", "STARTED", "DURATION", "SOURCE", "HOST", "MODEL"]
    assert sorted(line.split()[5] for line in table[1:]) == ["tap-host-a", "tap-host-b"]
    only_b = cli("sessions", "--db", pg_url, "--host", "tap-host-b").splitlines()[1:]
    assert [line.split()[5:7] for line in only_b] == [["tap-host-b", "model-b"]]
    await the_tui_shows_and_filters_by_host(pg_url)


async def the_tui_shows_and_filters_by_host(db: str) -> None:
    from tui_helpers import running_app, settle

    async with running_app(db, size=(140, 20)) as (app, pilot):
        table = app.screen.table
        header, *rows = (table.render_line(y).text for y in range(3))
        assert "Host" in header.split()  # two hosts here: the column shows
        assert {"tap-host-a", "tap-host-b"} == {word for row in rows for word in row.split() if word.startswith("tap-")}
        await pilot.press("slash", *"host:TAP-HOST-A")
        await settle(app, pilot)  # the search runs in a worker
        assert table.row_count == 1 and table.selected is not None and table.selected.host == "tap-host-a"
        assert "tap-host-a" in table.render_line(1).text and "1 of 2 sessions" in str(
            app.screen.query_one("#sessions-title").render()
        )
