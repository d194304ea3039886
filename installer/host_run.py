"""What a host-changing command (provision, remove) comes to on one host, and how it goes across the fleet.

Target ─▶ on_host(pipeline): one session, Ctrl-C and lost connections turned into outcomes ─▶ HostRun
[(Target, Asked)] ─▶ roll_out(work): batches (--serial), failure budgets, Ctrl-C ─▶ [HostRun]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from installer.asked import Asked
from installer.connection import Session, Target
from installer.errors import OUTCOME_UNKNOWN, HostError, Unreachable
from installer.executor import TaskResult
from installer.fleet import NOT_ATTEMPTED_INTERRUPTED, Fleet
from installer.interrupts import Interrupted
from installer.outcome import Finding, HostResult, Status

Connect = Callable[[Target], Session]


@dataclass
class HostRun(HostResult):
    """ok | changed | failed | unreachable | skipped | interrupted, with each task's result."""

    tasks: list[TaskResult] = field(default_factory=list)
    commands: int = 0
    info: dict[str, Any] | None = None  # the validated `docker info`
    failed_finding: Finding | None = None  # the preflight error that stopped it, if one did
    noise: list[str] = field(default_factory=list)  # what the host printed outside pyinstall's frames
    migration: dict[str, Any] | None = None  # a storage migration's images kept and containers to recreate

    def count(self, status: Status) -> int:
        return sum(t.status == status for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "ok": self.count(Status.OK),
            "changed": self.count(Status.CHANGED),
            **({"would_change": self.count(Status.WOULD_CHANGE)} if self.count(Status.WOULD_CHANGE) else {}),
            "failed": self.count(Status.FAILED),
            "tasks": [t.to_dict() for t in self.tasks],
            "findings": [f.to_dict() for f in self.findings],
            "error": self.error or None,
            "hint": self.hint or None,
            "commands": self.commands,
            "docker_info": self.info,
            **({"migration": self.migration} if self.migration is not None else {}),
        }


def on_host(
    target: Target, connect: Connect, stop: threading.Event | None, pipeline: Callable[[HostRun, Session], None]
) -> HostRun:
    """One host's pipeline over one session (provision's and remove's): not started after Ctrl-C, and a
    lost connection or a host error becomes the host's outcome."""
    run = HostRun(target.name, Status.OK)
    if stop is not None and stop.is_set():
        return HostRun(target.name, Status.SKIPPED, error=NOT_ATTEMPTED_INTERRUPTED, hint="run again: it converges")
    try:
        with connect(target) as session:
            session.stop = stop
            try:
                pipeline(run, session)
            finally:
                run.commands, run.noise = session.commands_run, session.noise
    except OUTCOME_UNKNOWN as exc:
        if isinstance(exc, Unreachable) or run.tasks:  # a change may have been under way: its outcome unknown
            run.status, run.error, run.hint = Status.UNREACHABLE, exc.message, exc.hint
        else:  # a command hung before anything changed: a failure of the host, as check says it
            run.status, run.error, run.hint = Status.FAILED, f"{exc.code}: {exc.message}", exc.hint
    except Interrupted as exc:  # before the plan ran (the facts, a version query)
        run.status, run.error, run.hint = Status.INTERRUPTED, exc.message, exc.hint
    except HostError as exc:  # reached, but sudo refused, the disk is full...: the code says which
        run.status, run.error, run.hint = Status.FAILED, f"{exc.code}: {exc.message}", exc.hint
    return run


def settled(run: HostRun) -> bool:
    """The host's status from its tasks when one was lost, failed or interrupted (True: it is settled);
    False when every task went through and the caller decides."""
    lost = [t for t in run.tasks if t.status == Status.UNKNOWN]
    if lost:  # the steps before are done; these may be (sent in one round trip); the ones after did not start
        names = ", ".join(t.name for t in lost)
        run.status, run.error, run.hint = Status.UNREACHABLE, f"{names}: {lost[0].msg}", lost[0].hint
    elif any(t.status == Status.FAILED for t in run.tasks):
        run.status = Status.FAILED
    elif any(t.status in (Status.SKIPPED, Status.INTERRUPTED) for t in run.tasks):
        run.status = Status.INTERRUPTED
        said = next((t for t in run.tasks if t.status == Status.INTERRUPTED), None)
        if said is not None:
            run.error, run.hint = f"{said.name}: {said.msg}", said.hint
    else:
        return False
    return True


def roll_out(
    hosts: Sequence[tuple[Target, Asked]],
    work: Callable[[tuple[Target, Asked], threading.Event], HostRun],
    forks: int,
    serial: Sequence[int | float] | None,
    max_fail_percentage: float | None,
    gate: Callable[[list[HostRun]], str | None] | None = None,
) -> list[HostRun]:
    """A host-changing command across the fleet: batches, the failure budgets, Ctrl-C (provision, remove)."""
    fleet: Fleet[tuple[Target, Asked], HostRun] = Fleet(
        work=work,
        not_attempted=lambda host, why: HostRun(
            host[0].name,
            Status.SKIPPED,
            error=why,
            hint="run again: it converges"
            if why == NOT_ATTEMPTED_INTERRUPTED
            else "fix the failed hosts, then run again",
        ),
        interrupted=lambda host: HostRun(
            host[0].name, Status.INTERRUPTED, error="interrupted twice: the host's last step may be unfinished"
        ),
        name=lambda host: host[0].name,
    )
    return fleet.run(hosts, forks, serial, max_fail_percentage, gate)
