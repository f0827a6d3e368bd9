"""The `inspector` command line: one click command per feature, all sharing `--db` and `--json`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from inspector import __version__

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
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        func
    )


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="inspector")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Realtime Inspector: record, browse, diff and replay OpenAI Realtime API sessions.

    Run without a command to open the terminal UI on the default database.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def fail(message: str, code: int = 1) -> None:
    """Print an error the way every command does, and exit non-zero."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


# Feature commands register themselves below (one import per feature module).
