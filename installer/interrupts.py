"""Ctrl-C wherever a run waits: every place a host-changing run may wait, and what ending each wait leaves;
and the one signal policy: SIGINT (Ctrl-C) and SIGTERM (a CI job cancelled, `timeout`, Kubernetes, a
container's PID 1) both stop a run that way, exit 130 and 143.

    install() ─▶ SIGINT/SIGTERM ─▶ KeyboardInterrupt in the main thread ─▶ Fleet ─▶ stop.set()
              ─▶ Session.run / put_file / run_detached notice it within POLL seconds; verify's workers
                 are told (WORKER_STOP)
              ─▶ Interrupted ─▶ the step reported interrupted, the later ones not started
              ─▶ the report, the retry file, exit 130 (143 for SIGTERM)

The first signal sets the run's stop event (installer/fleet.py); every wait below looks at it at least
every POLL seconds, so the whole run ends within about a second. A second signal gives up on the hosts
still answering (fleet.py), and ends verify's worker processes.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from installer.errors import PyinstallError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
WORKER_STOP = signal.SIGUSR1  # how the run tells its worker processes (verify) to stop, once
received: int | None = None  # the signal that stopped this run
signals = 0  # how many came: a second gives up waiting

POLL = 0.2  # seconds between two looks at the stop event while waiting

# Where a run waits, and what it leaves when Ctrl-C ends the wait. Each has a lab test
# (tests/test_interrupt_lab.py: WAITS' keys).
WAITS = {
    "yum lock": "a yum transaction waiting for another yum's lock (in its job on the host): the job is "
    "killed before yum starts; nothing changed",
    "job poll": "a yum transaction running (its job on the host): left to finish there; the next run "
    "waits for it (JOB_RUNNING) and then checks the packages afresh",
    "daemon start": "the wait for a started daemon to answer: the start was sent and goes on; the next "
    "run finds the daemon as it came up",
    "upload": "an offline bundle's upload: it stops at once; the next run resumes it where it stopped",
    "reconnect window": "a host that went away during a transaction, waited for: the waiting stops; the "
    "next run finds the transaction as it ended",
}


class Interrupted(PyinstallError):
    """Ctrl-C ended a wait."""

    hint = "run again: it converges"


def check(stop: threading.Event | None, waiting_for: str) -> None:
    """Raise Interrupted when the run was stopped while ``waiting_for`` (one of WAITS, or a command)."""
    if stop is not None and stop.is_set():
        raise Interrupted(f"interrupted ({by()}) while waiting for {waiting_for}")


def install() -> Callable[[], None]:
    """Before any worker starts: SIGINT and SIGTERM raise KeyboardInterrupt in the main thread, SIGINT
    included when it was inherited ignored (a shell's background job); returns what puts back the
    handlers found. Only the main thread may install handlers: elsewhere (a test) nothing changes."""
    global received, signals
    received, signals = None, 0
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stopped)

    def restore() -> None:
        for sig, handler in before.items():
            signal.signal(sig, handler)

    return restore


def _stopped(signum: int, _frame: FrameType | None) -> Any:
    global received, signals
    received, signals = received or signum, signals + 1
    raise KeyboardInterrupt


def by() -> str:
    """What stopped the run, as messages say it."""
    return "Ctrl-C" if received in (None, signal.SIGINT) else signal.Signals(received).name


def exit_status() -> int:
    """128 + the signal, as a shell reports a process a signal ended: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + (received or signal.SIGINT)


def in_worker() -> None:
    """A worker process stops when its run says so: the terminal's SIGINT is ignored here (the run
    forwards it), and WORKER_STOP raises KeyboardInterrupt once (a second would break its report). SIGTERM
    keeps ending it, so the pool can always be shut down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def stop(signum: int, _frame: FrameType | None) -> Any:
        global received
        received = signum
        signal.signal(WORKER_STOP, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(WORKER_STOP, stop)
