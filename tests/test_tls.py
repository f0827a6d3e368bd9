"""`inspector tap --tls`: wss:// for the clients that speak nothing else (Node's SDK, browsers).

Real parts throughout: the local CA and certificates made by `inspector.tls` in a temporary data
directory, the tap serving TLS on 127.0.0.1 in front of the mock, the official `openai` Python
SDK over `wss://`, and the official Node SDK (`OpenAIRealtimeWS`) when node and npm are here."""

from __future__ import annotations

import asyncio
import datetime
import fcntl
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import mock_in_a_thread, run_tap
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from openai import AsyncOpenAI

from inspector import tls
from inspector.cli import main
from inspector.mock.server import run_mock
from inspector.protocol import Direction
from inspector.store import Store

NODE_CLIENT = Path(__file__).parent / "node" / "realtime_client.cjs"
# Reused across runs (a second run skips npm); the major versions the client script is written for.
NODE_PACKAGES = ("openai@^6", "ws@^8")
NODE_CACHE = Path(tempfile.gettempdir()) / "realtime-inspector-test-node" / "openai6-ws8"
HELLO = "Hello over TLS"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's CA in its own directory, never the user's."""
    directory = tmp_path / "data" / "realtime-inspector"
    monkeypatch.setenv(tls.DATA_DIR_ENV, str(directory))
    return directory


def trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


async def sdk_turn(url: str, context: ssl.SSLContext | None) -> str:
    """One text turn with the openai SDK at `url` (wss://.../v1); returns the response's status."""
    client = AsyncOpenAI(api_key="sk-test-tls-fake", websocket_base_url=url)
    options: Any = {"ssl": context} if context is not None else {}
    async with asyncio.timeout(10):
        async with client.realtime.connect(model="gpt-realtime", websocket_connection_options=options) as conn:
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            await conn.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": HELLO}]}
            )
            await conn.response.create()
            async for event in conn:
                if event.type == "response.done":
                    assert event.response.status is not None
                    return event.response.status
    raise AssertionError("the connection ended before response.done")


def recorded_client_types(db_path: Path) -> list[list[str | None]]:
    """Each recorded session's client event types, oldest session first."""
    with Store(db_path, create=False) as store:
        return [
            [e.type for e in store.events(info.id, direction=Direction.CLIENT)] for info in reversed(store.sessions())
        ]


TURN = ["session.update", "conversation.item.create", "response.create"]


# -- the local CA ----------------------------------------------------------------------------------


def test_the_ca_is_made_once_private_and_signs_a_certificate_for_the_loopback_names(data_dir: Path):
    ca = tls.ensure_ca()
    assert ca == data_dir / "ca.pem"
    assert (data_dir.stat().st_mode & 0o777) == 0o700
    assert ((data_dir / "ca-key.pem").stat().st_mode & 0o777) == 0o600
    first = ca.read_bytes()
    _, again = tls.local_server_context()
    assert again == ca and ca.read_bytes() == first  # made on first use only
    assert ((data_dir / "localhost-key.pem").stat().st_mode & 0o777) == 0o600
    leaf = x509.load_pem_x509_certificate((data_dir / "localhost.pem").read_bytes())
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(first))
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in names] == ["localhost", "127.0.0.1", "::1"]


def test_the_certificate_is_made_again_when_missing_expiring_or_from_another_ca(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    def serial() -> int:
        tls.local_server_context()
        return x509.load_pem_x509_certificate((data_dir / "localhost.pem").read_bytes()).serial_number

    first = serial()
    assert serial() == first  # still good: kept
    (data_dir / "localhost.pem").unlink()
    second = serial()
    assert second != first
    for name in ("ca.pem", "ca-key.pem"):  # a new CA: the old certificate is not its own
        (data_dir / name).unlink()
    third = serial()
    assert third != second
    monkeypatch.setattr(tls, "LEAF_DAYS", 10)  # inside RENEW_BEFORE: renewed at each start
    (data_dir / "localhost.pem").unlink()
    short = serial()
    assert serial() != short
    leaf = x509.load_pem_x509_certificate((data_dir / "localhost.pem").read_bytes())
    assert leaf.not_valid_after_utc - datetime.datetime.now(datetime.UTC) < datetime.timedelta(days=11)


async def test_the_ca_cannot_vouch_for_any_name_but_loopback(data_dir: Path, tmp_path: Path):
    """Its name constraint: a certificate for another site, signed with the CA's own key (as a
    thief of the key would), is refused by a client that trusts the CA."""
    tls.ensure_ca()
    ca_cert = x509.load_pem_x509_certificate((data_dir / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((data_dir / "ca-key.pem").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.com")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=5))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("example.com")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "forged.pem").write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "forged-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_context = tls.server_context(tmp_path / "forged.pem", tmp_path / "forged-key.pem")
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ssl.SSLCertVerificationError, match="permitted subtree"):
            await asyncio.open_connection(
                "127.0.0.1", port, ssl=trusting(data_dir / "ca.pem"), server_hostname="example.com"
            )
    finally:
        server.close()
        await server.wait_closed()


def test_inspector_ca_prints_the_ca_path_and_its_help_says_how_to_trust_it(data_dir: Path):
    result = CliRunner().invoke(main, ["ca"])
    assert result.exit_code == 0, result.output
    assert result.output == f"{data_dir / 'ca.pem'}\n"
    assert (data_dir / "ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    help_text = CliRunner().invoke(main, ["ca", "--help"]).output
    assert "NODE_EXTRA_CA_CERTS" in help_text and "SSL_CERT_FILE" in help_text


def test_the_data_directory_follows_xdg_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(tls.DATA_DIR_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert tls.data_dir() == tmp_path / "xdg" / "realtime-inspector"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tls.data_dir() == tmp_path / "home" / ".local" / "share" / "realtime-inspector"


# -- the tap over TLS -------------------------------------------------------------------------------


async def test_the_openai_sdk_records_a_turn_through_the_tap_over_wss(db_path: Path):
    context, ca = tls.local_server_context()
    async with run_mock(seed=3) as mock, run_tap(mock.url, db_path, tls=context) as tap:
        assert await sdk_turn(f"wss://127.0.0.1:{tap.port}/v1", trusting(ca)) == "completed"
        assert await sdk_turn(f"wss://localhost:{tap.port}/v1", trusting(ca)) == "completed"
    assert recorded_client_types(db_path) == [TURN, TURN]


async def test_a_client_that_does_not_trust_the_ca_is_refused_and_the_tap_keeps_serving(db_path: Path):
    context, ca = tls.local_server_context()
    async with run_mock(seed=3) as mock, run_tap(mock.url, db_path, tls=context) as tap:
        url = f"wss://127.0.0.1:{tap.port}/v1"
        with pytest.raises(ssl.SSLCertVerificationError):
            await sdk_turn(url, ssl.create_default_context())  # the system's authorities only
        assert await sdk_turn(url, trusting(ca)) == "completed"
    # The refused client never reached the WebSocket handshake: no session for it.
    assert recorded_client_types(db_path) == [TURN]


async def test_the_tap_serves_the_users_own_certificate_and_key(tmp_path: Path, db_path: Path):
    # The user's pair: made by another CA (its own directory), which the client trusts instead.
    own = tmp_path / "own"
    tls.local_server_context(own)
    cert, key = own / "localhost.pem", own / "localhost-key.pem"
    context = tls.server_context(cert, key)
    async with run_mock(seed=3) as mock, run_tap(mock.url, db_path, tls=context) as tap:
        url = f"wss://127.0.0.1:{tap.port}/v1"
        assert await sdk_turn(url, trusting(own / "ca.pem")) == "completed"
        with pytest.raises(ssl.SSLCertVerificationError):  # the inspector's own CA did not sign it
            await sdk_turn(url, trusting(tls.ensure_ca()))
    assert recorded_client_types(db_path) == [TURN]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (("missing.pem", "localhost-key.pem"), r"--tls-cert \S+missing.pem: no such file"),
        (("localhost.pem", "ca-key.pem"), r"--tls-key \S+ca-key.pem is not the private key of --tls-cert"),
        (("localhost-key.pem", "localhost-key.pem"), r"--tls-cert \S+ is not a PEM certificate"),
        (("localhost.pem", "localhost.pem"), r"--tls-key \S+ is not an unencrypted PEM private key"),
    ],
)
def test_a_bad_certificate_or_key_is_one_error_line_before_anything_starts(
    data_dir: Path, tmp_path: Path, files: tuple[str, str], message: str
):
    tls.local_server_context()
    cert, key = (str(data_dir / name) for name in files)
    result = CliRunner().invoke(
        main, ["tap", "--listen", "127.0.0.1:0", "--db", str(tmp_path / "x.db"), "--tls-cert", cert, "--tls-key", key]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(f"error: {message}.*", lines[0]), result.output
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("damaged", ["ca.pem", "ca-key.pem"])
def test_a_damaged_local_ca_is_one_error_line_that_says_how_to_start_over(data_dir: Path, tmp_path: Path, damaged: str):
    tls.local_server_context()
    (data_dir / "localhost.pem").unlink()  # the certificate must be made again, from the CA
    (data_dir / damaged).write_text("-----BEGIN GARBAGE-----\nnot base64\n")
    result = CliRunner().invoke(main, ["tap", "--listen", "127.0.0.1:0", "--db", str(tmp_path / "x.db"), "--tls"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "cannot be read" in lines[0] and "remove that directory" in lines[0], result.output


def test_a_certificate_without_its_key_is_a_usage_error(tmp_path: Path):
    result = CliRunner().invoke(main, ["tap", "--db", str(tmp_path / "x.db"), "--tls-cert", str(tmp_path / "c.pem")])
    assert result.exit_code == 2 and "--tls-cert and --tls-key go together" in result.output


def test_inspector_tap_tls_says_how_to_trust_it_and_records_a_python_client_trusting_ssl_cert_file(
    data_dir: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
):
    with mock_in_a_thread(seed=3) as mock_url:
        tap = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inspector",
                "tap",
                "--tls",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                mock_url,
                "--db",
                str(db_path),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            lines = _read_until(tap, "press Ctrl-C")
            ca = data_dir / "ca.pem"
            assert f"NODE_EXTRA_CA_CERTS={ca} " in lines and f"SSL_CERT_FILE={ca} " in lines
            port = int(re.search(r"tap listening on wss://127\.0\.0\.1:(\d+) ", lines).group(1))
            assert f'websocket_base_url="wss://127.0.0.1:{port}/v1"' in lines
            # SSL_CERT_FILE: Python's default context (the SDK's) trusts the CA's file alone.
            monkeypatch.setenv("SSL_CERT_FILE", str(ca))
            assert asyncio.run(sdk_turn(f"wss://127.0.0.1:{port}/v1", None)) == "completed"
        finally:
            tap.send_signal(signal.SIGINT)
            tap.wait(20)
    assert tap.returncode == 0
    assert recorded_client_types(db_path) == [TURN]


def _read_until(proc: subprocess.Popen[str], marker: str) -> str:
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"the tap did not start: {''.join(seen)}")


# -- the official Node SDK ----------------------------------------------------------------------


def node_modules() -> Path:
    """`openai` and `ws` from npm in a directory reused across runs; skips when that cannot be."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the Node SDK test")
    modules = NODE_CACHE / "node_modules"
    NODE_CACHE.mkdir(parents=True, exist_ok=True)
    with open(NODE_CACHE / ".lock", "w") as lock:  # two test runs at once install once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (modules / "openai" / "realtime" / "ws.js").exists() or not (modules / "ws").is_dir():
            try:
                install = subprocess.run(
                    ["npm", "install", "--prefix", str(NODE_CACHE), "--no-audit", "--no-fund", *NODE_PACKAGES],
                    capture_output=True,
                    text=True,
                    timeout=240,
                )
            except subprocess.TimeoutExpired:
                pytest.skip("npm install openai ws took over 240 s (no registry?)")
            if install.returncode != 0:
                pytest.skip(f"npm install openai ws failed: {install.stderr.strip()[-300:]}")
    return modules


async def run_node(base_url: str, modules: Path, ca: Path | None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"} | {"NODE_PATH": str(modules)}
    if ca is not None:
        env["NODE_EXTRA_CA_CERTS"] = str(ca)
    proc = await asyncio.create_subprocess_exec(
        "node", str(NODE_CLIENT), base_url, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_node_sdk_records_a_turn_through_the_tap_with_node_extra_ca_certs(db_path: Path):
    modules = node_modules()
    context, ca = tls.local_server_context()
    async with run_mock(seed=3) as mock, run_tap(mock.url, db_path, tls=context) as tap:
        # Without the CA, Node refuses the certificate and nothing is recorded.
        code, _, err = await run_node(f"https://127.0.0.1:{tap.port}/v1", modules, None)
        assert code != 0 and "certificate" in err
        code, out, err = await run_node(f"https://127.0.0.1:{tap.port}/v1", modules, ca)
        assert code == 0, err
        answer = json.loads(out)
    assert answer["status"] == "completed"
    assert answer["received"][0] == "session.created" and answer["received"][-1] == "response.done"
    assert recorded_client_types(db_path) == [TURN]
    with Store(db_path, create=False) as store:
        info = store.sessions()[0]
        assert info.path == "/v1/realtime" and info.model == "gpt-realtime"
        frames = [json.loads(e.frame) for e in store.events(info.id, with_frames=True, direction=Direction.CLIENT)]
        assert frames[1]["item"]["content"][0]["text"] == "Hello from Node"
        server = [e.type for e in store.events(info.id, direction=Direction.SERVER)]
        assert server[0] == "session.created" and "response.done" in server
