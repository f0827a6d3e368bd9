"""Options and helpers every command shares: `--db`, `--json`, `--filter`, `--listen`, one-line
errors.

Feature modules (mock, formats, tui, demo) import these from here, not from `inspector.cli`,
which imports them in turn to register their commands.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from inspector.store import Store
    from inspector.store.filter import CompiledFilter, FilterError

_F = TypeVar("_F", bound=Callable[..., Any])

DEFAULT_DB = Path("recordings") / "inspector.db"


def default_db() -> str:
    """`inspector --db DB COMMAND` (the group's option), else `$INSPECTOR_DB`, else
    recordings/inspector.db: what every command's `--db` defaults to (a file or a URL)."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and ctx.obj.get("db"):
            return str(ctx.obj["db"])
        ctx = ctx.parent
    return os.environ.get("INSPECTOR_DB") or str(DEFAULT_DB)


class DbParam(click.ParamType):
    """`--db`: an SQLite file (a `Path`), or a PostgreSQL URL kept as text (`postgresql://...`,
    any libpq URL; shown without its password)."""

    name = "db"
    _file = click.Path(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from inspector.store.factory import is_url

        return str(value) if is_url(value) else self._file.convert(value, param, ctx)


DB = DbParam()
DB_HELP = "The recordings: an SQLite file, or a PostgreSQL URL (postgresql://user@host/dbname)."


def db_option(func: _F) -> _F:
    """`--db FILE|URL`: every command that reads or writes recordings takes it."""
    return click.option(
        "--db",
        "db_path",
        type=DB,
        metavar="FILE|URL",
        default=default_db,
        show_default="$INSPECTOR_DB or recordings/inspector.db",
        help=DB_HELP,
    )(func)


def json_option(func: _F) -> _F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error the way every command does, and exit non-zero."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def parse_listen(value: str, default_port: int) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT`, `PORT` or `HOST` → (host, port); 127.0.0.1 unless told otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = (value, str(default_port)) if not value.isdigit() else ("", value)
    try:
        port_number = int(port)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--listen") from None
    if not 0 <= port_number <= 65535:
        raise click.BadParameter(f"port {port_number} is out of range (0-65535)", param_hint="--listen")
    return host.strip("[]") or "127.0.0.1", port_number


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host`: a loopback literal or `localhost`. Any other
    name counts as remote: what it resolves to may change."""
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost" or host.lower().endswith(".localhost")


def allow_remote_option(func: _F) -> _F:
    """`--allow-remote`: the one way to listen on anything but loopback (see `check_listen`)."""
    return click.option(
        "--allow-remote",
        is_flag=True,
        help="Allow --listen on an address other machines can reach (0.0.0.0, a LAN address, a host name).",
    )(func)


def check_listen(host: str, port: int, *, allow_remote: bool, exposure: str) -> None:
    """Refuse a non-loopback `--listen` without `--allow-remote`; with it, warn on stderr.
    `exposure` says what anyone who can reach the server can then do."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise click.BadParameter(
            f"{host} is not a loopback address: {exposure}. Add --allow-remote to listen there anyway.",
            param_hint="--listen",
        )
    click.echo(f"warning: listening on {host}:{port}, reachable from other machines: {exposure}", err=True)


def open_store(db_path: Path | str, *, create: bool = False) -> Store:
    """The store, or a clean exit with the reason (missing, corrupt, newer schema)."""
    from inspector.store import StoreError
    from inspector.store import open_store as open_db

    try:
        return open_db(db_path, create=create)
    except StoreError as exc:
        fail(str(exc))


def open_session(db_path: Path | str, session_id: int) -> Store:
    """The store holding `session_id`, or a clean exit saying the session does not exist."""
    from inspector.store import SessionNotFound

    store = open_store(db_path)
    try:
        store.session(session_id)
    except SessionNotFound as exc:
        fail(str(exc))
    return store


def filter_error_message(text: str, exc: FilterError) -> str:
    """The one wording of a bad filter for every command: what is wrong and where, then the
    filter with a caret under the bad token."""
    caret = exc.caret(text).replace("\n", "\n  ")
    return f"bad filter: {exc.message} at column {exc.position + 1}\n  {caret}"


def compile_or_fail(text: str, code: int = 1) -> CompiledFilter:
    """The compiled filter, or the shared error and exit `code`."""
    from inspector.store.filter import FilterError, compile_filter

    try:
        return compile_filter(text)
    except FilterError as exc:
        fail(filter_error_message(text, exc), code)


def filter_option(help_text: str, *, error_code: int = 1) -> Callable[[_F], _F]:
    """`--filter TEXT` in the filter language, handed to the command compiled (as
    `compiled_filter`); a bad filter ends the command with the shared error line and exit
    `error_code` (`diff` keeps 1 for "different", so its errors exit 2). For `events`, `tui`,
    `diff`, and the replay command to come."""

    def compile_option(ctx: click.Context, param: click.Parameter, value: str | None) -> CompiledFilter | None:
        return None if value is None else compile_or_fail(value, error_code)

    def decorate(func: _F) -> _F:
        return click.option(
            "--filter",
            "compiled_filter",
            metavar="TEXT",
            callback=compile_option,
            help=help_text,
        )(func)

    return decorate


def setup_logging(verbose: bool = False) -> None:
    import logging

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
    )
    # websockets logs every connection at INFO; the tap logs sessions itself. Never DEBUG, even
    # with -v: it writes the handshake's headers, API keys included, to a log that may be a file.
    logging.getLogger("websockets").setLevel(logging.WARNING)
