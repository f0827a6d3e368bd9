"""Writing a file whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write"]


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """A binary stream onto `NAME.partial` beside `path`, renamed to `path` when the block ends.

    On any failure (including a cancellation raised from inside the block) the partial file is
    removed and the exception propagates: an import never meets half an export."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as stream:
            yield stream
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
