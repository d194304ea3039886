"""Shell completion (argcomplete, as `eval "$(register-python-argcomplete pyinstall)"` wires it in bash and
zsh): commands, tags, and --limit's hosts and groups from the inventory given so far."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.lab.testing import PYINSTALL

PRECEDENCE = Path(__file__).parent / "inventories/precedence/hosts.ini"


def complete(line: str, tmp_path: Path) -> list[str]:
    out = tmp_path / "completions"
    env = {**os.environ, "_ARGCOMPLETE": "1", "_ARGCOMPLETE_STDOUT_FILENAME": str(out), "COMP_LINE": line,
           "COMP_POINT": str(len(line)), "_ARGCOMPLETE_IFS": "\n"}  # fmt: skip
    proc = subprocess.run(PYINSTALL, env=env, capture_output=True, text=True, timeout=60, pass_fds=())
    assert proc.returncode == 0, proc.stderr
    return sorted(w.strip() for w in out.read_text().split("\n") if w.strip())


@pytest.mark.parametrize(
    "line, expected",
    [
        ("pyinstall ve", ["verify"]),
        ("pyinstall provision hosts.ini --tags c", ["cgroups", "config"]),
        ("pyinstall provision --sk", ["--skip-tags"]),
        (f"pyinstall check -i {PRECEDENCE} --limit el", ["el6", "el7"]),
        (f"pyinstall check {PRECEDENCE} --limit db0", ["db01.example.com", "db02.example.com", "db03.example.com"]),
    ],
)
def test_completion(line: str, expected: list[str], tmp_path: Path) -> None:
    assert complete(line, tmp_path) == expected
