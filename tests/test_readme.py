"""README's promises: the two fresh-machine commands exist, and CI runs the same test command."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _shell_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("python3 -m venv")]


def test_ci_runs_exactly_the_readme_test_command():
    readme = _shell_lines((ROOT / "README.md").read_text())
    test_commands = [line for line in readme if "pytest" in line]
    assert len(test_commands) == 1
    assert test_commands[0] in _shell_lines((ROOT / ".ci" / "run").read_text())


def test_readme_first_command_installs_and_runs_the_demo():
    first = _shell_lines((ROOT / "README.md").read_text())[0]
    assert "pip install -e ." in first and first.endswith("inspector demo")


def test_the_test_command_lints_and_type_checks_before_the_tests():
    (command,) = [line for line in _shell_lines((ROOT / "README.md").read_text()) if "pytest" in line]
    steps = [command.index(step) for step in ("ruff check .", "ruff format --check .", "mypy", "-m pytest")]
    assert steps == sorted(steps)


def test_ci_starts_a_real_postgresql_before_the_test_command_and_stops_it_whatever_happens():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    start = next(i for i, line in enumerate(lines) if ".ci/postgres start" in line)
    trap = next(i for i, line in enumerate(lines) if line.startswith("trap ") and ".ci/postgres stop" in line)
    test = next(i for i, line in enumerate(lines) if line.startswith("python3 -m venv"))
    assert trap < start < test and any("export INSPECTOR_TEST_PG" in line for line in lines[start:test])
