"""Options and helpers every command shares: `--db`, `--json`, `--listen`, one-line errors.

Feature modules (mock, formats, tui, demo) import these from here, not from `inspector.cli`,
which imports them in turn to register their commands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click

DEFAULT_DB = Path("recordings") / "inspector.db"


def default_db() -> str:
    return os.environ.get("INSPECTOR_DB") or str(DEFAULT_DB)


def db_option(func):
    """`--db PATH`: every command that reads or writes recordings takes it."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=default_db,
        show_default="$INSPECTOR_DB or recordings/inspector.db",
        help="SQLite database holding the recordings.",
    )(func)


def json_option(func):
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


def open_store(db_path: Path, *, create: bool = False):
    """The store, or a clean exit with the reason (missing, corrupt, newer schema)."""
    from inspector.store import Store, StoreError

    try:
        return Store(db_path, create=create)
    except StoreError as exc:
        fail(str(exc))


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
