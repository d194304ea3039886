"""Run (or, in check mode, only report) a host's plan over its session, with the restart handler and
rollback of a daemon configuration the daemon refuses.

    Plan ─▶ execute() ─▶ [TaskResult]   (ok / changed / failed / skipped, Ansible's protocol)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from threading import Event
from typing import Any

from installer.connection import Session
from installer.plan import DAEMON_LOG, Operation, Plan, q

OK, CHANGED, FAILED, SKIPPED = "ok", "changed", "failed", "skipped"
_URL_SECRET = re.compile(r"(://[^/\s:@]+):[^/\s@]+@")


def mask(text: str) -> str:
    """Hide passwords in URLs (a mirror given as https://user:password@host/...)."""
    return _URL_SECRET.sub(r"\1:********@", text)


@dataclass
class TaskResult:
    name: str
    status: str
    msg: str = ""
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    commands: list[str] = field(default_factory=list)
    diff: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _run(session: Session, op: Operation) -> TaskResult:
    result = TaskResult(op.name, CHANGED, op.why, commands=[mask(c) for c in op.commands], diff=op.diff)
    for i, command in enumerate(op.commands):
        if i == 1 and op.uploads:  # the first command prepares the directories
            sent = sum(session.put_file(Path(local), remote) for local, remote in op.uploads)
            result.msg += f"; sent {sent} bytes"
        done = session.run(command, timeout=op.timeout)
        result.rc, result.stdout, result.stderr = done.rc, mask(done.stdout), mask(done.stderr)
        if not done.ok:
            result.status = FAILED
            result.msg = f"{op.why}; failed with exit status {done.rc}"
            break
    return result


def execute(session: Session | None, plan: Plan, check: bool = False, stop: Event | None = None) -> list[TaskResult]:
    """Apply the plan in order, up to the first failure or until ``stop`` is set (Ctrl-C): the operations
    not started are reported skipped. A daemon whose package or configuration already changed is restarted
    even then, so what runs matches what is on disk. ``check``: report, run nothing."""
    operations = [*plan.operations, *(op for op in (plan.start, plan.restart) if op)]
    if check or session is None:
        return [TaskResult(op.name, CHANGED, op.why, commands=[mask(c) for c in op.commands], diff=op.diff)
                for op in operations]  # fmt: skip
    results: list[TaskResult] = []
    restart_due = complete = False
    for i, op in enumerate(plan.operations):
        if stop is not None and stop.is_set():
            results += [TaskResult(o.name, SKIPPED, "interrupted before it started") for o in plan.operations[i:]]
            break
        results.append(_run(session, op))
        if results[-1].status == FAILED:
            break
        restart_due |= op.restarts
    else:
        complete = True
    service = None
    if plan.start and complete:
        service = plan.start
    elif plan.restart and restart_due:
        service = plan.restart
    if service:
        results.append(_run(session, service))
        if results[-1].status == FAILED:
            config = next((op for op in plan.operations if op.restarts and op.backup), None)
            if config:
                results.append(_rollback(session, config, service, results[-1]))
    return results


def _rollback(session: Session, config: Operation, service: Operation, failure: TaskResult) -> TaskResult:
    """Put the previous daemon configuration back and start the daemon on it again."""
    log = session.run(DAEMON_LOG, timeout=30).stdout.strip()
    path = config.backup.removesuffix(".pyinstall-backup") if config.backup else ""
    restore = f"if [ -f {q(config.backup)} ]; then mv -f {q(config.backup)} {q(path)}; else rm -f {q(path)}; fi"
    restored = session.run(restore, timeout=30)
    again = session.run(service.commands[0], timeout=service.timeout) if restored.ok else restored
    failure.msg = (
        f"the daemon did not start with the new configuration: {failure.stderr.strip() or failure.stdout.strip()}"
    )
    status = "rolled back: previous configuration restored" + (
        " and the daemon runs on it" if again.ok else f", but the daemon still fails: {again.stderr.strip()}"
    )
    return TaskResult(
        f"roll back {path}",
        FAILED,
        f"{status}. Daemon log:\n{log}" if log else status,
        rc=again.rc,
        stdout=again.stdout,
        stderr=again.stderr,
        commands=[restore, service.commands[0]],
    )
