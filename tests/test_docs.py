"""The README documents every command and flag, and names the two commands a fresh machine needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from segmentation.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PARSER = build_parser()
SUBCOMMANDS = next(a for a in PARSER._actions if a.dest == "command").choices


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_every_command_and_flag_is_in_the_readme(name: str) -> None:
    assert f"segments {name}" in README
    for action in SUBCOMMANDS[name]._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert flag in README, f"segments {name} {flag} is not documented in README.md"


def test_readme_has_the_run_and_test_commands() -> None:
    assert "bash .ci/run" in README
    assert Path(__file__).resolve().parents[1].joinpath(".ci", "run").exists()


def test_readme_run_command_uses_a_venv_and_the_lock() -> None:
    assert (
        "python3 -m venv .venv && .venv/bin/pip install -c requirements.lock -e . && .venv/bin/segments demo"
        in README
    )
    ci = (ROOT / ".ci" / "run").read_text()
    assert "-m venv" in ci and "-c requirements.lock" in ci


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_lock_pins_every_dependency_of_the_project() -> None:
    """requirements.lock pins each direct dependency (core and dev) to one version per Python range."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    pinned = {
        _name(line)
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line and not line.startswith((" ", "#"))
    }
    assert all(
        "==" in line
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line and not line.startswith((" ", "#"))
    )
    assert wanted <= pinned, f"not pinned in requirements.lock: {sorted(wanted - pinned)}"
