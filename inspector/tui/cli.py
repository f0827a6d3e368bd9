"""`inspector tui [--db PATH] [SESSION]`; also what a bare `inspector` runs. Textual is
imported only when the app starts, so `inspector --help` stays fast."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from inspector.cli_common import compile_or_fail, db_option, fail, filter_option

if TYPE_CHECKING:
    from inspector.store.filter import CompiledFilter

__all__ = ["has_terminal", "run_tui", "tui_command"]

NO_TERMINAL = (
    "the UI needs a terminal; use inspector sessions / inspector events SESSION (or --json) to print recordings instead"
)


def has_terminal() -> bool:
    """Whether a full-screen app can run: stdout and stdin are a TTY. Otherwise (`> out.txt`,
    `< /dev/null`, a pipe) it would write escape codes into a file and wait for keys forever."""
    try:
        return sys.stdout.isatty() and sys.stdin.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def run_tui(db_path: Path | str, session_id: int | None, filter_text: str | None = None) -> None:
    """Check the database, the session, the filter and the terminal first, so that problems
    print as one `error:` line (those about the arguments first: they are the more useful)."""
    from inspector.store import open_store
    from inspector.tui.db import DB_ERRORS

    try:
        with open_store(db_path, create=False) as store:
            if session_id is not None:
                store.session(session_id)
    except DB_ERRORS as exc:
        fail(str(exc))
    if filter_text:
        compile_or_fail(filter_text)
    if not has_terminal():
        fail(NO_TERMINAL)

    from inspector.tui.app import make_app

    make_app(db_path, session_id, filter_text).run()


@click.command("tui")
@db_option
@filter_option("Open SESSION with this filter applied.")
@click.argument("session_id", metavar="[SESSION]", type=int, required=False)
def tui_command(db_path: Path, compiled_filter: CompiledFilter | None, session_id: int | None) -> None:
    """Browse recordings in the terminal: sessions, events, filters, detail, turns, live tail.

    Opens the sessions screen, or SESSION directly. Press ? in the app for every key.
    """
    run_tui(db_path, session_id, compiled_filter.text if compiled_filter else None)
