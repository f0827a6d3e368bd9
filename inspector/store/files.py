"""The database's files on disk: which names it occupies, and creating it private (0600)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["create_private_file", "database_files", "is_database_file"]


def create_private_file(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite does (it would use the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def database_files(db_path: str | os.PathLike[str]) -> list[Path]:
    """The database and the side files SQLite keeps beside it."""
    return [Path(f"{db_path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]


def is_database_file(path: str | os.PathLike[str], db_path: str | os.PathLike[str]) -> bool:
    """Whether writing `path` would replace the database or one of its side files (which SQLite
    would then read as its journal). By resolved name, as the files may not exist yet, and by
    identity, for a hard link or a symlink. Never for a database on a server (a URL)."""
    from inspector.store.factory import is_url

    if is_url(db_path):
        return False
    target = Path(path)
    for db_file in database_files(db_path):
        if target.resolve() == db_file.resolve():
            return True
        try:
            if os.path.samefile(target, db_file):
                return True
        except OSError:  # one of them does not exist: not the same file
            pass
    return False
