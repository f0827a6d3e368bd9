"""The `inspector` command line: one click command per feature, all sharing `--db` and `--json`."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from inspector import __version__
from inspector.cli_common import (
    DB,
    allow_remote_option,
    check_listen,
    compile_or_fail,
    db_option,
    default_db,
    fail,
    filter_option,
    json_option,
    open_session,
    open_store,
    parse_listen,
    setup_logging,
)

if TYPE_CHECKING:
    from inspector.store import Event, SessionInfo
    from inspector.store.filter import CompiledFilter


# Feature commands by name: each module is imported only when its command runs (or when
# `--help` lists them all), so `inspector sessions` does not pay for the mock, diff and TUI.
_FEATURES = {
    "tui": "inspector.tui.cli:tui_command",
    "export": "inspector.formats.cli:export_command",
    "import": "inspector.formats.cli:import_command",
    "mock": "inspector.mock.cli:mock_command",
    "demo": "inspector.demo:demo_command",
    "turns": "inspector.turns_cli:turns_command",
    "diff": "inspector.diff.cli:diff_command",
    "replay": "inspector.replay.cli:replay_command",
    "attach": "inspector.attach_cli:attach_command",
    "ca": "inspector.tls_cli:ca_command",
}


class _Commands(click.Group):
    """Every command: a database that breaks mid-read is an error line, not a traceback.
    Feature commands load lazily (`_FEATURES`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_FEATURES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _FEATURES:
            return super().get_command(ctx, cmd_name)
        module, _, attr = _FEATURES[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        from inspector.store import StoreError

        try:
            return super().invoke(ctx)
        except StoreError as exc:  # e.g. pages damaged past the header that opening checks
            fail(str(exc))


@click.group(cls=_Commands, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="inspector")
@click.option(
    "--db",
    "db_path",
    type=DB,
    metavar="FILE|URL",
    help="The database for the UI (an SQLite file or a PostgreSQL URL), and the default --db of the command that follows.",
)
@click.pass_context
def main(ctx: click.Context, db_path: Path | str | None) -> None:
    """Realtime Inspector: record, browse, import and export OpenAI Realtime API sessions, diff
    two of them, replay one against the mock or a live endpoint, and develop offline against a
    mock of the API.

    Run without a command to open the terminal UI (on --db FILE, $INSPECTOR_DB or
    recordings/inspector.db).
    """
    ctx.obj = {"db": db_path}
    if ctx.invoked_subcommand is None:
        from inspector.store import db_location
        from inspector.tui.cli import run_tui

        run_tui(db_location(default_db()), None)


@main.command()
@click.option(
    "--listen",
    default="127.0.0.1:8765",
    show_default=True,
    help="Address to accept clients on. Anything but loopback needs --allow-remote.",
)
@allow_remote_option
@click.option(
    "--upstream",
    default="wss://api.openai.com",
    show_default=True,
    help="Where to forward: OpenAI, an Azure resource, or a mock (ws://127.0.0.1:9000).",
)
@db_option
@click.option("--label", help="A label stored with every session this tap records.")
@click.option(
    "--buffer-mb",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Frames held while the database cannot be written (disk full, locked); past it the oldest are dropped and counted.",
)
@click.option(
    "--tls",
    is_flag=True,
    help="Serve wss:// with a certificate for localhost, 127.0.0.1 and ::1 signed by the inspector's "
    "local CA (made on first use; `inspector ca` prints its path). Node's SDK and browsers need it.",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Serve wss:// with your own PEM certificate (chain) instead; needs --tls-key.",
)
@click.option(
    "--tls-key", type=click.Path(path_type=Path), metavar="FILE", help="The unencrypted PEM key of --tls-cert."
)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def tap(
    listen: str,
    allow_remote: bool,
    upstream: str,
    db_path: Path | str,
    label: str | None,
    buffer_mb: int,
    tls: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    verbose: bool,
) -> None:
    """Record Realtime sessions by standing between a client and the upstream.

    Point your client at the tap instead of the API; the tap opens the same path and query on the
    upstream with the client's credentials and forwards every frame unchanged, recording each one
    (secrets redacted) to the database. Example with the openai SDK:

    \b
        inspector tap
        AsyncOpenAI(websocket_base_url="ws://127.0.0.1:8765/v1")

    Node's SDK (OpenAIRealtimeWS) and browsers on https pages speak only wss://: run the tap with
    --tls and trust the inspector's CA, e.g. NODE_EXTRA_CA_CERTS="$(inspector ca)" for Node; the
    tap's first lines say how, and which URL to use.

    Stop with Ctrl-C: open sessions are marked `interrupted` and what is queued is written (within
    about 10 s; what could not be is counted on its session); a second Ctrl-C exits at once.
    """
    import asyncio
    import errno

    from inspector.store import StoreError
    from inspector.tap import TapOptions, run_tap, websocket_url
    from inspector.tls_cli import tap_tls

    host, port = parse_listen(listen, 8765)
    check_listen(
        host,
        port,
        allow_remote=allow_remote,
        exposure="anyone who can reach the tap can use the API keys of the clients it forwards, and read their traffic",
    )
    try:
        websocket_url(upstream)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--upstream") from None
    setup_logging(verbose)
    try:
        options = TapOptions(upstream=upstream, label=label, tls=tap_tls(tls, tls_cert, tls_key, host, port))
        asyncio.run(run_tap(host, port, str(db_path), options, buffer_bytes=buffer_mb * 1024 * 1024))
    except StoreError as exc:
        fail(str(exc))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"{host}:{port} is already in use; choose another with --listen {host}:PORT")
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@main.command()
@db_option
@json_option
@click.option("--limit", type=int, help="Only the newest N sessions.")
def sessions(db_path: Path | str, as_json: bool, limit: int | None) -> None:
    """List recorded sessions, newest first. A call's sessions (attached, or a tapped
    `?call_id=` sideband) show its id."""
    import orjson

    from inspector.display import SIDEBAND_NOTE, format_duration, format_started
    from inspector.protocol import call_id_of

    store = open_store(db_path)
    rows = store.sessions(limit=limit)
    if as_json:
        for info in rows:
            call_id = call_id_of(info.query)
            click.echo(orjson.dumps(info.to_dict() | ({"call_id": call_id} if call_id else {})).decode())
        return
    if not rows:
        from inspector.store import show_db

        click.echo(f"no sessions in {show_db(db_path)} yet")
        return
    statuses = [_status_cell(info) for info in rows]
    width = max(len("STATUS"), *(len(status) for status in statuses))
    click.echo(
        f"{'ID':>4}  {'STARTED':19}  {'DURATION':>8}  {'SOURCE':6}  {'MODEL':20}  {'CLIENT':>6}  {'SERVER':>6}  "
        f"{'ERRORS':>6}  {'STATUS':{width}}  LABEL"
    )
    for info, status in zip(rows, statuses, strict=True):
        call_id = call_id_of(info.query)
        label = " ".join(filter(None, [f"[{info.label}]" if info.label else "", f"call {call_id}" if call_id else ""]))
        click.echo(
            f"{info.id:>4}  {format_started(info.started_at):19}  {format_duration(info.duration):>8}  "
            f"{info.source:6}  {(info.model or '-')[:20]:20}  {info.client_events:>6}  "
            f"{info.server_events:>6}  {info.error_events:>6}  {status:{width}}  {label}".rstrip()
        )
    if any(info.source == "attach" for info in rows):
        click.echo(f"attach sessions hold {SIDEBAND_NOTE}")


def _status_cell(info: SessionInfo) -> str:
    status = f"{info.status}" + (f" ({info.close_code})" if info.close_code else "")
    return status + (f", {info.unrecorded_frames} frames not recorded" if info.unrecorded_frames else "")


@main.command()
@click.argument("session_id", metavar="SESSION", type=int)
@click.option(
    "--type",
    "type_glob",
    help="Only event types matching this glob, e.g. 'response.*' (case-insensitive); short for --filter 'type:GLOB'.",
)
@click.option(
    "--dir",
    "direction",
    type=click.Choice(["client", "server"]),
    help="Only one direction; short for --filter 'dir:client' or 'dir:server'.",
)
@filter_option("Only events matching a filter, e.g. 'type:response.* -type:*.delta' or 'is:error'.")
@db_option
@click.option("--json", "as_json", is_flag=True, help="JSON Lines with the exact frames.")
def events(
    session_id: int,
    type_glob: str | None,
    direction: str | None,
    compiled_filter: CompiledFilter | None,
    db_path: Path,
    as_json: bool,
) -> None:
    """List a session's events in order: seq, +ms, direction, type, ids, size."""
    import base64

    import orjson

    from inspector.display import fit_middle, format_bytes, format_offset, short_id
    from inspector.protocol import Opcode

    store = open_session(db_path, session_id)
    compiled = _events_filter(type_glob, direction, compiled_filter)
    if compiled is None:
        chosen: Iterable[Event] = store.events(session_id, with_frames=as_json)
    else:
        chosen = store.events_matching(session_id, compiled, with_frames=as_json)
    shown = 0
    for ev in chosen:
        if not shown and not as_json:
            click.echo(f"{'SEQ':>6} {'OFFSET':>12} {'':2}{'TYPE':{_TYPE_WIDTH}} {'IDS':28} {'SIZE':>7}  SUMMARY")
        shown += 1
        if as_json:
            record = {
                "seq": ev.seq,
                "t": ev.t,
                "direction": ev.direction.value,
                "type": ev.type,
                "opcode": "binary" if ev.opcode == Opcode.BINARY else "text",
                "frame": base64.b64encode(ev.frame).decode() if isinstance(ev.frame, bytes) else ev.frame,
            }
            click.echo(orjson.dumps(record).decode())
            continue
        ids = " ".join(short_id(v) for v in (ev.item_id, ev.response_id, ev.call_id) if v)
        mark = "!" if ev.is_error else " "
        click.echo(
            f"{ev.seq:>6} {format_offset(ev.t_ns):>12} {ev.direction.arrow}{mark}"
            f"{fit_middle(ev.type or '<' + (ev.problem or '?') + '>', _TYPE_WIDTH)} {ids:28} {format_bytes(ev.size):>7}"
            + (f"  {ev.summary}" if ev.summary else "")
        )
    if not shown:  # on stderr: standard output stays a clean (empty) listing
        click.echo("0 events match" if compiled is not None else "the session has no events", err=True)


_TYPE_WIDTH = 42  # longer types lose their middle, so the columns after them stay aligned


def _events_filter(
    type_glob: str | None, direction: str | None, compiled: CompiledFilter | None
) -> CompiledFilter | None:
    """`--type` and `--dir` are sugar: one filter, ANDed with `--filter`'s text, through the
    same compiler as every other filter (None when nothing narrows the list)."""
    from inspector.store.filter import filter_term

    terms = []
    if type_glob is not None:
        terms.append(filter_term("type", type_glob))
    if direction is not None:
        terms.append(filter_term("dir", direction))
    if compiled is not None and not compiled.empty:
        terms.append(f"({compiled.text})")
    if not terms:
        return None
    # --filter compiled on its own already (its errors point into the user's text); a bad
    # --type value is reported against the filter it became.
    return compile_or_fail(" ".join(terms))
