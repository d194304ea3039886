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


def _screen(data: bytes, columns: int, lines: int) -> list[str]:
    """What a terminal emulator (pyte) shows after ``data``: its scrollback, then its screen; trailing blank
    lines dropped."""
    import pyte

    screen = pyte.HistoryScreen(columns, lines, history=100_000)
    screen.set_mode(pyte.modes.LNM)  # the pty's onlcr: a newline also returns the carriage
    pyte.Stream(screen).feed(data.decode(errors="replace"))
    shown = ["".join(row[x].data for x in range(columns)).rstrip() for row in screen.history.top]
    shown += [row.rstrip() for row in screen.display]
    while shown and not shown[-1]:
        shown.pop()
    return shown


_REGION_LINE = re.compile(r"  \S+  \x1b\[36m")  # "  HOST  " then its step in cyan (-v's info findings are cyan too)
_ERASE = re.compile(r"\r\x1b\[2K((?:\x1b\[1A\x1b\[2K)*)")


def _misplaced_erasures(written: str) -> list[tuple[int, int, int]]:
    """(offset, lines drawn, lines erased) wherever the live region was erased by another height than it was
    last drawn at: the erasure then takes a line of the output with it, or leaves one of the region behind."""
    wrong, start = [], 0
    for m in _ERASE.finditer(written):
        drawn = 0
        for line in reversed(written[start : m.start()].split("\r\n")):
            if "to go" not in line and not _REGION_LINE.match(line.removeprefix("\x1b[?25l")):  # a host, its step
                break
            drawn += 1
        erased = 1 + m.group(1).count("\x1b[1A")
        if drawn and drawn != erased:
            wrong.append((m.start(), drawn, erased))
        start = m.end()
    return wrong


def test_nine_hosts_finishing_out_of_order_leave_the_terminal_as_the_run_record_says(
    make_fleet, tmp_path: Path
) -> None:
    """The live region is erased and drawn again each time a host's block is printed above it: whatever the
    order hosts finish in, nothing of the output may be lost or left over."""
    fleet: Fleet = make_fleet("scroll", "el6:3,el7:3,el7+tmpfs:3")
    columns, lines = 160, 30
    env = {**os.environ, "HOME": str(tmp_path), "COLUMNS": str(columns), "LINES": str(lines), "TERM": "xterm"}
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    # -v: each step's commands in the blocks too (long lines the terminal wraps)
    proc = subprocess.Popen([*PYINSTALL, "provision", "-v", "-i", str(fleet.inventory), "--retry-file", ""],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)  # fmt: skip
    os.close(slave)
    data = b""
    while True:
        if select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(timeout=60) == 0, data.decode(errors="replace")[-3000:]
    shown = _screen(data, columns, lines)
    kept = subprocess.run([*PYINSTALL, "runs", "show", "1"], capture_output=True, text=True,
                          env={**env, "COLUMNS": str(columns)})  # fmt: skip
    # as the terminal shows them: a line longer than the terminal wraps at its width
    recorded = [line[i : i + columns].rstrip() for line in kept.stdout.splitlines()
                for i in range(0, max(len(line), 1), columns)]  # fmt: skip
    while recorded and not recorded[-1]:
        recorded.pop()
    order = [line.split()[0] for line in shown if line.endswith("  changed") and line.split()[0] in
             {h.name for h in fleet.hosts}]  # fmt: skip
    names = [h.name for h in fleet.hosts]
    finished = order[: len(names)]  # each host's block as it was done; the report's recap follows
    print(f"hosts finished in this order: {', '.join(finished)}")
    assert sorted(finished) == sorted(names), f"not every host was changed and shown: {order}"
    assert finished != names, "the hosts finished in inventory order: nothing was tested"
    assert _misplaced_erasures(data.decode(errors="replace")) == []
    missing = [line for line in recorded if line and line not in shown]
    assert not missing, f"lines of the report the terminal lost: {missing[:5]}"
    assert sorted(filter(None, shown)) == sorted(filter(None, recorded)), "lines left over on the terminal"
