"""`pyinstall exec`: one command on every selected host, as Ansible's ad hoc `shell` module or `pyinfra
INVENTORY exec` run it: ``forks`` hosts at a time, as the become user when asked, each host's exit status
and output kept.

    Target ─▶ connect ─▶ Session.run(COMMAND, lines=...) ─▶ HostCommand (rc, stdout, stderr) ─▶ report

A command that exits non-zero fails its host (exit status 2); a host not reached is unreachable (4). The
output is the command's own: what a login shell or sudo prints around it is not (connection.py's frame),
and every password pyinstall knows is masked (events.clean).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from installer import connection, events
from installer.connection import Target
from installer.errors import HostError, Unreachable
from installer.fleet import FORKS, Fleet
from installer.outcome import HostResult, Status
from installer.preflight import Connect

COMMAND_TIMEOUT = 600.0

# (host, stream, line): each line as the command prints it, for --stream.
LineSink = Callable[[str, str, str], None]


@dataclass
class HostCommand(HostResult):
    rc: int | None = None  # None: the command did not run to its end (unreachable, timed out)
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "rc": self.rc, "stdout": self.stdout, "stderr": self.stderr,
                               "seconds": round(self.seconds, 3)}  # fmt: skip
        if self.error:
            out["error"], out["hint"] = self.error, self.hint
        return out


def run_host(
    target: Target,
    command: str,
    timeout: float = COMMAND_TIMEOUT,
    connect: Connect = connection.connect,
    lines: LineSink | None = None,
    stop: threading.Event | None = None,
) -> HostCommand:
    start = time.monotonic()
    name = target.name
    each = (lambda stream, line: lines(name, stream, events.clean(line))) if lines else None
    try:
        with connect(target) as session:
            session.stop = stop
            events.before_change()  # the operator's command may change the host: the run is kept first
            done = session.run(command, timeout=timeout, what="the command", lines=each)
    except Unreachable as exc:
        return HostCommand(name, Status.UNREACHABLE, error=exc.message, hint=exc.hint,
                           seconds=time.monotonic() - start)  # fmt: skip
    except HostError as exc:  # reached, but sudo refused, the command hung or printed too much
        return HostCommand(name, Status.FAILED, error=exc.message, hint=exc.hint, seconds=time.monotonic() - start)
    status = Status.OK if done.rc == 0 else Status.FAILED
    error = "" if done.rc == 0 else f"the command exited with status {done.rc}"
    return HostCommand(name, status, error=error, rc=done.rc, stdout=events.clean(done.stdout),
                       stderr=events.clean(done.stderr), seconds=done.duration)  # fmt: skip


def run(
    hosts: Sequence[Target],
    command: str,
    forks: int = FORKS,
    timeout: float = COMMAND_TIMEOUT,
    connect: Connect = connection.connect,
    lines: LineSink | None = None,
) -> list[HostCommand]:
    """The command on every host, ``forks`` at a time; results in inventory order."""
    fleet: Fleet[Target, HostCommand] = Fleet(
        work=lambda target, stop: run_host(target, command, timeout, connect, lines, stop),
        not_attempted=lambda target, why: HostCommand(target.name, Status.SKIPPED, error=why),
        interrupted=lambda target: HostCommand(target.name, Status.INTERRUPTED, error="interrupted twice"),
        name=lambda target: target.name,
    )
    return fleet.run(hosts, forks)
