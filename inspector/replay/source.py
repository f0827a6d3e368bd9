"""Where a replay's original comes from: a recorded session, or a file.

A file (JSON Lines, the fixture format, HAR) is imported into the target database first, like
`inspector import` would (source `import`): the replay's `replay_of` then names a real session,
and the two can be browsed and diffed side by side. `--plan` reads the file without importing
it: a plan writes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from inspector.replay.plan import RecordedEvent

if TYPE_CHECKING:
    from inspector.store import Store

_T = TypeVar("_T")

__all__ = ["Original", "SourceError", "import_source", "load_session", "read_source_file"]


class SourceError(Exception):
    """The source is neither a session of the database nor a readable recording file."""


@dataclass
class Original:
    """The recorded session to replay: its events, and what the target URL is built from."""

    events: list[RecordedEvent]
    session_id: int | None = None  # None for a file read by --plan
    path: str | None = None  # the original request's path and model, for the mock's URL
    model: str | None = None
    label: str | None = None


def load_session(store: Store, session_id: int) -> Original:
    """Every event of a stored session, frames included (raises `SessionNotFound`)."""
    info = store.session(session_id)
    events = [
        RecordedEvent(ev.seq, ev.direction, ev.t_ns, ev.frame if ev.frame is not None else "")
        for ev in store.events(session_id, with_frames=True)
    ]
    return Original(events, session_id, info.path, info.model, info.label)


def read_source_file(path: str | os.PathLike[str]) -> Original:
    """The one session of a recording file, without importing it."""
    from inspector.formats import FormatError, read_sessions

    originals = []
    try:
        for imp in read_sessions(path):
            events = [RecordedEvent(i, f.direction, f.t_ns, f.data) for i, f in enumerate(imp.frames, 1)]
            fields = imp.fields
            originals.append(Original(events, None, fields.get("path"), fields.get("model"), fields.get("label")))
    except (FormatError, OSError) as exc:
        raise SourceError(str(exc)) from exc
    return _only_one(path, originals)


def import_source(store: Store, path: str | os.PathLike[str]) -> int:
    """Import a recording file into the store; the id of its one session."""
    from inspector.formats import FormatError, import_files

    try:
        imported = import_files(store, [path])
    except (FormatError, OSError) as exc:
        raise SourceError(str(exc)) from exc
    return _only_one(path, [imp.session_id for imp in imported])


def _only_one(path: str | os.PathLike[str], found: list[_T]) -> _T:
    if len(found) != 1:
        raise SourceError(
            f"{Path(path).name} holds {len(found)} sessions: import it with `inspector import` and "
            "replay them by id (or with --all)"
        )
    return found[0]
