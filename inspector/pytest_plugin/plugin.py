"""The pytest plugin (entry point `realtime_inspector`): Realtime sessions as cassettes.

    def test_greeting(realtime_server):                       # the scripted mock, seeded per test
        ...connect to realtime_server.base_url...

    @pytest.mark.realtime_cassette("cassettes/greeting.jsonl")
    def test_greeting_replayed(realtime_server): ...            # the recording answers, and judges

Shaped like pytest-recording: the options in one group (`--realtime-record-mode` none|once|all,
default none, so CI never touches the network; `--realtime-upstream`; `--realtime-db` to keep
the sessions in one database, e.g. a team's PostgreSQL, instead of a file per test), markers registered with a
line each, and small fixtures that are each an override point: `realtime_record_mode`,
`realtime_config` (a dict, per module), `realtime_cassette_dir`, `default_realtime_cassette_name`
and `realtime_server` itself.

Inert unless a test asks for `realtime_server`: loading this module imports nothing of the
inspector, and the one hook wrapper returns at once for other tests.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from inspector.pytest_plugin.harness import Cassette, MockSettings, RealtimeServer

__all__ = [
    "DEFAULT_UPSTREAM",
    "RECORD_MODES",
    "default_realtime_cassette_name",
    "realtime_cassette_dir",
    "realtime_config",
    "realtime_record_mode",
    "realtime_server",
]

RECORD_MODES = ("none", "once", "all")
DEFAULT_UPSTREAM = "wss://api.openai.com"
# What `realtime_config` may set; the markers' keywords override it per test.
CONFIG_KEYS = ("match", "upstream", "seed", "script", "flavor", "latency")
MOCK_KEYS = ("seed", "script", "flavor", "latency")
_SERVER = pytest.StashKey["RealtimeServer"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("realtime", "Realtime API sessions (realtime-inspector)")
    group.addoption(
        "--realtime-record-mode",
        action="store",
        default="none",
        choices=RECORD_MODES,
        help="Realtime cassettes: none (default) only plays them back and never touches the network; "
        "once records the missing ones; all re-records every one.",
    )
    group.addoption(
        "--realtime-upstream",
        action="store",
        default=DEFAULT_UPSTREAM,
        metavar="URL",
        help=f"Where recording sends the client's session (default {DEFAULT_UPSTREAM}; ws://127.0.0.1:PORT for a local server).",
    )
    group.addoption(
        "--realtime-db",
        action="store",
        default=None,
        metavar="FILE|URL",
        help="Record every test's session into this database (an SQLite file or a PostgreSQL URL, "
        "postgresql://user@host/dbname) to browse them afterwards with `inspector --db`; default: a new "
        "file per test in pytest's tmp dir.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "realtime_cassette(path=None, *, match='content'): realtime_server plays this recording back "
        "(path relative to the test file; default cassettes/<module>/<test>.jsonl) and checks the client's events "
        "against it (match: content, types or off).",
    )
    config.addinivalue_line(
        "markers",
        "realtime_mock(*, script=None, flavor='openai', seed=None, latency='none'): options of the "
        "scripted mock that realtime_server runs without a cassette.",
    )


# -- fixtures: each one an override point --------------------------------------------------------


@pytest.fixture(scope="session")
def realtime_record_mode(request: pytest.FixtureRequest) -> str:
    """none, once or all (`--realtime-record-mode`)."""
    return str(request.config.getoption("--realtime-record-mode"))


@pytest.fixture(scope="module")
def realtime_config() -> dict[str, Any]:
    """Defaults for this module's tests (override it): match, upstream, and the mock's seed,
    script, flavor and latency. The markers' keywords win over it."""
    return {}


@pytest.fixture(scope="module")
def realtime_cassette_dir(request: pytest.FixtureRequest) -> Path:
    """Where a `realtime_cassette` marker without a path keeps its file: cassettes/<module>/
    beside the test file, so that two modules' tests of the same name never share one."""
    module = Path(request.node.path)
    return module.parent / "cassettes" / module.stem


@pytest.fixture
def default_realtime_cassette_name(request: pytest.FixtureRequest) -> str:
    """The test's name (with its class), characters unsafe in file names replaced."""
    name = request.node.name
    if request.cls is not None:
        name = f"{request.cls.__name__}.{name}"
    return re.sub(r"[<>?%*:|\"'/\\\s]", "-", name)


@pytest.fixture
def realtime_server(
    request: pytest.FixtureRequest,
    realtime_record_mode: str,
    realtime_config: dict[str, Any],
    realtime_cassette_dir: Path,
    default_realtime_cassette_name: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RealtimeServer]:
    """A Realtime endpoint on 127.0.0.1 for this test: the scripted mock, or a cassette played back
    or recorded, behind a tap that records the session into a database in pytest's tmp dir
    (or `--realtime-db`).
    `.base_url`, `.url(model=...)`, `.events()`, `.types()`, `.session()`."""
    from inspector.pytest_plugin.harness import RealtimeServer
    from inspector.store import StoreError

    unknown = set(realtime_config) - set(CONFIG_KEYS)
    if unknown:
        pytest.fail(f"realtime_config: unknown keys {sorted(unknown)} (known: {', '.join(CONFIG_KEYS)})", pytrace=False)
    node = request.node
    cassette_marker = node.get_closest_marker("realtime_cassette")
    mock_marker = node.get_closest_marker("realtime_mock")
    if cassette_marker is not None and mock_marker is not None:
        pytest.fail("use realtime_cassette or realtime_mock on a test, not both", pytrace=False)
    settings = _mock_settings(request, realtime_config, mock_marker)
    db_path = request.config.getoption("--realtime-db") or tmp_path_factory.mktemp("realtime") / "session.db"
    if cassette_marker is None:
        server = RealtimeServer(db_path, mode="mock", mock=settings)
    else:
        path = _cassette_path(request, cassette_marker, realtime_cassette_dir, default_realtime_cassette_name)
        mode, cassette = _cassette(request, cassette_marker, realtime_config, path, realtime_record_mode)
        server = RealtimeServer(db_path, mode=mode, mock=settings, cassette=cassette)
    node.stash[_SERVER] = server
    try:
        server.start()
    except StoreError as exc:  # e.g. --realtime-db names a server that is down
        pytest.fail(f"realtime_server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def _mock_settings(request: pytest.FixtureRequest, config: dict[str, Any], marker: pytest.Mark | None) -> MockSettings:
    from inspector.mock.script import Script, ScriptError
    from inspector.pytest_plugin.harness import MockSettings

    options = {key: config[key] for key in MOCK_KEYS if key in config}
    if marker is not None:
        if marker.args:
            pytest.fail("realtime_mock takes keywords only: script=, flavor=, seed=, latency=", pytrace=False)
        unknown = set(marker.kwargs) - set(MOCK_KEYS)
        if unknown:
            pytest.fail(
                f"realtime_mock: unknown keywords {sorted(unknown)} (known: {', '.join(MOCK_KEYS)})", pytrace=False
            )
        options.update(marker.kwargs)
    script = options.get("script")
    try:
        if isinstance(script, Path):
            options["script"] = Script.load(Path(request.node.path).parent / script)
        elif isinstance(script, str):
            options["script"] = Script.parse(script)
    except (OSError, ScriptError) as exc:
        pytest.fail(f"realtime_mock script: {exc}", pytrace=False)
    if options.get("flavor", "openai") not in ("openai", "azure"):
        pytest.fail(f"realtime_mock: flavor is 'openai' or 'azure', not {options['flavor']!r}", pytrace=False)
    if options.get("latency", "none") not in ("none", "realistic"):
        pytest.fail(f"realtime_mock: latency is 'none' or 'realistic', not {options['latency']!r}", pytrace=False)
    # Seeded per test: the same ids and answers on every run, different from the next test's.
    options.setdefault("seed", request.node.nodeid)
    return MockSettings(**options)


def _cassette_path(request: pytest.FixtureRequest, marker: pytest.Mark, directory: Path, name: str) -> Path:
    if len(marker.args) > 1:
        pytest.fail("realtime_cassette takes one path (and match=...)", pytrace=False)
    given = marker.args[0] if marker.args else marker.kwargs.get("path")
    if given is None:
        return directory / f"{name}.jsonl"
    return Path(request.node.path).parent / given


def _cassette(
    request: pytest.FixtureRequest, marker: pytest.Mark, config: dict[str, Any], path: Path, record_mode: str
) -> tuple[Literal["replay", "record"], Cassette]:
    from inspector.diff.event_match import MATCH_MODES
    from inspector.formats import FormatError
    from inspector.mock.cassette import load_cassette
    from inspector.pytest_plugin.harness import Cassette

    unknown = set(marker.kwargs) - {"path", "match"}
    if unknown:
        pytest.fail(f"realtime_cassette: unknown keywords {sorted(unknown)} (known: path, match)", pytrace=False)
    match = marker.kwargs.get("match", config.get("match", "content"))
    if match not in MATCH_MODES:
        pytest.fail(f"realtime_cassette: match is one of {', '.join(MATCH_MODES)}, not {match!r}", pytrace=False)
    upstream = config.get("upstream") or str(request.config.getoption("--realtime-upstream"))
    cassette = Cassette(path, match=match, upstream=upstream)
    shown = _shown(path)
    if record_mode == "all" or (record_mode == "once" and not path.exists()):
        return "record", cassette
    if not path.exists():
        pytest.fail(
            f"no cassette at {shown}: record it once with `pytest --realtime-record-mode=once {request.node.nodeid}` "
            f"(the client then talks to {upstream} through a recording tap; the key is not written)",
            pytrace=False,
        )
    try:
        cassette.recording, cassette.close = load_cassette(path)
    except (OSError, FormatError) as exc:
        pytest.fail(f"cassette {shown} cannot be read: {exc}", pytrace=False)
    return "replay", cassette


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- the verdict: at the end of the test's call, so that a divergence fails the test ------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    server = item.stash.get(_SERVER, None)
    if server is None:
        return (yield)
    try:
        result = yield
    except (pytest.skip.Exception, pytest.xfail.Exception, KeyboardInterrupt):
        raise
    except BaseException as exc:
        divergence, _ = server.problems()
        if divergence is not None:
            # The divergence is the likelier cause: the cassette's answers no longer fit.
            also = f"\n(the test also failed: {type(exc).__name__}: {exc})".rstrip()
            pytest.fail(_header(server) + divergence.describe() + also, pytrace=False)
        if server.mode == "record":
            item.add_report_section("call", "realtime", "cassette not written: the test failed")
        raise
    _verdict(server)
    return result


def _verdict(server: RealtimeServer) -> None:
    from inspector.pytest_plugin.harness import CassetteNotWritten

    if server.mode == "record":
        try:
            server.write_cassette()
        except CassetteNotWritten as exc:
            pytest.fail(f"{_header(server)}not recorded: {exc}", pytrace=False)
        return
    divergence, unconsumed = server.problems()
    if divergence is not None:
        pytest.fail(_header(server) + divergence.describe() + _RERECORD, pytrace=False)
    if unconsumed is not None:
        pytest.fail(_header(server) + unconsumed + _RERECORD, pytrace=False)


_RERECORD = "\nIf the change is intended, re-record the cassette: pytest --realtime-record-mode=all"


def _header(server: RealtimeServer) -> str:
    assert server.cassette is not None
    return f'realtime cassette {_shown(server.cassette.path)} (match="{server.cassette.match}"): '
