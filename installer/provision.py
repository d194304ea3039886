"""Provision: per host, in parallel, the whole pipeline.

    connect ─▶ examine (PROVISION_SCRIPT, and the version resolved: the same facts and checks as `check`)
            ─▶ desired ─▶ plan ─▶ execute (or report, in check mode) ─▶ validate `docker info` ─▶ HostRun

A host that fails preflight is left untouched; the others carry on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from installer import checks, connection, docker_info, facts, probe, runtime
from installer.asked import Asked
from installer.connection import Session, Target
from installer.errors import OUTCOME_UNKNOWN, HostError
from installer.executor import TaskResult, execute
from installer.fleet import FORKS, NOT_ATTEMPTED_INTERRUPTED, Fleet
from installer.outcome import Finding, Level, Status, passed
from installer.plan import plan, tagged, wait_for_daemon, wanted
from installer.preflight import Answers, Connect, examine
from installer.validate import expected, validate

__all__ = ["NOT_ATTEMPTED_INTERRUPTED", "HostRun", "provision_host", "run"]


@dataclass
class HostRun:
    name: str
    status: Status = Status.OK  # ok | changed | failed | unreachable | skipped | interrupted
    tasks: list[TaskResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    hint: str = ""
    commands: int = 0
    info: dict[str, Any] | None = None  # the validated `docker info`
    failed_finding: Finding | None = None  # the preflight error that stopped it, if one did
    noise: list[str] = field(default_factory=list)  # what the host printed outside pyinstall's frames

    def count(self, status: Status) -> int:
        return sum(t.status == status for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "ok": self.count(Status.OK),
            "changed": self.count(Status.CHANGED),
            "failed": self.count(Status.FAILED),
            "tasks": [t.to_dict() for t in self.tasks],
            "findings": [f.to_dict() for f in self.findings],
            "error": self.error or None,
            "hint": self.hint or None,
            "commands": self.commands,
            "docker_info": self.info,
        }


def _validate(
    session: Session | None, gathered: facts.Facts, s: checks.Subject, desired: runtime.Desired, changed: bool
) -> tuple[TaskResult, list[Finding], docker_info.DockerInfo]:
    """The daemon answers as asked (validate's rules). Reuses the facts' answer if nothing changed."""
    text = gathered.docker_info or ""
    info = gathered.daemon() or docker_info.parse("")
    if changed and session is not None:
        text = session.run(f"{wait_for_daemon(desired.platform.service)}; docker info 2>&1", timeout=60).stdout
        info = docker_info.parse(text)
    findings = validate(info, expected(s))
    errors = [f for f in findings if f.level == Level.ERROR]
    result = TaskResult("validate docker info", Status.FAILED if errors else Status.OK, stdout=text)
    if errors:
        result.msg = "; ".join(f"{f.code}: {f.message}" for f in errors)
    else:
        result.msg = f"Docker {info.server_version}, storage driver {info.storage_driver}"
    return result, findings, info


def provision_host(
    target: Target,
    asked: Asked,
    check: bool = False,
    connect: Connect = connection.connect,
    stop: threading.Event | None = None,
    tags: frozenset[str] | None = None,
    skip_tags: frozenset[str] = frozenset(),
    answers: Answers | None = None,
) -> HostRun:
    return on_host(target, connect, stop, lambda run, session: _pipeline(run, session, asked, check, stop, tags,
                                                                          skip_tags, answers))  # fmt: skip


def on_host(
    target: Target, connect: Connect, stop: threading.Event | None, pipeline: Callable[[HostRun, Session], None]
) -> HostRun:
    """One host's pipeline over one session (provision's and remove's): not started after Ctrl-C, and a
    lost connection or a host error becomes the host's outcome."""
    run = HostRun(target.name)
    if stop is not None and stop.is_set():
        return HostRun(target.name, Status.SKIPPED, error=NOT_ATTEMPTED_INTERRUPTED, hint="run again: it converges")
    try:
        with connect(target) as session:
            try:
                pipeline(run, session)
            finally:
                run.commands, run.noise = session.commands_run, session.noise
    except OUTCOME_UNKNOWN as exc:
        run.status, run.error, run.hint = Status.UNREACHABLE, exc.message, exc.hint
    except HostError as exc:
        run.status, run.error, run.hint = Status.FAILED, exc.message, exc.hint
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
    elif any(t.status == Status.SKIPPED for t in run.tasks):
        run.status = Status.INTERRUPTED
    else:
        return False
    return True


def _pipeline(
    run: HostRun,
    session: Session,
    asked: Asked,
    check: bool,
    stop: threading.Event | None,
    tags: frozenset[str] | None = None,
    skip_tags: frozenset[str] = frozenset(),
    answers: Answers | None = None,
) -> None:
    gathered, run.findings = examine(session, asked, facts.script(provision=True), answers)
    if not passed(run.findings):
        first = next(f for f in run.findings if f.level == Level.ERROR)
        run.status, run.failed_finding = Status.FAILED, first
        run.error, run.hint = f"preflight: {first.code}: {first.message}", first.hint
        return  # untouched
    s = checks.subject(gathered, asked)
    if s.platform is None or s.channel is None or s.storage_driver is None:  # refused above, unless ignored
        run.status, run.error = Status.FAILED, "no platform, channel or storage driver for this host"
        run.hint = "the OS and PACKAGE findings cannot be ignored for provisioning"
        return
    try:
        desired = runtime.desired(s.platform, s.channel, asked, s.storage_driver, s.version or "")
    except runtime.PlanError as exc:  # an ignored refusal that still cannot be written
        run.status, run.error, run.hint = Status.FAILED, exc.message, exc.hint
        return
    steps = tagged(plan(gathered, desired), tags, skip_tags)
    run.tasks = execute(None if check else session, steps, check=check, stop=stop)
    if settled(run):
        return
    if check or not wanted("validate", tags, skip_tags):
        run.status = Status.CHANGED if steps else Status.OK
        return
    validation, daemon_findings, info = _validate(session, gathered, s, desired, changed=bool(steps))
    run.tasks.append(validation)
    run.findings += daemon_findings
    run.info = {k: v for k, v in info.to_dict().items() if k != "sections"}
    if validation.status != Status.FAILED and steps:  # something changed: prove it still runs containers
        run.tasks.append(_run_a_container(session))
    failed = any(t.status == Status.FAILED for t in run.tasks)
    run.status = Status.FAILED if failed else Status.CHANGED if steps else Status.OK


def _run_a_container(session: Session) -> TaskResult:
    """The container check (installer/probe.py), after a change: a daemon that answers `docker info` but
    cannot run a container fails here, and under --serial stops the rollout before the next batch."""
    command, token = probe.command()
    ran = session.run(command, timeout=120)
    said = ran.stdout.strip()
    if ran.ok and said == token:
        return TaskResult("run a container", Status.OK, msg=f"{probe.image()} ran and was removed")
    why = (ran.stderr or said).strip().splitlines()[-1:] or ["no output"]
    hint = "read the daemon's log (journalctl -u docker, /var/log/docker)"
    return TaskResult("run a container", Status.FAILED, msg=f"the container did not run: {why[0]}", hint=hint,
                      stderr=ran.stderr)  # fmt: skip


def run(
    hosts: Sequence[tuple[Target, Asked]],
    check: bool = False,
    forks: int = FORKS,
    connect: Connect = connection.connect,
    serial: Sequence[int | float] | None = None,
    max_fail_percentage: float | None = None,
    tags: frozenset[str] | None = None,
    skip_tags: frozenset[str] = frozenset(),
    gate: Callable[[list[HostRun]], str | None] | None = None,
) -> list[HostRun]:
    """Provision every host, batch after batch (``serial``), ``forks`` at a time within a batch. When a
    batch exceeds the failure budget (or ``gate`` says the rollout's is), later batches are not started:
    their hosts come back "skipped"."""
    answers = Answers()
    work = lambda host, stop: provision_host(host[0], host[1], check, connect, stop, tags, skip_tags, answers)  # noqa: E731
    return roll_out(hosts, work, forks, serial, max_fail_percentage, gate)


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
        why=lambda r: r.error,
    )
    return fleet.run(hosts, forks, serial, max_fail_percentage, gate)
