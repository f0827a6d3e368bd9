"""Pure modules stay pure: importing them loads no database, event loop, CLI or UI library.

Each check runs in a fresh interpreter, since this test process has imported everything."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

HEAVY = ("sqlite3", "asyncio", "click", "textual", "websockets")

PURE_MODULES = [
    "inspector",
    "inspector.audio",
    "inspector.display",
    "inspector.files",
    "inspector.protocol",
    "inspector.formats",
    "inspector.formats.common",
    "inspector.formats.detect",
    "inspector.formats.fixture",
    "inspector.formats.har",
    "inspector.formats.jsonl",
    "inspector.mock",
    "inspector.mock.playback",
    "inspector.mock.responses",
    "inspector.mock.state",
    "inspector.store.filter",
    "inspector.store.values",
    "inspector.tui",
    "inspector.turns",
]


def heavy_modules_loaded_by(module: str) -> list[str]:
    code = f"import sys, {module}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return ast.literal_eval(result.stdout)


@pytest.mark.parametrize("module", PURE_MODULES)
def test_importing_a_pure_module_loads_nothing_heavy(module: str):
    assert heavy_modules_loaded_by(module) == []


def test_the_command_line_loads_a_feature_only_when_its_command_runs():
    code = (
        "import sys; from inspector.cli import main\n"
        "main.get_command(None, 'diff')\n"
        "print(sorted(m for m in ('textual', 'inspector.mock.server', 'inspector.diff.cli') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # `inspector sessions` and friends pay for neither the UI nor the mock; asking for `diff` loads diff.
    assert ast.literal_eval(result.stdout) == ["inspector.diff.cli"]


def test_every_feature_command_loads_and_help_lists_it_with_its_summary():
    from click import Context
    from click.testing import CliRunner

    from inspector.cli import _FEATURES, main

    ctx = Context(main)
    listing = CliRunner().invoke(main, ["--help"]).output
    for name in _FEATURES:
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name
        words = command.get_short_help_str(limit=200).split()[:3]  # the summary's first words
        assert any(line.split()[:4] == [name, *words] for line in listing.splitlines()), name


def test_the_formats_package_still_offers_its_names():
    import inspector.formats as formats
    from inspector.formats.common import FormatError
    from inspector.formats.detect import import_files

    assert formats.FormatError is FormatError
    assert formats.import_files is import_files
    for name in formats.__all__:
        assert getattr(formats, name) is not None
    with pytest.raises(AttributeError):
        formats.no_such_name  # noqa: B018
