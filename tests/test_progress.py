"""The live progress region on a terminal (installer/progress.py), without hosts: hosts finish in a random
order on threads of their own, each printing its block above the region, and the bytes are replayed through a
terminal emulator (pyte): the scrollback must hold every block whole, in the order printed, and nothing else.
Through a real pty with lab hosts: tests/test_progress_lab.py."""

from __future__ import annotations

import io
import random
import threading
import time

import pyte
import pytest
from rich.console import Console

from installer import events, progress
from installer.terminal import text

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


@pytest.mark.parametrize("seed", range(12))
def test_blocks_printed_from_many_threads_are_whole_in_the_scrollback(seed: int) -> None:
    rng = random.Random(seed)
    terminal = _Terminal()
    console = Console(file=terminal, force_terminal=True, width=COLUMNS, height=LINES, color_system=None,
                      highlight=False, markup=False, emoji=False)  # fmt: skip
    printed: list[str] = []

    def block(result: _Result, out: Console) -> None:
        # Lines wider than the terminal wrap: the region's height must count them as drawn.
        lines = [f"{result.name}  changed"] + [f"  changed  step {k} " + "x" * (k * 15) for k in range(5)]
        printed.append("\n".join(lines))
        out.print(text("\n".join(lines)))

    hosts = [f"host-{i:02d}" for i in range(9)]
    with progress.Progress(console, block) as live:
        live(events.Event(events.RUN, status=str(len(hosts))))

        def work(host: str) -> None:
            live(events.Event(events.HOST, host, status="started"))
            for k in range(5):
                time.sleep(rng.random() * 0.03)
                live(events.Event(events.STEP, host, name=f"step {k} " + "y" * (k * 20), status="started"))
            live(events.Event(events.HOST, host, status="changed", result=_Result(host)))

        threads = [threading.Thread(target=work, args=(h,)) for h in rng.sample(hosts, len(hosts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    expected = io.StringIO()
    plain = Console(file=expected, width=COLUMNS, color_system=None, highlight=False, markup=False, emoji=False)
    for lines in printed:
        plain.print(text(lines))
    assert _replayed(terminal.getvalue()) == [line.rstrip() for line in expected.getvalue().splitlines()]
