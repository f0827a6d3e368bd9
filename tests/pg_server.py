"""A real PostgreSQL for the tests: the one `INSPECTOR_TEST_PG` names (a libpq URL), or one started
here in a temporary directory (PostgreSQL 15's `initdb` and `pg_ctl`; as the `postgres` system
user when run as root, since `initdb` refuses root), on a free port of 127.0.0.1 with trust auth,
stopped and removed at the end whatever happens.

Also a command for `.ci/run`: `python tests/pg_server.py start DIR` prints the URL of a server
running in DIR; `python tests/pg_server.py stop DIR` stops it and removes DIR.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["Server", "Unavailable", "database_for_test", "fresh_database", "running_server", "start", "stop"]

SEARCH = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"]


class Unavailable(Exception):
    """No PostgreSQL could be found or started here (the reason says which)."""


def find_binaries() -> Path:
    """The directory of `initdb` and `pg_ctl`: the one on PATH (through its symlink), else a
    Debian-style versioned one."""
    on_path = shutil.which("initdb")
    for directory in ([str(Path(on_path).resolve().parent)] if on_path else []) + SEARCH:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    raise Unavailable("no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` system user."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser") is None:
        raise Unavailable("running as root and no runuser to start PostgreSQL as the postgres user")
    return ["runuser", "-u", "postgres", "--", *argv]


def _run(argv: list[str]) -> None:
    out = subprocess.run(_as_owner(argv), capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise Unavailable(f"{Path(argv[0]).name} failed: {(out.stderr or out.stdout).strip()[-500:]}")


def start(directory: Path) -> str:
    """Initialise and start a server whose data and socket live in `directory`; its URL."""
    bin_dir = find_binaries()
    data = directory / "data"
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        try:
            shutil.chown(directory, "postgres", "postgres")
        except LookupError:
            raise Unavailable("running as root and no postgres user to run PostgreSQL as") from None
    _run([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
    port = _free_port()
    # Durability is not under test here: fsync off makes CREATE DATABASE per test cheap.
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(directory / "log"), "-w", "-o", options, "start"])
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def stop(directory: Path) -> None:
    with contextlib.suppress(Unavailable, OSError, subprocess.SubprocessError):
        if (directory / "data" / "postmaster.pid").exists():
            _run([str(find_binaries() / "pg_ctl"), "-D", str(directory / "data"), "-m", "immediate", "-w", "stop"])
    shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Server:
    url: str | None  # None: no server (`error` says why)
    error: str = ""


@contextlib.contextmanager
def running_server() -> Iterator[Server]:
    """A server to test against: `INSPECTOR_TEST_PG`'s, or one started for the run."""
    given = os.environ.get("INSPECTOR_TEST_PG")
    if given:
        yield Server(given)
        return
    directory = Path(tempfile.mkdtemp(prefix="inspector-pg-"))
    try:
        try:
            server = Server(start(directory))
        except Unavailable as exc:
            server = Server(None, str(exc))
        yield server
    finally:
        stop(directory)


_databases = itertools.count(1)


def database_for_test(server: Server) -> contextlib.AbstractContextManager[str]:
    """A fresh database on the test server (`fresh_database`). Skips the test when no PostgreSQL
    could be found or started here, but fails it under CI (`CI=true`), where there must be one."""
    import pytest

    if server.url is None:
        reason = f"no PostgreSQL for the tests: {server.error}"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(reason)
        pytest.skip(reason)
    return fresh_database(server.url)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server (CREATE DATABASE is ~60 ms), dropped at the end."""
    import psycopg

    name = f"inspector_test_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    if command == "start":
        try:
            print(start(where))
        except Unavailable as exc:
            stop(where)
            sys.exit(f"pg_server: {exc}")
    else:
        stop(where)
