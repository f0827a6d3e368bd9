"""Moving recordings in and out: JSON Lines (ours and the fixtures'), Chrome HAR, WAV audio.

    from inspector.formats import read_sessions, import_files
    with open_store(path) as store:    # a file, or a postgresql:// URL
        ids = import_files(store, ["a.jsonl", "b.har"])   # all or nothing, one transaction

Readers are lazy where they can be: a JSON Lines file is parsed line by line inside the store's
import transaction, so a malformed line anywhere rolls the whole import back, and memory stays
flat for large files. Every error names the file and the line (or the JSON path in a HAR).

The names below are loaded on first use, so that importing one module of this package (the
TUI's export, the CLI) does not load all the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspector.formats.common import FormatError, SessionImport
    from inspector.formats.detect import detect_format, import_files, read_sessions

__all__ = ["FormatError", "SessionImport", "detect_format", "import_files", "read_sessions"]

_HOMES = {
    "FormatError": "inspector.formats.common",
    "SessionImport": "inspector.formats.common",
    "detect_format": "inspector.formats.detect",
    "import_files": "inspector.formats.detect",
    "read_sessions": "inspector.formats.detect",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
