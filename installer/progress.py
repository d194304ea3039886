"""Live progress on a terminal: one line per host in flight (its current step, for how long) and the
fleet's counts, redrawn in place below the output; a batch's heading and, for provision, each host's
block printed above as soon as that host is done.

    events ─▶ Progress (a sink) ─▶ rich Live on the operator's terminal
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from installer import events
from installer.terminal import text


class Progress:
    def __init__(self, console: Console, block: Callable[[Any, Console], None] | None = None) -> None:
        self.console, self.block = console, block
        self.total = 0
        self.in_flight: dict[str, tuple[str, float]] = {}  # host: (current step, since)
        self.done: Counter[str] = Counter()
        self._lock = threading.Lock()
        # Every write to the terminal under one lock, this class's own: each erases the live region by the height
        # it was last drawn at, then draws it again. rich's own refresh thread renders and writes outside the lock
        # its prints take, so a region drawn from older state could land after a newer one, and the next erase
        # took a line of the output with it (a task line lost, a progress line left inside a host's block).
        self._printing = threading.Lock()
        self._stopped = threading.Event()
        self._live = Live(console=console, auto_refresh=False, transient=True, get_renderable=self._render)
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)

    def __enter__(self) -> Progress:
        with self._printing:
            self._live.start()
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._ticker.join()
        with self._printing:
            self._live.stop()

    def _tick(self) -> None:
        """The region drawn again 4 times a second: the steps' clocks move, a step's change shows."""
        while not self._stopped.wait(0.25):
            with self._printing:
                self._live.refresh()

    def __call__(self, event: events.Event) -> None:
        # State changes under our lock; printing after it, as rich's refresh thread takes its own lock and
        # then ours (to render): holding ours while printing could deadlock.
        with self._lock:
            if event.kind == events.RUN:
                self.total += int(event.status)
            elif event.kind == events.HOST and event.status == "started":
                self.in_flight[event.host] = ("connecting", time.monotonic())
            elif event.kind == events.HOST:
                self.in_flight.pop(event.host, None)
                self.done[event.status] += 1
            elif event.kind == events.STEP and event.host in self.in_flight:
                self.in_flight[event.host] = (event.name, self.in_flight[event.host][1])
        # A step's change shows at the next tick, and each print redraws the region itself.
        with self._printing:
            if event.kind == events.BATCH:
                self._live.console.print(text(("\n" + event.name, "bold")))
            elif event.kind == events.HOST and event.result is not None and self.block is not None:
                self.block(event.result, self._live.console)

    def say(self, line: str) -> None:
        """A line above the region (-vv's commands, when stderr is this terminal too): written under the
        lock like every other, so that the region's next erasure counts it."""
        with self._printing:
            self._live.console.print(text(line), soft_wrap=True)

    def _render(self) -> Group:
        with self._lock:
            now = time.monotonic()
            # One row per line, cut to the terminal's width: a terminal that reflows on a resize then keeps the
            # region as tall as it was drawn, and the next erasure takes the region and nothing above it.
            lines = [
                text(f"  {host}  ", (step, "cyan"), (f"  {now - since:.0f}s", "dim"))
                for host, (step, since) in sorted(self.in_flight.items())
            ]
            for line in lines:
                line.no_wrap, line.overflow = True, "ellipsis"
            counts = ", ".join(f"{n} {status}" for status, n in sorted(self.done.items()))
            remaining = self.total - sum(self.done.values()) - len(self.in_flight)
            summary = f"{sum(self.done.values())}/{self.total} done" + (f" ({counts})" if counts else "")
            summary += f", {len(self.in_flight)} working, {max(remaining, 0)} to go"
            return Group(*lines, Text(summary, style="bold", no_wrap=True, overflow="ellipsis"))
