"""The live progress region on a terminal (installer/progress.py), without hosts: hosts finish in a random
order on threads of their own, each printing its block above the region, and the bytes are replayed through a
terminal emulator (pyte): the scrollback must hold every block whole, in the order printed, and nothing else.
Through a real pty with lab hosts: tests/test_progress_lab.py."""

from __future__ import annotations

import io
import random
import threading
import time
from typing import Any

import pyte
import pytest
from rich.console import Console

from installer import events, progress
from installer.terminal import text, visible

COLUMNS, LINES = 60, 24


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Result:
    def __init__(self, name: str) -> None:
        self.name = name


def _replayed(written: str) -> list[str]:
    screen = pyte.HistoryScreen(COLUMNS, LINES, history=10_000)
    screen.set_mode(pyte.modes.LNM)
    pyte.Stream(screen).feed(written)
    shown = ["".join(row[x].data for x in range(COLUMNS)).rstrip() for row in screen.history.top]
    shown += [row.rstrip() for row in screen.display]
    while shown and not shown[-1]:
        shown.pop()
    return shown


def _console(terminal: _Terminal) -> Console:
    return Console(file=terminal, force_terminal=True, width=COLUMNS, height=LINES, color_system=None,
                   highlight=False, markup=False, emoji=False)  # fmt: skip


def _hosts_on_threads(console: Console, block: Any, hosts: list[str], steps: int, step: Any) -> None:
    """Each host on a thread of its own through one live region: started, ``step(live, host, k)`` for each of its
    steps, then done (its block printed)."""
    with progress.Progress(console, block) as live:
        live(events.Event(events.RUN, status=str(len(hosts))))

        def work(host: str) -> None:
            live(events.Event(events.HOST, host, status="started"))
            for k in range(steps):
                step(live, host, k)
            live(events.Event(events.HOST, host, status="changed", result=_Result(host)))

        threads = [threading.Thread(target=work, args=(h,)) for h in hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


@pytest.mark.parametrize("seed", range(12))
def test_blocks_printed_from_many_threads_are_whole_in_the_scrollback(seed: int) -> None:
    rng = random.Random(seed)
    terminal = _Terminal()
    console = _console(terminal)
    printed: list[str] = []

    def block(result: _Result, out: Console) -> None:
        # Lines wider than the terminal wrap: the region's height must count them as drawn.
        lines = [f"{result.name}  changed"] + [f"  changed  step {k} " + "x" * (k * 15) for k in range(5)]
        printed.append("\n".join(lines))
        out.print(text("\n".join(lines)))

    def step(live: progress.Progress, host: str, k: int) -> None:
        time.sleep(rng.random() * 0.03)
        live(events.Event(events.STEP, host, name=f"step {k} " + "y" * (k * 20), status="started"))

    hosts = [f"host-{i:02d}" for i in range(9)]
    _hosts_on_threads(console, block, rng.sample(hosts, len(hosts)), 5, step)
    expected = io.StringIO()
    plain = Console(file=expected, width=COLUMNS, color_system=None, highlight=False, markup=False, emoji=False)
    for lines in printed:
        plain.print(text(lines))
    assert _replayed(terminal.getvalue()) == [line.rstrip() for line in expected.getvalue().splitlines()]


@pytest.mark.parametrize("seed", range(6))
def test_commands_said_under_vv_land_above_the_region_whole(seed: int) -> None:
    """-vv on a terminal: each command and its output (lines that wrap, a tab, a control character) is said
    above the region from the hosts' threads while blocks print: every piece whole in the scrollback."""
    rng = random.Random(seed)
    terminal = _Terminal()
    console = _console(terminal)
    pieces: list[str] = []
    lock = threading.Lock()

    def block(result: _Result, out: Console) -> None:
        lines = f"{result.name}  changed\n  changed  install docker-ce"
        with lock:
            pieces.append(lines)
        out.print(text(lines))

    def step(live: progress.Progress, host: str, k: int) -> None:
        time.sleep(rng.random() * 0.02)
        said = f"{host}: rc=0 step {k}\n\tout {k} " + "z" * rng.randrange(0, 90) + "\x1b[2J"
        with lock:
            pieces.append(said)
        live.say(said)
        live(events.Event(events.STEP, host, name=f"step {k}", status="started"))

    _hosts_on_threads(console, block, [f"host-{i:02d}" for i in range(6)], 4, step)
    shown = _replayed(terminal.getvalue())

    def rendered(piece: str) -> list[str]:  # as the terminal wraps it, alone
        return _replayed(visible(piece) + "\n")

    remaining = [rendered(p) for p in pieces]
    at = 0
    while at < len(shown):  # each position starts one of the pieces said, whole
        match = next((r for r in remaining if shown[at : at + len(r)] == r), None)
        assert match is not None, f"line {at} is no piece's start: {shown[at - 2 : at + 3]}"
        remaining.remove(match)
        at += len(match)
    assert not remaining, f"{len(remaining)} piece(s) missing from the scrollback"


@pytest.mark.parametrize("seed", range(6))
def test_a_terminal_resized_while_hosts_work_keeps_every_block_and_no_progress(seed: int) -> None:
    """The terminal narrowed and widened again mid-run (as SIGWINCH tells rich): the region is erased by the
    rows it was drawn at, its lines cut to the width (one row each), the blocks whole."""
    rng = random.Random(seed)
    terminal = _Terminal()
    console = Console(file=terminal, force_terminal=True, width=80, height=LINES, color_system=None,
                      highlight=False, markup=False, emoji=False)  # fmt: skip
    printed: list[str] = []
    resizes: list[tuple[int, int]] = []  # (offset in the bytes written, the new width)

    def block(result: _Result, out: Console) -> None:
        lines = f"{result.name}  changed\n  changed  install docker-ce"  # narrower than any width used
        printed.append(lines)
        out.print(text(lines))

    def step(live: progress.Progress, host: str, k: int) -> None:
        time.sleep(rng.random() * 0.02)
        live(events.Event(events.STEP, host, name=f"step {k} " + "w" * rng.randrange(30, 110), status="started"))
        if k == 1 and host in ("host-02", "host-05"):
            with live._printing:  # the resize lands between two writes, as a signal's handler would
                width = rng.choice([40, 52, 100]) if host == "host-02" else rng.choice([60, 80])
                console.size = (width, LINES)
                resizes.append((len(terminal.getvalue()), width))
        time.sleep(0.26 * rng.random())  # ticks at the new size

    _hosts_on_threads(console, block, [f"host-{i:02d}" for i in range(8)], 4, step)
    written = terminal.getvalue()
    screen = pyte.HistoryScreen(80, LINES, history=10_000)
    screen.set_mode(pyte.modes.LNM)
    stream = pyte.Stream(screen)
    at = 0
    for offset, width in resizes:
        stream.feed(written[at:offset])
        screen.resize(LINES, width)
        at = offset
    stream.feed(written[at:])
    shown = ["".join(row[x].data for x in sorted(row)).rstrip() for row in screen.history.top]
    shown += [row.rstrip() for row in screen.display]
    while shown and not shown[-1]:
        shown.pop()
    assert len(resizes) == 2
    assert shown == [line for lines in printed for line in lines.splitlines()]
