"""Provision: per host, in parallel, the whole pipeline.

    connect ─▶ facts (PROVISION_SCRIPT, one round trip) ─▶ preflight checks ─▶ desired ─▶ plan
            ─▶ execute (or report, in check mode) ─▶ validate `docker info` ─▶ HostRun

A host that fails preflight is left untouched; the others carry on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from installer import checks, connection, docker_info, facts, rollout, runtime
from installer.checks import Finding, Wanted
from installer.connection import Session, Target
from installer.errors import OUTCOME_UNKNOWN, HostError, UsageError
from installer.executor import CHANGED, FAILED, OK, UNKNOWN, TaskResult, execute
from installer.plan import WAIT_FOR_DAEMON, plan
from installer.preflight import FORKS, Connect, gather_facts
from installer.validate import Expected, validate

UNREACHABLE, SKIPPED, INTERRUPTED = "unreachable", "skipped", "interrupted"
NOT_ATTEMPTED_INTERRUPTED = "not attempted: the run was interrupted (Ctrl-C)"


@dataclass
class HostRun:
    name: str
    status: str = OK  # ok | changed | failed | unreachable
    tasks: list[TaskResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    hint: str = ""
    commands: int = 0
    info: dict[str, Any] | None = None  # the validated `docker info`

    def count(self, status: str) -> int:
        return sum(t.status == status for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "ok": self.count(OK),
            "changed": self.count(CHANGED),
            "failed": self.count(FAILED),
            "tasks": [t.to_dict() for t in self.tasks],
            "findings": [f.to_dict() for f in self.findings],
            "error": self.error or None,
            "hint": self.hint or None,
            "commands": self.commands,
            "docker_info": self.info,
        }


def _validate(
    session: Session | None, gathered: facts.Facts, desired: runtime.Desired, changed: bool
) -> tuple[TaskResult, list[Finding]]:
    """The daemon answers as asked (validate's rules). Reuses the facts' answer if nothing changed."""
    text = gathered.docker_info or ""
    if changed and session is not None:
        text = session.run(f"{WAIT_FOR_DAEMON}; docker info 2>&1", timeout=60).stdout
    info = docker_info.parse(text)
    findings = validate(info, Expected(storage_driver=desired.storage_driver, version=desired.version))
    errors = [f for f in findings if f.level == checks.ERROR]
    result = TaskResult("validate docker info", FAILED if errors else OK, stdout=text)
    if errors:
        result.msg = "; ".join(f"{f.code}: {f.message}" for f in errors)
    else:
        result.msg = f"Docker {info.server_version}, storage driver {info.storage_driver}"
    return result, findings


def provision_host(
    target: Target,
    hostvars: dict[str, Any],
    ignore: Sequence[str] = (),
    check: bool = False,
    connect: Connect = connection.connect,
    bundles: dict[str, Any] | None = None,
    stop: threading.Event | None = None,
) -> HostRun:
    run = HostRun(target.name)
    if stop is not None and stop.is_set():
        return HostRun(target.name, SKIPPED, error=NOT_ATTEMPTED_INTERRUPTED, hint="run again: it converges")
    try:
        with connect(target) as session:
            try:
                _pipeline(run, session, hostvars, ignore, check, bundles or {}, stop)
            finally:
                run.commands = session.commands_run
    except OUTCOME_UNKNOWN as exc:
        run.status, run.error, run.hint = UNREACHABLE, exc.message, exc.hint
    except HostError as exc:
        run.status, run.error, run.hint = FAILED, exc.message, exc.hint
    return run


def _pipeline(
    run: HostRun,
    session: Session,
    hostvars: dict[str, Any],
    ignore: Sequence[str],
    check: bool,
    bundles: dict,
    stop: threading.Event | None = None,
) -> None:
    gathered = gather_facts(session, script=facts.PROVISION_SCRIPT)
    run.findings = checks.run_checks(gathered, Wanted.from_vars(hostvars, ignore))
    if not checks.passed(run.findings):
        first = next(f for f in run.findings if f.level == checks.ERROR)
        run.status, run.error, run.hint = FAILED, f"preflight: {first.code}: {first.message}", first.hint
        return  # untouched
    platform = f"el{checks.platform(gathered)}"
    if platform in bundles and session.target_user != "root":
        run.status = FAILED
        run.error = f"offline bundles are pushed over SFTP into {bundles[platform].remote_dir}: that needs a root login"
        run.hint = "connect as root for the bundle run (ansible_user=root), or serve the RPMs from a yum_mirror"
        return
    try:
        driver = checks.default_storage_driver(gathered)
        desired = runtime.desired(platform, hostvars, driver, bundles.get(platform))
        steps = plan(gathered, desired)
    except UsageError as exc:
        run.status, run.error, run.hint = FAILED, exc.message, exc.hint
        return
    run.tasks = execute(None if check else session, steps, check=check, stop=stop)
    lost = next((t for t in run.tasks if t.status == UNKNOWN), None)
    if lost:  # the steps before it are done; it may be; the ones after it did not start
        run.status, run.error, run.hint = UNREACHABLE, f"{lost.name}: {lost.msg}", lost.hint
        return
    if any(t.status == FAILED for t in run.tasks):
        run.status = FAILED
        return
    if any(t.status == SKIPPED for t in run.tasks):
        run.status = INTERRUPTED
        return
    if check:
        run.status = CHANGED if steps else OK
        return
    validation, daemon_findings = _validate(session, gathered, desired, changed=bool(steps))
    run.tasks.append(validation)
    run.findings += daemon_findings
    info = docker_info.parse(validation.stdout)
    run.info = {k: v for k, v in info.to_dict().items() if k != "sections"}
    if validation.status == FAILED:
        run.status = FAILED
    else:
        run.status = CHANGED if steps else OK


def _wait(future: Any, name: str) -> HostRun:
    """An in-flight host's result after Ctrl-C (a second Ctrl-C gives up waiting)."""
    try:
        return future.result()
    except KeyboardInterrupt:
        return HostRun(name, INTERRUPTED, error="interrupted twice: the host's last step may be unfinished")


def run(
    hosts: Sequence[tuple[Target, dict[str, Any]]],
    ignore: Sequence[str] = (),
    check: bool = False,
    forks: int = FORKS,
    connect: Connect = connection.connect,
    bundles: dict[str, Any] | None = None,
    serial: Sequence[int | float] | None = None,
    max_fail_percentage: float | None = None,
) -> list[HostRun]:
    """Provision every host, batch after batch (``serial``), ``forks`` at a time within a batch. When a
    batch exceeds the failure budget, later batches are not started: their hosts come back "skipped".
    ``bundles``: platform -> offline Bundle to install from."""
    runs: list[HostRun] = []
    groups = rollout.batches(hosts, serial)
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts) or 1))) as pool:
        for number, batch in enumerate(groups, 1):
            futures = [pool.submit(provision_host, t, v, ignore, check, connect, bundles, stop) for t, v in batch]
            try:
                done = [f.result() for f in futures]
            except KeyboardInterrupt:
                # Ctrl-C: start nothing new; hosts in flight finish their current step (and restart a
                # daemon whose configuration already changed), then report.
                stop.set()
                done = [_wait(f, target.name) for f, (target, _) in zip(futures, batch)]
                runs += done
                runs += [HostRun(t.name, SKIPPED, error=NOT_ATTEMPTED_INTERRUPTED, hint="run again: it converges")
                         for later in groups[number:] for t, _ in later]  # fmt: skip
                break
            runs += done
            failed = sum(r.status in (FAILED, UNREACHABLE) for r in done)
            if number < len(groups) and rollout.budget_exceeded(failed, len(batch), max_fail_percentage):
                reason = f"not attempted: batch {number} of {len(groups)} had {failed} of {len(batch)} hosts fail"
                if max_fail_percentage is not None:
                    reason += f", more than --max-fail-percentage {max_fail_percentage:g}"
                runs += [HostRun(t.name, SKIPPED, error=reason, hint="fix the failed hosts, then run again")
                         for later in groups[number:] for t, _ in later]  # fmt: skip
                break
    return runs
