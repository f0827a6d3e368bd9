"""Keys planted in every place a client or upstream can put one, then every file the run made
searched for them: the database and its WAL, the exports in every format, the tap's `-v` log."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

from conftest import run_upstream, wait_for
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Response

from inspector.redaction import redact_message

# Each secret's distinctive body: found anywhere, in any form, it leaked.
SECRETS = {
    "header": "sk-proj-HEADERbody0000",
    "azure-header": "AZUREheaderBODY1111111111",
    "subprotocol": "SUBPROTObody22222222222222",
    "api-key-query": "APIKEYqueryBODY333333333",
    "key-query": "KEYqueryBODY44444444444",
    "frame": "sk-FRAMEbody55555555",
    "escaped-frame": "sk-proj-ESCAPEDbody666",
    "ephemeral": "ek_EPHEMERALbody777777777777",
    "escaped-ephemeral": "ek_ESCAPEDephemeral888888888",
    "client-close": "sk-CLIENTCLOSEbody9",
    "server-close": "sk-SERVERCLOSEbodyA",
    "malformed-url": "MALFORMEDurlBODYBBBBBBBBB",
    "refusal-body": "REFUSALbodyCCCCCCCCCCCCC",
}


def _body(secret: str) -> bytes:
    """The part after `sk-`/`sk-proj-`/`ek_`: what would survive any escaping of the prefix."""
    return secret.removeprefix("sk-proj-").removeprefix("sk-").removeprefix("ek_").encode()


def _escape(secret: str) -> str:
    """The key as raw JSON text with its separators written as escapes, as some encoders do."""
    return secret.replace("-", "\\u002d").replace("_", "\\u005f")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _refuse_when_asked(connection, request):
    """An upstream that echoes the caller's URL in its refusal, as careless servers do."""
    if "refuse=1" in request.path:
        body = f"bad request {request.path} token={SECRETS['refusal-body']}".encode()
        headers = Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return Response(401, "Unauthorized", headers, body)
    return None


async def _upstream(ws, up) -> None:
    """Echo; answer audio with audio (so that the WAV export has both sides); close with a key
    in the reason when asked."""
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            if message == "close please":
                await ws.close(4000, f"server bye {SECRETS['server-close']}")
                return
            await ws.send(message)
            if '"input_audio_buffer.append"' in message:
                delta = base64.b64encode(b"\x01\x00" * 480).decode()
                await ws.send(json.dumps({"type": "response.output_audio.delta", "delta": delta}))


async def _client_traffic(port: int) -> None:
    base = f"ws://127.0.0.1:{port}/v1/realtime"
    query = f"?model=m&api-key={SECRETS['api-key-query']}&key={SECRETS['key-query']}"
    async with connect(
        base + query,
        additional_headers={"Authorization": f"Bearer {SECRETS['header']}", "api-key": SECRETS["azure-header"]},
        subprotocols=["realtime", f"openai-insecure-api-key.{SECRETS['subprotocol']}"],
    ) as ws:
        frames = [
            json.dumps({"type": "session.update", "session": {"client_secret": {"value": SECRETS["ephemeral"]}}}),
            f'{{"type":"note","text":"my key is {SECRETS["frame"]}"}}',
            # Escaped by hand: json.dumps would not escape these characters.
            '{"type":"conversation.item.create","item":{"type":"message","role":"user","content":'
            f'[{{"type":"input_text","text":"{_escape(SECRETS["escaped-frame"])} and '
            f'{_escape(SECRETS["escaped-ephemeral"])}"}}]}}}}',
            json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\x02\x00" * 480).decode()}),
        ]
        for frame in frames:
            await ws.send(frame)
            await ws.recv()
        await ws.recv()  # the audio delta
        await ws.close(4001, f"client bye {SECRETS['client-close']}")
    # The upstream closes the second session with a key in its reason.
    async with connect(base + "?model=m", subprotocols=["realtime"]) as ws:
        await ws.send("close please")
        with contextlib.suppress(ConnectionClosed):
            await ws.recv()
    # A malformed target: a '#' before the query.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /v1/realtime#x?api-key={SECRETS['malformed-url']} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert b" 400 " in await reader.readline()
    writer.close()
    # An upstream refusal whose body quotes the URL.
    try:
        await connect(base + f"?model=m&refuse=1&key={SECRETS['key-query']}", subprotocols=["realtime"])
    except InvalidStatus as exc:
        assert exc.response.status_code == 401


def _run_tap_and_clients(db_path: Path | str, log_path: Path) -> list[bytes]:
    """Run `inspector tap -v` in its own process for the client traffic; return the database
    files as they were while it ran (the WAL is checkpointed away at exit; none for a URL)."""
    port = _free_port()

    async def scenario() -> list[bytes]:
        async with run_upstream(_upstream, subprotocols=["realtime"], process_request=_refuse_when_asked) as up:
            args = ["tap", "-v", "--listen", f"127.0.0.1:{port}", "--upstream", up.url, "--db", str(db_path)]
            with log_path.open("wb") as log:
                proc = subprocess.Popen([sys.executable, "-m", "inspector", *args], stdout=log, stderr=log)
            try:
                await wait_for(lambda: b"tap listening" in log_path.read_bytes(), timeout=20)
                await _client_traffic(port)
                await wait_for(lambda: log_path.read_bytes().count(b"closed by") >= 2, timeout=10)
                await asyncio.sleep(0.3)  # the writer's last batch
                while_running = []
                if isinstance(db_path, Path):
                    while_running = [
                        p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)
                    ]
                proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 30)
                return while_running
            finally:
                if proc.poll() is None:
                    proc.kill()

    return asyncio.run(scenario())


def test_no_planted_secret_reaches_any_file_the_run_produced(tmp_path):
    from click.testing import CliRunner

    from inspector.cli import main

    db_path = tmp_path / "inspector.db"
    log_path = tmp_path / "tap.log"
    while_running = _run_tap_and_clients(db_path, log_path)
    assert any(len(data) for data in while_running[1:]), "no WAL or side file was captured"

    exports = tmp_path / "exports"
    cli_output = []
    for session in ("1", "2", "3"):
        for args in (
            ["export", session, "-o", f"{exports}/"],
            ["export", session, "--format", "har", "-o", f"{exports}/"],
            ["events", session, "--json"],
        ):
            result = CliRunner().invoke(main, [*args, "--db", str(db_path)])
            assert result.exit_code == 0, result.output
            cli_output.append(result.output.encode())
    result = CliRunner().invoke(main, ["export", "1", "--format", "wav", "-o", f"{exports}/", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["sessions", "--json", "--db", str(db_path)])
    cli_output.append(result.output.encode())

    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    names = {p.name for p in files}
    assert {"session-1.jsonl", "session-1.har", "session-1-input.wav", "session-1-output.wav"} <= names
    log = log_path.read_bytes()
    assert b"closed by client: 4001" in log and b"closed by server: 4000" in log  # the log was written
    assert b"session.update" in files[db_path] + b"".join(while_running)
    haystacks = [*files.items(), *((f"db file while running #{i}", d) for i, d in enumerate(while_running))]
    haystacks += [(f"CLI output #{i}", out) for i, out in enumerate(cli_output)]
    for where, secret in SECRETS.items():
        for name, data in haystacks:
            assert _body(secret) not in data, f"the {where} secret reached {name}"


def test_no_planted_secret_reaches_the_postgresql_tables_through_a_tap(pg_url, tmp_path):
    """The same traffic through a tap recording into PostgreSQL (the URL with a password,
    which trust auth ignores): every row of every table, bytea as hex, searched."""
    import psycopg

    password = "PGpasswordBODYDDDDDDD"
    url = pg_url.replace("postgres@", f"postgres:{password}@", 1)
    log_path = tmp_path / "tap.log"
    _run_tap_and_clients(url, log_path)
    with psycopg.connect(pg_url) as conn:
        tables = [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        dump = "".join(str(row[0]) for table in tables for row in conn.execute(f"SELECT t::text FROM {table} t"))
    assert {"sessions", "events", "frames", "leases"} <= set(tables) and "session.update" in dump
    for where, secret in {**SECRETS, "database password": password}.items():
        assert _body(secret).decode() not in dump and _body(secret).hex() not in dump, (
            f"the {where} secret reached the server"
        )
        assert _body(secret) not in log_path.read_bytes(), f"the {where} secret reached the tap's log"


def test_an_invalid_uri_error_quoting_the_whole_url_loses_its_credentials():
    # websockets quotes the URL whole; a '#' puts the query in the fragment, out of urlsplit's reach.
    from websockets.exceptions import InvalidURI

    message = str(InvalidURI("wss://u:pw@h/v1#x?api-key=AZUREkeyDDDD&key=KEYbodyEEEE", "bad"))
    assert "AZUREkeyDDDD" in message  # what used to reach sessions.error and the log
    redacted = redact_message(message)
    assert "AZUREkeyDDDD" not in redacted and "KEYbodyEEEE" not in redacted and "pw@" not in redacted


def test_keys_written_with_json_escapes_are_redacted_in_text_and_binary_frames():
    from inspector.redaction import REDACTED, redact_bytes, redact_text

    key = "sk-proj-Abc_DEF-012345"
    every_char = "".join(f"\\u{ord(c):04x}" for c in key)  # a JSON reader still sees the key
    for raw in (_escape(key), every_char, every_char.upper().replace("\\U", "\\u"), _escape("ek_EPHEMERALbody777")):
        frame = f'{{"type":"note","text":"caf\\u00e9 {raw}."}}'
        redacted = redact_text(frame)
        assert json.loads(redacted)["text"] == f"café {REDACTED}.", raw
        assert redact_bytes(frame.encode()) == redacted.encode()
    # Escapes of characters a key never holds end it; text without a key is left alone.
    assert redact_text('"\\u0041sk\\u002d\\u0020short"') == '"\\u0041sk\\u002d\\u0020short"'
    assert redact_text('{"text":"caf\\u00e9 sk-"}') == '{"text":"caf\\u00e9 sk-"}'
