"""Provision: per host, in parallel, the whole pipeline.

    connect ─▶ examine (PROVISION_SCRIPT, and the version resolved: the same facts and checks as `check`)
            ─▶ desired ─▶ plan ─▶ execute (or report, in check mode) ─▶ validate `docker info` ─▶ HostRun

A host that fails preflight is left untouched; the others carry on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from installer import checks, connection, docker_info, facts, hooks, migration, probe, runtime
from installer.asked import Asked
from installer.connection import Session, Target
from installer.executor import TaskResult, execute
from installer.fleet import FORKS
from installer.host_run import HostRun, on_host, roll_out, settled
from installer.outcome import Finding, Level, Status
from installer.plan import plan, tagged, wait_for_daemon, wanted
from installer.preflight import Answers, Connect, examine, facts_script
from installer.validate import expected, validate

__all__ = ["HostRun", "provision_host", "run"]


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
        result.msg = "; ".join(map(str, errors))
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
    gathered, run.findings = examine(session, asked, facts_script(asked, provision=True), answers)
    first = run.first_error
    if first is not None:
        run.status, run.failed_finding = Status.FAILED, first
        run.error, run.hint = f"preflight: {first}", first.hint
        return  # untouched
    s = checks.subject(gathered, asked)
    try:
        desired = runtime.desired(s)
    except runtime.NotProvisionable as exc:  # refused above, unless ignored
        run.status, run.error = Status.FAILED, exc.message
        run.hint = "the OS and PACKAGE findings cannot be ignored for provisioning"
        return
    except runtime.PlanError as exc:  # an ignored refusal that still cannot be written
        run.status, run.error, run.hint = Status.FAILED, exc.message, exc.hint
        return
    steps = tagged(plan(gathered, desired), tags, skip_tags)
    moving = migration.plan(s, steps)
    purge = migration.purge(gathered.migration, asked.migration.staging) if asked.migration.purge_old else None
    if purge is not None:
        steps.operations.append(purge)
    if moving is not None:
        run.tasks = migration.execute(None if check else session, moving, check=check, stop=stop)
        steps = moving.plan
        if not check and not settled(run):
            run.migration = migration.report(session)
    else:
        run.tasks = execute(None if check else session, steps, check=check, stop=stop)
    if settled(run):
        return
    if check or not wanted("validate", tags, skip_tags):
        run.status = (Status.WOULD_CHANGE if check else Status.CHANGED) if steps else Status.OK
        return
    began = time.monotonic()
    validation, daemon_findings, info = _validate(session, gathered, s, desired, changed=bool(steps))
    validation.seconds = time.monotonic() - began
    run.tasks.append(validation)
    run.findings += daemon_findings
    run.info = {k: v for k, v in info.to_dict().items() if k != "sections"}
    if validation.status != Status.FAILED and steps:  # something changed: prove it still runs containers
        began = time.monotonic()
        run.tasks.append(_run_a_container(session))
        run.tasks[-1].seconds = time.monotonic() - began
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
    pre_host: str | None = None,
    post_host: str | None = None,
) -> list[HostRun]:
    """Provision every host, batch after batch (``serial``), ``forks`` at a time within a batch. When a
    batch exceeds the failure budget (or ``gate`` says the rollout's is), later batches are not started:
    their hosts come back "skipped". ``pre_host``/``post_host``: the operator's commands around each host
    (installer/hooks.py; not in check mode, which changes nothing)."""
    answers = Answers()
    work = lambda host, stop: provision_host(host[0], host[1], check, connect, stop, tags, skip_tags, answers)  # noqa: E731
    if not check:
        work = hooks.around(work, pre_host, post_host)
    return roll_out(hosts, work, forks, serial, max_fail_percentage, gate)
