"""The operator's test files (--tests), collected on the controller before any host is touched: a file
pytest cannot import (a syntax error, a missing module) is said as FILE:LINE: ERROR, once, instead of
failing every host. Run in a process of its own (`python -m installer.verify.collect PATH...`): the
modules it imports must not stay in pyinstall's. Prints a JSON list of {"where", "error"}."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

PYTEST_INI = Path(__file__).with_name("pytest.ini")
# Where a traceback points: `File "PATH", line N` (a syntax error) or `PATH:N: in ...` (an import's traceback).
_LOCATION = re.compile(r'File "(?P<a>[^"]+\.py)", line (?P<n>\d+)|^(?:E\s+)?(?P<b>\S+\.py):(?P<m>\d+)(?::|$)', re.M)


class Collector:
    def __init__(self, given: list[Path]) -> None:
        self.given, self.broken = given, []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.broken.append(broken(str(report.longrepr), self.given, report.nodeid))


def broken(text: str, given: list[Path], nodeid: str = "") -> dict[str, Any]:
    """Where a collection error points in the operator's files (the deepest such line), and its last words."""
    where = nodeid or "collection"
    for match in _LOCATION.finditer(text):
        path = Path(match["a"] or match["b"])
        resolved = path if path.is_absolute() else Path.cwd() / path
        if any(resolved == g or g in resolved.parents for g in given):
            shown = os.path.relpath(resolved)
            where = f"{resolved if shown.startswith('..') else shown}:{match['n'] or match['m']}"
    said = [line[1:].strip() for line in text.splitlines() if line.startswith("E ") and line[1:].strip()]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return {"where": where, "error": (said or lines or ["could not be collected"])[-1]}


def main(paths: list[str]) -> int:
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    given = [Path(p).resolve() for p in paths]
    collector = Collector(given)
    args = ["--collect-only", "-q", "-c", str(PYTEST_INI), "--rootdir", str(PYTEST_INI.parent),
            "-p", "no:cacheprovider", *map(str, given)]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(args, plugins=[collector])
    print(json.dumps(collector.broken))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
