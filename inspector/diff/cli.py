"""`inspector diff A B`: what changed between two sessions (or files), as a CI check.

Exit codes: 0 equivalent under the chosen mode, 1 different, 2 an error (one line, no traceback).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from inspector.cli_common import db_option, fail, filter_option

if TYPE_CHECKING:
    from inspector.diff import Side
    from inspector.store.filter import CompiledFilter

__all__ = ["diff_command"]

_ERROR = 2  # 1 means "different"


def _side(name: str, db_path: Path | str, stack: contextlib.ExitStack) -> Side:
    """A side from what the user typed: an existing file (imported into a temporary database
    that `stack` removes), else a session id of the database."""
    from inspector.diff import Side, imported_side
    from inspector.formats import FormatError
    from inspector.store import StoreError, open_store

    path = Path(name)
    try:
        if path.is_file():
            return stack.enter_context(imported_side(path))
        if not name.isdigit():
            fail(f"{name}: no such file, and not a session id", _ERROR)
        store = stack.enter_context(open_store(db_path, create=False))
        return Side(store, int(name), name)
    except (FormatError, StoreError, ValueError, OSError) as exc:
        fail(str(exc), _ERROR)


@click.command("diff")
@click.argument("side_a", metavar="A")
@click.argument("side_b", metavar="B")
@click.option(
    "--mode",
    type=click.Choice(["exact", "content", "structure"]),
    default="content",
    show_default=True,
    help="exact: ids compared literally; content: every field but generated ids and volatile values; "
    "structure: types and order, statuses, tool names and arguments, error codes, text and audio as present/absent.",
)
@click.option(
    "--ignore", "ignore", multiple=True, metavar="PATH", help="Also ignore this JSON path (e.g. '$.item.content')."
)
@click.option(
    "--keep",
    "keep",
    multiple=True,
    metavar="PATH",
    help="Compare a path the defaults ignore (e.g. '$.response.usage').",
)
@click.option(
    "--skip-type", "skip_types", multiple=True, metavar="GLOB", help="Leave out events of these types (e.g. '*.delta')."
)
@filter_option(
    "Compare only the events matching this filter (the filter language of `inspector events`).", error_code=_ERROR
)
@click.option(
    "--slower-than",
    type=click.FloatRange(min=1.0),
    metavar="FACTOR",
    help="Flag (and fail on) turns whose latency in B exceeds A's by this factor and by at least 50 ms.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--markdown", is_flag=True, help="Print the report as markdown (a pull-request comment).")
@db_option
def diff_command(
    side_a: str,
    side_b: str,
    mode: str,
    ignore: tuple[str, ...],
    keep: tuple[str, ...],
    skip_types: tuple[str, ...],
    compiled_filter: CompiledFilter | None,
    slower_than: float | None,
    as_json: bool,
    markdown: bool,
    db_path: Path,
) -> None:
    """Compare sessions A and B (session ids, or files: our JSON Lines, the fixture format, HAR).

    Events are normalised first (no event ids, audio as its length, generated ids numbered in
    order of first appearance, volatile values dropped), then aligned turn by turn and, within a
    turn, by direction and type. Exit 0 when equivalent, 1 when different, 2 on an error.
    """
    from inspector.diff import DiffOptions, Mode, PathError, diff_sides
    from inspector.diff.normalise import compile_paths
    from inspector.diff.render import render_json, render_markdown, render_text
    from inspector.store import StoreError

    if as_json and markdown:
        fail("--json and --markdown are exclusive: choose one", _ERROR)
    options = DiffOptions(
        mode=Mode(mode),
        ignore=ignore,
        keep=keep,
        skip_types=skip_types,
        slower_than=slower_than,
        filter_text=compiled_filter.text if compiled_filter is not None and not compiled_filter.empty else None,
    )
    try:
        compile_paths(options.ignored_paths)
    except PathError as exc:
        fail(str(exc), _ERROR)
    with contextlib.ExitStack() as stack:
        a, b = _side(side_a, db_path, stack), _side(side_b, db_path, stack)
        try:
            report = diff_sides(a, b, options, compiled_filter)
        except StoreError as exc:
            fail(str(exc), _ERROR)
    if as_json:
        click.echo(render_json(report))
    elif markdown:
        click.echo(render_markdown(report))
    else:
        click.echo(render_text(report, color=True))
    raise SystemExit(0 if report.equivalent else 1)
