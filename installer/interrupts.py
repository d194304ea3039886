"""Ctrl-C wherever a run waits: every place a host-changing run may wait, and what ending each wait leaves.

    Fleet (Ctrl-C) ─▶ stop.set() ─▶ Session.run / put_file / run_detached notice it within POLL seconds
                   ─▶ Interrupted ─▶ the step reported interrupted, the later ones not started
                   ─▶ the report, the retry file, exit 130

The CLI's first Ctrl-C sets the run's stop event (installer/fleet.py); every wait below looks at it at
least every POLL seconds, so the whole run ends within about a second. A second Ctrl-C gives up on the
hosts still answering (fleet.py).
"""

from __future__ import annotations

import threading

from installer.errors import PyinstallError

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
        raise Interrupted(f"interrupted (Ctrl-C) while waiting for {waiting_for}")
