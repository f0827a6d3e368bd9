"""Which format a file is in, and importing files into a store all or nothing."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

import orjson

from inspector.formats.common import MAX_FRAME, FormatError, SessionImport, parse_line
from inspector.formats.fixture import read_fixture
from inspector.formats.har import read_har
from inspector.formats.jsonl import read_interchange

if TYPE_CHECKING:  # the store loads sqlite3: detecting a file's format needs none of it
    from inspector.store import Store

__all__ = ["Imported", "detect_format", "import_files", "read_sessions"]

# progress(path, bytes read so far, file size)
Progress = Callable[[str, int, int], None]
_PROGRESS_EVERY = 2000  # lines
_SNIFF = 64 * 1024
_BATCH = 2000  # frames per insert batch
_CHUNK = 1024 * 1024  # bytes per read of a whole document, between progress reports
_BOM = b"\xef\xbb\xbf"  # Windows editors start UTF-8 files with it; JSON parsers refuse it
# The longest line a frame the tap accepts can take: JSON escapes a control character as \u0001,
# six bytes for one. A longer line is refused before it is read whole (a 200 MB line would
# otherwise cost three times that in memory).
_MAX_LINE = 6 * MAX_FRAME + 64 * 1024
# One JSON document rather than JSON Lines: a HAR (`{"log": ...}`, its only member), or a first
# line that is just `{` or `[` (any pretty-printer). Not merely "the first line does not parse":
# a JSON Lines file whose header is cut would then be read whole into memory.
_DOCUMENT = re.compile(rb'\s*\{\s*"log"\s*:')


@dataclass
class Imported:
    path: str
    kind: str
    session_id: int
    frames: int


def _check_text(path: str, head: bytes) -> None:
    """Refuse binary files (a database, an archive, audio) before parsing anything."""
    if head.startswith(b"SQLite format 3\x00"):
        raise FormatError(path, None, "this is an SQLite database, not an export (open it with --db)")
    if b"\x00" in head:
        raise FormatError(path, None, "binary data, not JSON Lines or a HAR file")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            line = head.count(b"\n", 0, exc.start) + 1
            raise FormatError(path, line, "binary data or not UTF-8 text, not JSON Lines or a HAR file") from None


def _start(path: str, stream) -> bool:
    """Check the start of the file and leave `stream` after any BOM; True if the file is one
    JSON document (read whole) rather than JSON Lines (read a line at a time)."""
    head = stream.read(_SNIFF)
    bom = len(_BOM) if head.startswith(_BOM) else 0
    head = head[bom:]
    _check_text(path, head)
    stream.seek(bom)
    return bool(_DOCUMENT.match(head)) or head.split(b"\n", 1)[0].strip() in (b"{", b"[")


def _lines(path: str, stream, progress: Progress | None, total: int) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers, reporting progress as it goes."""
    done = stream.tell()
    lineno = 0
    while line := stream.readline(_MAX_LINE + 1):
        lineno += 1
        done += len(line)
        if len(line) > _MAX_LINE:
            size = len(line) + _skip_line(stream)
            raise FormatError(
                path,
                lineno,
                f"line of {size} bytes is longer than any frame the tap accepts ({MAX_FRAME // 2**20} MiB) could take",
            )
        if progress is not None and lineno % _PROGRESS_EVERY == 0:
            progress(path, done, total)
        if line.strip():
            yield lineno, line
    if progress is not None:
        progress(path, done, total)


def _skip_line(stream) -> int:
    """Read to the end of the current line without keeping it; returns the bytes read."""
    size = 0
    while chunk := stream.readline(_CHUNK):
        size += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return size


def _document(path: str, stream, progress: Progress | None, total: int) -> object:
    """The rest of the file parsed as one JSON document, reporting progress as it is read."""
    data = bytearray()
    while chunk := stream.read(_CHUNK):
        data += chunk
        if progress is not None:
            progress(path, stream.tell(), total)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FormatError(path, exc.lineno, f"invalid JSON: {str(exc).split(':', 1)[0]}") from None


def _first_line(path: str, lines: Iterator[tuple[int, bytes]]) -> tuple[int, bytes]:
    try:
        return next(lines)
    except StopIteration:
        raise FormatError(path, None, "the file is empty") from None


def _classify(obj: object) -> str | None:
    if not isinstance(obj, dict):
        return None
    if "format" in obj:
        return "jsonl"
    if "log" in obj:
        return "har"
    if "kind" in obj or ("direction" in obj and "data" in obj):
        return "fixture"
    return None


def detect_format(path: str | os.PathLike[str]) -> str:
    """'jsonl' (ours), 'fixture' or 'har'; raises `FormatError` for anything else."""
    path = str(path)
    with open(path, "rb") as stream:
        if _start(path, stream):
            return "har"
        lineno, line = _first_line(path, _lines(path, stream, None, 0))
        try:
            kind = _classify(orjson.loads(line))
        except orjson.JSONDecodeError:
            kind = None
    if kind is None:
        raise FormatError(path, lineno, "not a recognised format (expected JSON Lines or a HAR file)")
    return kind


def read_sessions(path: str | os.PathLike[str], progress: Progress | None = None) -> Iterator[SessionImport]:
    """The sessions in a file, in any supported format. JSON Lines frames are read lazily: the
    caller must consume each session's frames before asking for the next session."""
    path = str(path)
    total = os.path.getsize(path)
    with open(path, "rb") as stream:
        if _start(path, stream):
            # A pretty-printed document: Chrome's HAR files look like this, ours are one line.
            yield from read_har(path, _document(path, stream, progress, total))
            return
        lines = _lines(path, stream, progress, total)
        lineno, line = _first_line(path, lines)
        try:
            first = orjson.loads(line)
        except orjson.JSONDecodeError:
            first = None
        kind = _classify(first)
        if kind == "jsonl":
            yield read_interchange(path, first, lines)
        elif kind == "fixture":
            yield read_fixture(path, first, lines)
        elif kind == "har":
            yield from read_har(path, first)
        elif first is None:
            parse_line(path, lineno, line)  # raises with the reason
        else:
            raise FormatError(
                path,
                lineno,
                "not a recognised format: expected an inspector export "
                "('format' header), a fixture line ('direction', 'kind', 'data') or a HAR file ('log')",
            )


def import_files(
    store: Store, paths: Sequence[str | os.PathLike[str]], progress: Progress | None = None
) -> list[Imported]:
    """Import every session of every file in ONE transaction: on any `FormatError` nothing at all
    is written. Secrets are redacted by the store, as for the tap."""
    done: list[Imported] = []
    with store.transaction():
        for path in paths:
            for imp in read_sessions(path, progress):
                if store.session_id_for_uid(imp.fields.get("uid", "")) is not None:
                    del imp.fields["uid"]  # imported again: a copy, with a uid of its own
                # In batches, all inside the one transaction: memory stays flat on large files.
                frames = iter(imp.frames)
                session_id = store.import_session(islice(frames, _BATCH), source="import", **imp.fields)
                while batch := list(islice(frames, _BATCH)):
                    store.append_events(session_id, batch)
                if imp.trailer:
                    store.update_session(session_id, **imp.trailer)
                done.append(Imported(imp.path, imp.kind, session_id, imp.frame_count))
    return done
