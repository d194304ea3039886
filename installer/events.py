"""What happens during a run, as it happens: batches, hosts starting and finishing, steps, and (for the
debug log) every command and its output. The code that does the work only emits; sinks subscribe.

    fleet / executor / connection ─▶ emit(Event) ─▶ sinks: the plain line stream, the log file

Events carry host text: sinks print it through installer.terminal (or write it as plain lines), never as
markup. Secrets are registered once (``redact``) and removed from every event before any sink sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

RUN, BATCH, HOST, STEP, COMMAND = "run", "batch", "host", "step", "command"


@dataclass(frozen=True)
class Event:
    kind: str  # run | batch | host | step | command
    host: str = ""
    name: str = ""  # the step, or the batch ("batch 1/3: 1 host")
    status: str = ""  # started, or the outcome (ok, changed, failed, unreachable, ...); run: the host count
    detail: str = ""  # a step's message; a command and its output (debug)
    at: float = field(default_factory=time.time)
    result: Any = field(default=None, repr=False, compare=False)  # a host's result, when it is done


Sink = Callable[[Event], None]
_sinks: list[tuple[Sink, bool]] = []  # (sink, wants commands)
_secrets: set[str] = set()
_masked_order: list[str] = []  # the secrets, longest first (see clean)
_lock = threading.Lock()


@contextmanager
def subscribed(sink: Sink, commands: bool = False) -> Iterator[None]:
    """Send events to ``sink`` while the block runs; ``commands``: also every command and its output."""
    with _lock:
        _sinks.append((sink, commands))
    try:
        yield
    finally:
        with _lock:
            if (sink, commands) in _sinks:
                _sinks.remove((sink, commands))


_before_change: list[Callable[[], None]] = []


def hold_changes(wait: Callable[[], None]) -> Callable[[], None]:
    """Make every first change to a host (a step run, a hook) wait for ``wait()`` (the run's record being
    written: a run that changed a host is always listed); returns what lifts it."""
    _before_change.append(wait)
    return lambda: _before_change.remove(wait) if wait in _before_change else None


def before_change() -> None:
    for wait in list(_before_change):
        wait()


def redact(*secrets: str | None) -> None:
    """Never let these values reach a sink (passwords given on the command line or in the inventory)."""
    global _masked_order
    with _lock:
        _secrets.update(s for s in secrets if s)
        _masked_order = sorted(_secrets, key=len, reverse=True)


def wants_commands() -> bool:
    return any(commands for _, commands in _sinks)


def emit(kind: str, host: str = "", name: str = "", status: str = "", detail: str = "", result: Any = None) -> None:
    if not _sinks:
        return
    event = Event(kind, host, clean(name), str(status), clean(detail), result=result)
    with _lock:  # one event at a time: lines from several hosts never interleave
        for entry in list(_sinks):
            sink, commands = entry
            if event.kind == COMMAND and not commands:
                continue
            try:
                sink(event)
            except OSError:  # a closed pipe or a full disk: that sink is gone, the run goes on
                _sinks.remove(entry)


def clean(text: str) -> str:
    """``text`` with every registered secret masked, the longest first: a secret inside another (``pw`` in
    ``pw-2024``) must not leave the rest of the longer one showing."""
    for secret in _masked_order:
        text = text.replace(secret, "********")
    return text


def line(event: Event) -> str:
    """One plain line per event: time, host, what, outcome."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
    if event.kind == RUN:
        return f"{stamp} {event.status} host(s)"
    if event.kind == BATCH:
        return f"{stamp} {event.name}"
    what = f" {event.name}" if event.name else ""
    detail = f" ({event.detail})" if event.detail and event.kind != COMMAND else ""
    return f"{stamp} {event.host}{what}: {event.status}{detail}"
