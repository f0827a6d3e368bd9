"""Moving recordings in and out: JSON Lines (ours and the fixtures'), Chrome HAR, WAV audio.

    from inspector.formats import read_sessions, import_files
    with Store(path) as store:
        ids = import_files(store, ["a.jsonl", "b.har"])   # all or nothing, one transaction

Readers are lazy where they can be: a JSON Lines file is parsed line by line inside the store's
import transaction, so a malformed line anywhere rolls the whole import back, and memory stays
flat for large files. Every error names the file and the line (or the JSON path in a HAR).
"""

from __future__ import annotations

from inspector.formats.common import FormatError, SessionImport
from inspector.formats.detect import detect_format, import_files, read_sessions

__all__ = ["FormatError", "SessionImport", "detect_format", "import_files", "read_sessions"]
