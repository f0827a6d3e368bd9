"""`inspector attach`: the command line around `attach.attach_calls`."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from inspector.cli_common import (
    allow_remote_option,
    check_listen,
    db_option,
    fail,
    is_loopback,
    parse_listen,
    setup_logging,
)

if TYPE_CHECKING:
    from inspector.attach import AttachResult

__all__ = ["attach_command"]


@click.command("attach")
@click.argument("call_ids", metavar="CALL_ID...", nargs=-1)
@click.option(
    "--upstream",
    default="wss://api.openai.com",
    show_default=True,
    help="The Realtime service whose calls to attach to (or a mock: ws://127.0.0.1:9000).",
)
@click.option(
    "--api-key-env",
    default="OPENAI_API_KEY",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the API key (never recorded).",
)
@click.option("--label", help="A label stored with every session this command records.")
@click.option("--webhook", is_flag=True, help="Receive webhooks; attach to each realtime.call.incoming.")
@click.option(
    "--listen",
    default="127.0.0.1:8787",
    show_default=True,
    metavar="HOST:PORT",
    help="Where --webhook listens. Anything but loopback needs --allow-remote.",
)
@allow_remote_option
@click.option(
    "--secret-env",
    default="OPENAI_WEBHOOK_SECRET",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the webhook secret (whsec_...).",
)
@db_option
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def attach_command(
    call_ids: tuple[str, ...],
    upstream: str,
    api_key_env: str,
    label: str | None,
    webhook: bool,
    listen: str,
    allow_remote: bool,
    secret_env: str,
    db_path: Path,
    verbose: bool,
) -> None:
    """Record WebRTC and SIP calls through their sideband WebSocket (?call_id=ID).

    Each call becomes a session (source `attach`) holding every server event the sideband
    receives, from the moment it attached until the call ends. Only what the sideband saw is
    there: the caller's own client events travel over the WebRTC data channel (or the phone
    line) and are not recorded, nor are client events other sideband users send. Nothing is
    sent to the call.

    \b
        inspector attach rtc_123 rtc_456           # the Location of POST /v1/realtime/calls
        inspector attach --webhook --listen :8787  # each realtime.call.incoming (SIP)
    """
    from inspector.attach import WebhookListen, attach_calls
    from inspector.store import StoreError
    from inspector.tap import websocket_url

    if not call_ids and not webhook:
        fail("give one or more CALL_IDs, or --webhook", 2)
    try:
        websocket_url(upstream)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--upstream") from None
    api_key = os.environ.get(api_key_env) or None
    if api_key is None and not is_loopback(urlsplit(upstream).hostname or ""):
        fail(f"no API key: set ${api_key_env} (or name another variable with --api-key-env)", 2)
    hook = None
    if webhook:
        host, port = parse_listen(listen, 8787)
        check_listen(host, port, allow_remote=allow_remote, exposure="anyone who can reach it can post webhooks to it")
        secret = os.environ.get(secret_env)
        if not secret:
            fail(f"no webhook secret: set ${secret_env} (or name another variable with --secret-env)", 2)
        hook = WebhookListen(host, port, secret)
    setup_logging(verbose)

    async def run() -> list[AttachResult]:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)

        def listening(port: int) -> None:
            click.echo(f"receiving webhooks on http://{hook.host if hook else ''}:{port}/ (Ctrl-C to stop)", err=True)

        return await attach_calls(
            db_path, call_ids, upstream=upstream, api_key=api_key, label=label, webhook=hook, stop=stop, ready=listening
        )

    try:
        results = asyncio.run(run())
    except StoreError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {listen}: {exc.strerror or exc}")
    for result in results:
        click.echo(_summary(result))
    raise SystemExit(1 if any(r.error is not None for r in results) else 0)


def _summary(result: AttachResult) -> str:
    session = f"session {result.session_id}" if result.session_id is not None else "not recorded"
    if result.error is not None:
        return f"{result.call_id}: {session}: {result.error}"
    ended = f"closed {result.close_code}" + (f" {result.close_reason}" if result.close_reason else "")
    return f"{result.call_id}: {session}, {result.events} server events, {ended}"
