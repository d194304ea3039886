"""Watching a run on a terminal: through a real pty, the host that finishes first is reported first, while
the other still works and shows its current step."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab.testing import PYINSTALL, Fleet, pyinstall_json

pytestmark = pytest.mark.lab

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def _through_a_pty(argv: list[str], env: dict[str, str], timeout: float = 300) -> list[tuple[float, str]]:
    """What a terminal shows, chunk by chunk with the time each arrived (escape sequences removed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    data = os.read(master, 1 << 16)
                except OSError:  # the child closed its side
                    break
                if not data:
                    break
                chunks.append((time.monotonic(), _ANSI.sub("", data.decode(errors="replace"))))
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        proc.wait(timeout=60)
    assert proc.returncode == 0, "".join(c for _, c in chunks)[-3000:]
    return chunks


def _first(chunks: list[tuple[float, str]], needle: str) -> float:
    seen = ""
    for at, chunk in chunks:
        seen += chunk
        if needle in seen:
            return at
    raise AssertionError(f"{needle!r} never appeared in:\n{seen[-3000:]}")


def test_the_first_host_done_is_shown_while_the_other_still_works(make_fleet, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet("live", "el6:1,el7:1")
    quick, slow = fleet["el7-01"].name, fleet["el6-01"].name
    rc, _ = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", quick, home=tmp_path)
    assert rc == 0, "the el7 host is provisioned beforehand: the next run finds nothing to do there"
    env = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "160", "LINES": "40", "TERM": "xterm"}
    chunks = _through_a_pty([*PYINSTALL, "provision", "-i", str(fleet.inventory), "--retry-file", ""], env)
    quick_block, slow_block = _first(chunks, f"{quick}  ok"), _first(chunks, f"{slow}  changed")
    working = _first(chunks, "install docker-io")  # the slow host's step, shown while it works
    t0 = chunks[0][0]
    print(f"quick host shown at {quick_block - t0:.1f} s, the slow host's step at {working - t0:.1f} s, "
          f"the slow host done at {slow_block - t0:.1f} s")  # fmt: skip
    assert quick_block < working < slow_block, "the quick host's block came first, then the slow host's step"
    assert slow_block - quick_block > 1.0, "the quick host was reported while the slow one still worked"
    assert _first(chunks, "RECAP") >= slow_block
    assert "to go" in "".join(c for _, c in chunks), "the fleet's counts were shown"
