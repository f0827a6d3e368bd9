"""`inspector mock`: the command line around `server.run_mock`."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import signal
from pathlib import Path

import click

from inspector.cli_common import allow_remote_option, check_listen, db_option, fail, parse_listen
from inspector.mock.script import DEFAULT_SCRIPT, Script, ScriptError
from inspector.mock.server import Latency, run_mock
from inspector.mock.state_core import Flavor

__all__ = ["mock_command", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def parse_duration(text: str) -> float | None:
    """Seconds in "90s", "5m", "1.5h", "250ms" or "30" (seconds); None if it is none of these."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*", text)
    return None if match is None else float(match.group(1)) * _UNITS[match.group(2)]


_HELP = f"""Run an offline OpenAI Realtime API server (GA protocol) for developing and testing
clients without a key or network.

\b
Point a client at it:
  openai SDK:  AsyncOpenAI(api_key="sk-anything", websocket_base_url="ws://HOST:PORT/v1")
  any client:  ws://HOST:PORT/v1/realtime?model=gpt-realtime

It sends session.created, validates session.update like the service, buffers audio with an
energy-based server VAD, keeps the conversation, streams text/audio/function-call responses
(audio is a PCM16 tone with a matching transcript), supports cancel and truncate, and answers
bad input with the service's error codes. There is no response.cancelled event: like the
service, a cancel ends with response.done (status "cancelled").

\b
--script FILE decides what the assistant says, one rule a line:
  when /REGEX/FLAGS say TEXT
  when /REGEX/FLAGS call NAME with {{"arg": "$1"}}
  after NAME say TEXT          ($output = the function output, $arg = its arguments)
  say TEXT                     (the answer when no rule matches)
  hear TEXT                    (the transcript of the user's audio turns)
  ... then say TEXT            (another output item in the same response)
  ... then call NAME {{...}}     (e.g. say One moment then call lookup {{"q": "$1"}})
\b
The built-in script:{DEFAULT_SCRIPT.rstrip()}

Calls (a mock-only stand-in for WebRTC, no media): POST /v1/realtime/calls answers 201 with
Location: /v1/realtime/calls/ID; a WebSocket on ?call_id=ID&mock_role=primary plays the data
channel, one on ?call_id=ID is a sideband of the same session; POST
/v1/realtime/calls/ID/hangup ends the call. --webhook-url sends a signed realtime.call.incoming
for each new call.

--from-session ID plays back a recorded session instead: after each client event it sends the
server events that followed it in the recording (with the recorded gaps when --latency is
realistic).
"""


@click.command("mock", help=_HELP)
@click.option(
    "--listen",
    default="127.0.0.1:9000",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to listen. Anything but loopback needs --allow-remote.",
)
@allow_remote_option
@click.option(
    "--script",
    "script_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Script file (see above).",
)
@click.option("--seed", type=int, help="Make ids and answers identical on every run.")
@click.option(
    "--latency",
    type=click.Choice(["none", "realistic"]),
    default="none",
    show_default=True,
    help="none: answer at once; realistic: ~250 ms session.updated, ~280 ms response.created, streamed deltas.",
)
@click.option(
    "--require-key",
    is_flag=True,
    help="Refuse connections without an API key (error, then close 3000).",
)
@click.option(
    "--flavor",
    type=click.Choice(["openai", "azure"]),
    default="openai",
    show_default=True,
    help="azure: Azure OpenAI's paths (/openai/realtime?deployment=..., /openai/v1/realtime?model=...), "
    "api-key header, no rate_limits.updated, HTTP 401 for a missing key with --require-key, and the preview "
    "(beta) protocol for clients that send OpenAI-Beta: realtime=v1 or a preview-shaped session.update.",
)
@click.option(
    "--max-session",
    "max_session",
    default="60m",
    show_default=True,
    metavar="DURATION",
    help="End each session after this long (e.g. 90s, 5m, 1h; 0: never) with session_expired and close 1001.",
)
@click.option(
    "--from-session",
    "from_session",
    type=int,
    metavar="ID",
    help="Play back recorded session ID instead.",
)
@click.option(
    "--webhook-url",
    metavar="URL",
    help="When a call is made (POST /v1/realtime/calls), POST a signed realtime.call.incoming here "
    "(e.g. inspector attach --webhook).",
)
@click.option(
    "--webhook-secret-env",
    default="OPENAI_WEBHOOK_SECRET",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the whsec_... secret --webhook-url deliveries are signed with.",
)
@db_option
def mock_command(
    listen: str,
    allow_remote: bool,
    script_path: Path | None,
    seed: int | None,
    latency: Latency,  # click.Choice holds it to these values
    require_key: bool,
    flavor: Flavor,  # click.Choice holds it to these values
    max_session: str,
    from_session: int | None,
    webhook_url: str | None,
    webhook_secret_env: str,
    db_path: Path,
) -> None:
    host, port = parse_listen(listen, 9000)
    check_listen(
        host,
        port,
        allow_remote=allow_remote,
        exposure="anyone who can reach the mock can use it, and the API keys clients send it "
        "(the mock ignores them) cross the network",
    )
    max_session_s = parse_duration(max_session)
    if max_session_s is None:
        fail(f"--max-session: expected a duration such as 90s, 5m or 1h, got {max_session!r}")
    script = None
    if script_path is not None:
        try:
            script = Script.load(script_path)
        except ScriptError as exc:
            fail(f"script {script_path}: {exc}")
    webhook = None
    if webhook_url is not None:
        from inspector.mock.calls_http import WebhookTarget

        secret = os.environ.get(webhook_secret_env)
        if not secret:
            fail(
                f"--webhook-url needs a secret: set ${webhook_secret_env} (or name another variable with --webhook-secret-env)"
            )
        webhook = WebhookTarget(webhook_url, secret)
    factory = None
    if from_session is not None:
        from inspector.mock.playback import PlaybackSession, load_recording
        from inspector.store import StoreError

        try:
            recording, close = load_recording(db_path, from_session)
        except StoreError as exc:
            fail(str(exc))
        gaps = latency == "realistic"

        def factory(model: str) -> PlaybackSession:
            return PlaybackSession(recording, gaps=gaps, close=close)

    async def serve() -> None:
        async with run_mock(
            host,
            port,
            seed=seed,
            latency=latency,
            script=script,
            require_key=require_key,
            flavor=flavor,
            max_session_s=max_session_s or None,
            session_factory=factory,
            webhook=webhook,
        ) as mock:
            what = f"playing back session {from_session}" if from_session is not None else "mock Realtime server"
            click.echo(f"inspector {what} on {mock.url}")
            if flavor == "azure":
                click.echo(f"  connect to {mock.url}/openai/v1/realtime?model=DEPLOYMENT")
            else:
                click.echo(f"  connect to {mock.url}/v1/realtime?model=gpt-realtime")
            click.echo(f'  openai SDK: AsyncOpenAI(websocket_base_url="{mock.url}/v1")')
            click.echo(f"  calls (mock-only, no media): POST {mock.http_url}/v1/realtime/calls")
            click.echo("  Ctrl-C to stop")
            # SIGTERM (kill, systemd, docker stop) stops like Ctrl-C: leaving `run_mock` closes
            # every client with 1001 (going away) instead of dropping the TCP connections.
            stop = asyncio.Event()
            with contextlib.suppress(NotImplementedError):  # Windows event loops have no signals
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        fail(f"cannot listen on {host}:{port}: {reason}")
