"""`inspector export` and `inspector import`, loaded by `inspector/cli.py` when one of them runs
(its `_FEATURES`)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from inspector.cli_common import db_option, fail, json_option, open_session, open_store
from inspector.files import atomic_write, terminate_as_exit

__all__ = ["export_command", "import_command"]

PROGRESS_MIN_BYTES = 4 * 1024 * 1024  # smaller files import too fast to need a progress line


@click.command("export")
@click.argument("session_id", metavar="SESSION", type=int)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "har", "wav"]),
    default="jsonl",
    show_default=True,
    help="jsonl: exact interchange (re-importable); har: Chrome DevTools HAR; wav: audio.",
)
@click.option(
    "-o",
    "--output",
    # A string, not a Path: pathlib drops the trailing "/" that marks a directory not made yet.
    type=click.Path(),
    help="jsonl/har: the file to write (default: stdout), or a directory (an existing one, or "
    "any path ending in /, created if needed) to write session-N.jsonl or .har in. wav "
    "(required): a directory, where session-N[-turn-T]-input.wav and -output.wav are written, "
    "or a path prefix P, giving P-input.wav and P-output.wav.",
)
@click.option(
    "--turn",
    type=click.IntRange(min=1),
    help="wav: only turn N, numbered as in the TUI's turns view (its committed input audio and the response to it).",
)
@db_option
def export_command(session_id: int, fmt: str, output: str | None, turn: int | None, db_path: Path) -> None:
    """Write a session as JSON Lines, as a HAR file, or its audio as WAV files.

    \b
        inspector export 3 > session3.jsonl
        inspector export 3 --format har -o session3.har
        inspector export 3 --format wav -o exports/          # exports/session-3-input.wav, …
        inspector export 3 --format wav --turn 2 -o turn2    # turn2-input.wav, turn2-output.wav
    """

    if turn is not None and fmt != "wav":
        raise click.UsageError("--turn applies to --format wav only")
    store = open_session(db_path, session_id)
    with terminate_as_exit():  # a killed export removes its partial files too
        if fmt == "wav":
            _export_wav(store, session_id, output, turn)
        else:
            _export_document(store, session_id, fmt, output, db_path)


def _is_directory_arg(output: str) -> bool:
    """`-o DIR/` or an existing directory: pathlib would drop the trailing / of one not made yet."""
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


def _make_directory(output: str) -> Path:
    directory = Path(output)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create directory {output}: {exc.strerror or exc}")
    return directory


def _export_document(store, session_id: int, fmt: str, output_arg: str | None, db_path: Path) -> None:
    from inspector.formats.har import export_har
    from inspector.formats.jsonl import export_jsonl
    from inspector.store import is_database_file, show_db

    def write(stream) -> int:
        if fmt == "har":
            return export_har(store, [session_id], stream)
        return export_jsonl(store, session_id, stream)

    if output_arg is None or output_arg == "-":
        sys.stdout.flush()
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    if _is_directory_arg(output_arg):
        output = _make_directory(output_arg) / f"session-{session_id}.{fmt}"
    else:
        output = Path(output_arg)
    if is_database_file(output, db_path):
        fail(f"cannot write {output}: it is the database itself (--db {show_db(db_path)})")
    try:
        with atomic_write(output) as stream:
            count = write(stream)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"wrote session {session_id} ({count} frames) to {output}", err=True)


def _export_wav(store, session_id: int, output: str | None, turn: int | None) -> None:
    from inspector.formats.wav import NoAudio, export_wav, wav_name

    if output is None:
        raise click.UsageError("--format wav needs -o DIRECTORY/ or -o PATH_PREFIX")
    if _is_directory_arg(output):
        prefix = _make_directory(output) / wav_name(session_id, turn)
    else:
        prefix = Path(output)
    try:
        files = export_wav(store, session_id, prefix, turn=turn)
    except (NoAudio, IndexError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {prefix}: {exc.strerror or exc}")
    for info in files:
        formats = ", ".join(info.source_formats)
        click.echo(f"{info.path}  {info.role:6}  {info.seconds:8.3f} s  {info.chunks} chunks ({formats})")


class _ProgressLine:
    """`importing big.jsonl  42% of 120.0 MB` on stderr, rewritten in place at most 5 times a
    second, for files large enough to take a while."""

    def __init__(self) -> None:
        self._open = False  # a line is on screen without its newline
        self._last = 0.0

    def __call__(self, path: str, done: int, total: int) -> None:
        if total < PROGRESS_MIN_BYTES:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        self._open = done < total
        percent = 100 * done // max(total, 1)
        click.echo(f"\rimporting {path}  {percent:3d}% of {total / 1e6:.1f} MB", err=True, nl=not self._open)

    def end(self) -> None:
        if self._open:
            click.echo("", err=True)
            self._open = False


@click.command("import")
# Checked by the command, not by click: click's complaint is a three-line usage error.
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@db_option
@json_option
def import_command(files: tuple[Path, ...], db_path: Path, as_json: bool) -> None:
    """Import sessions from JSON Lines exports, fixture files or Chrome HAR files.

    The format of each file is detected from its content. All files are imported in one
    transaction: if any is malformed, the error names the file and line and nothing is imported.
    Secrets are redacted as the tap does. Prints the new session ids.

    \b
        inspector import recordings/samples/*.jsonl
        inspector import devtools-export.har
    """
    import orjson

    from inspector.formats import FormatError, import_files
    from inspector.store import StoreError, database_files, is_url, show_db

    for path in files:  # all of them before anything is imported, or a database is created
        if path.is_dir():
            fail(f"{path}: is a directory")
        if not path.exists():
            fail(f"{path}: no such file")
        if not path.is_file():
            # A FIFO or a device would block the import (and its write lock) forever, and each
            # file is read twice: once to detect its format, once to import it.
            fail(f"{path}: not a regular file (a FIFO, socket or device cannot be imported)")
    existed = is_url(db_path) or Path(db_path).exists()  # a server database is never removed
    store = open_store(db_path, create=True)
    progress = _ProgressLine()
    try:
        imported = import_files(store, [str(f) for f in files], progress)
    except (FormatError, StoreError, OSError) as exc:
        store.close()
        if not existed:  # leave no empty database behind either
            for path in database_files(db_path):
                path.unlink(missing_ok=True)
        message = str(exc) if not isinstance(exc, OSError) else f"{exc.filename}: {exc.strerror or exc}"
        progress.end()
        fail(f"{message} (nothing imported)")
    store.close()
    for item in imported:
        if as_json:
            record = {"session_id": item.session_id, "path": item.path, "format": item.kind, "frames": item.frames}
            click.echo(orjson.dumps(record).decode())
        else:
            click.echo(f"session {item.session_id}: {item.path} ({item.kind}, {item.frames} frames)")
    if not as_json:
        click.echo(f"imported {len(imported)} session(s) into {show_db(db_path)}", err=True)
    sys.stdout.flush()
