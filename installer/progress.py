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
        # One print at a time: each erases the live region by the height it was last drawn at, then draws it
        # again; two hosts' blocks printed at once both erased the one region, and a line of the output with it.
        self._printing = threading.Lock()
        self._live = Live(console=console, refresh_per_second=4, transient=True, get_renderable=self._render)

    def __enter__(self) -> Progress:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()

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
        # A step's change shows at the next refresh (4 a second) and each print redraws the region itself: a
        # redraw per event, serialised with the prints, only cost time (tests/test_progress.py ran 7x longer).
        with self._printing:
            if event.kind == events.BATCH:
                self._live.console.print(text(("\n" + event.name, "bold")))
            elif event.kind == events.HOST and event.result is not None and self.block is not None:
                self.block(event.result, self._live.console)

    def _render(self) -> Group:
        with self._lock:
            now = time.monotonic()
            lines = [
                text(f"  {host}  ", (step, "cyan"), (f"  {now - since:.0f}s", "dim"))
                for host, (step, since) in sorted(self.in_flight.items())
            ]
            counts = ", ".join(f"{n} {status}" for status, n in sorted(self.done.items()))
            remaining = self.total - sum(self.done.values()) - len(self.in_flight)
            summary = f"{sum(self.done.values())}/{self.total} done" + (f" ({counts})" if counts else "")
            summary += f", {len(self.in_flight)} working, {max(remaining, 0)} to go"
            return Group(*lines, Text(summary, style="bold"))
