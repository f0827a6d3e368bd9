"""The TUI's export (`x`): a session, or a filter's events, in the interchange JSON Lines of
`inspector.formats.jsonl` (header + frames + close line), so the file imports back with
`inspector import`. No Textual."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from inspector.files import atomic_write
from inspector.formats import jsonl
from inspector.store import Store

__all__ = ["ExportCancelled", "export_jsonl"]

_CHUNK = 512  # lines written between two looks at `cancelled()`


class ExportCancelled(Exception):
    """The export was cancelled; no file was left behind."""


class _Output:
    """A binary stream that polls `cancelled()` every `_CHUNK` lines and stops the export."""

    def __init__(self, stream, cancelled: Callable[[], bool] | None) -> None:
        self._stream = stream
        self._cancelled = cancelled
        self._lines = 0

    def write(self, data: bytes) -> int:
        self._lines += 1
        if self._cancelled is not None and self._lines % _CHUNK == 0 and self._cancelled():
            raise ExportCancelled
        return self._stream.write(data)


def export_jsonl(
    store: Store,
    session_id: int,
    path: Path,
    seqs: Sequence[int] | None = None,
    *,
    cancelled: Callable[[], bool] | None = None,
) -> int:
    """Write a session (or only the events `seqs`, ascending) to `path` as interchange JSON Lines;
    returns how many frames were written. The file is written beside `path` and renamed at the
    end, so a failed or cancelled export (`cancelled()` is polled as it goes; `ExportCancelled`
    is raised) leaves no half file that an import would refuse."""
    with atomic_write(path) as stream:
        return jsonl.export_jsonl(store, session_id, _Output(stream, cancelled), seqs)  # type: ignore[arg-type]
