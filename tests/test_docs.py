"""The README documents every command and flag, and names the two commands a fresh machine needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentation.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
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
    assert "pip install -e . && segments demo" in README
    assert "bash .ci/run" in README
    assert Path(__file__).resolve().parents[1].joinpath(".ci", "run").exists()
