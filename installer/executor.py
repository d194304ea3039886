"""Run (or, in check mode, only report) a host's plan over its session, with the restart handler and
rollback of a daemon configuration the daemon refuses.

    Plan ─▶ execute() ─▶ [TaskResult]   (ok / changed / failed / skipped, Ansible's protocol, and unknown:
                                         the connection was lost while the step ran)
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from threading import Event
from typing import Any

from installer import events
from installer.connection import OUTCOME_UNKNOWN_HINT, CommandResult, Session
from installer.errors import (
    OUTCOME_UNKNOWN,
    AuthenticationFailed,
    CommandTimeout,
    HostHung,
    HostKeyError,
    Unreachable,
)
from installer.outcome import Status
from installer.plan import DAEMON_LOG, Operation, Plan, q, wait_for_daemon

OK, CHANGED, FAILED, SKIPPED, UNKNOWN = Status.OK, Status.CHANGED, Status.FAILED, Status.SKIPPED, Status.UNKNOWN
_URL_SECRET = re.compile(r"(://[^/\s:@]+):[^/\s@]+@")


def mask(text: str) -> str:
    """Hide passwords in URLs (a mirror given as https://user:password@host/...)."""
    return _URL_SECRET.sub(r"\1:********@", text)


@dataclass
class TaskResult:
    name: str
    status: Status
    msg: str = ""
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    commands: list[str] = field(default_factory=list)
    diff: str = ""
    hint: str = ""
    log: str = ""  # the daemon's log after a failed start (shown with -v)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


JOBS_DIR = "/var/lib/pyinstall/jobs"
POLL_TIMEOUT = 30.0  # a poll reads two small files: a host that takes longer has stopped answering
REBOOT_WINDOW = 300.0  # seconds a host that dropped the connection mid-job has to come back (EL boots in 1-3 min)


BOOT_ID = "/proc/sys/kernel/random/boot_id"
LOST = -2  # the exit status of a job that died without one (killed, or the host rebooted)


def poll_intervals(first: float = 1.0, longest: float = 8.0) -> Iterator[float]:
    """1 s for the first ten polls (most steps end there), then doubling up to ``longest``."""
    for _ in range(10):
        yield first
    wait = first
    while True:
        wait = min(wait * 2, longest)
        yield wait


def run_detached(session: Session, command: str, timeout: float, poll: float = 1.0) -> CommandResult:
    """Run ``command`` on the host apart from this SSH session (setsid, output to a log, exit status to a
    file) and poll it: a dropped connection no longer kills a yum transaction half way. A job whose
    process is gone without a status, or whose host has booted since (its boot id), is reported lost at
    once. Its status and log are removed only once read. If the connection drops while polling, the job
    carries on: the poll connects again for up to REBOOT_WINDOW seconds (a host that rebooted is then
    told at the first answer), after which the next run's facts find the job."""
    job = f"{JOBS_DIR}/{hashlib.sha256(command.encode()).hexdigest()[:16]}"
    # A subshell, so that an `exit` in the command still records its status; $0 is the job's path.
    wrapped = f'({command}); echo $? > "$0.rc.tmp"; mv "$0.rc.tmp" "$0.rc"'
    launch = (
        f"set -e; umask 077; mkdir -p {JOBS_DIR}; j={q(job)}; "
        'if [ -f "$j.pid" ] && [ ! -f "$j.rc" ] && kill -0 "$(cat "$j.pid")" 2>/dev/null; then '
        'echo "the same transaction from an earlier run is still running (PID $(cat "$j.pid"), log $j.log)" >&2; '
        "exit 3; fi; "
        f'rm -f "$j.rc" "$j.rc.tmp"; cat {BOOT_ID} > "$j.boot" 2>/dev/null || : > "$j.boot"; '
        f'setsid sh -c {q(wrapped)} "$j" < /dev/null > "$j.log" 2>&1 & echo $! > "$j.pid"'
    )
    start = time.monotonic()
    started = session.run(launch, timeout=60)
    if not started.ok:
        return started
    # Alive first, then the status: a job writes its status before it exits, so one that is gone and left
    # none is truly lost (asked the other way round, a job ending in between would look lost).
    check = (
        f'j={q(job)}; alive=; booted=; [ "$(cat "$j.boot")" = "$(cat {BOOT_ID} 2>/dev/null)" ] || booted=1; '
        '[ -z "$booted" ] && kill -0 "$(cat "$j.pid")" 2>/dev/null && alive=1; '
        'if [ -f "$j.rc" ]; then echo done; cat "$j.rc" "$j.log"; elif [ -n "$alive" ]; then echo running; '
        'elif [ -n "$booted" ]; then echo rebooted; tail -n 20 "$j.log"; else echo lost; tail -n 20 "$j.log"; fi'
    )
    waits = poll_intervals(poll)
    down_since: float | None = None
    while time.monotonic() - start < timeout:
        try:
            polled = session.run(check, timeout=POLL_TIMEOUT)
        except CommandTimeout:  # a poll reads two small files: the host itself stopped answering
            raise Unreachable(
                session.target.name,
                f"the host stopped answering (a poll of its transaction got no answer within {POLL_TIMEOUT:g}s)",
                OUTCOME_UNKNOWN_HINT,
            ) from None
        except (HostHung, HostKeyError, AuthenticationFailed):
            raise
        except Unreachable as exc:  # gone (a reboot, a network blip): the job's fate is told once it is back
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since >= REBOOT_WINDOW:
                raise Unreachable(
                    session.target.name,
                    f"the host went away during the transaction and did not come back within "
                    f"{REBOOT_WINDOW:g}s ({exc.message})",
                    OUTCOME_UNKNOWN_HINT,
                ) from None
            time.sleep(min(next(waits), 5.0))
            continue
        down_since = None
        state, _, rest = polled.stdout.partition("\n")
        if state == "done":
            status, _, log = rest.partition("\n")
            with contextlib.suppress(*OUTCOME_UNKNOWN):  # read: the job is done, whatever becomes of the session
                session.run(f'j={q(job)}; rm -f "$j.rc" "$j.pid" "$j.log" "$j.boot"', timeout=POLL_TIMEOUT)
            rc = int(status) if status.strip().isdigit() else LOST
            return CommandResult(command, rc, log, "", time.monotonic() - start)
        if state in ("rebooted", "lost"):
            said = "the host rebooted" if state == "rebooted" else "the transaction was killed"
            said += f" before it finished (log {job}.log): run again to converge"
            return CommandResult(command, LOST, rest, said, time.monotonic() - start)
        time.sleep(next(waits))
    raise CommandTimeout(
        session.target.name,
        f"a transaction did not finish within {timeout:g}s; it goes on on the host (log {job}.log)",
        "wait for it, then run again: the next run finds it",
    )


def _run(session: Session, op: Operation) -> TaskResult:
    events.redact(*op.hidden)  # the debug log sees every command as sent
    events.emit(events.STEP, session.target.name, op.name, "started")
    result = TaskResult(op.name, CHANGED, op.why, commands=[mask(c) for c in op.shown], diff=op.diff)
    try:
        _run_commands(session, op, result)
    except OUTCOME_UNKNOWN as exc:  # the step may have happened, in part or in full
        result.status, result.msg, result.hint = UNKNOWN, exc.message, exc.hint
    events.emit(events.STEP, session.target.name, op.name, result.status, result.msg)
    return result


def _run_commands(session: Session, op: Operation, result: TaskResult) -> None:
    for i, command in enumerate(op.commands):
        if i == 1 and op.uploads:  # the first command prepares the directories
            sent = sum(session.put_file(Path(local), remote) for local, remote in op.uploads)
            result.msg += f"; sent {sent} bytes"
        done = run_detached(session, command, op.timeout) if op.detached else session.run(command, timeout=op.timeout)
        result.rc, result.stdout, result.stderr = done.rc, mask(done.stdout), mask(done.stderr)
        if not done.ok:
            result.status = FAILED
            result.msg = done.stderr if done.rc == LOST else f"{op.why}; failed with exit status {done.rc}"
            break


def execute(session: Session | None, plan: Plan, check: bool = False, stop: Event | None = None) -> list[TaskResult]:
    """Apply the plan in order, up to the first failure or until ``stop`` is set (Ctrl-C): the operations
    not started are reported skipped. A daemon whose package or configuration already changed is restarted
    even then, so what runs matches what is on disk. ``check``: report, run nothing."""
    operations = [*plan.operations, *(op for op in (plan.start, plan.restart) if op)]
    if check or session is None:
        return [TaskResult(op.name, CHANGED, op.why, commands=[mask(c) for c in op.shown], diff=op.diff)
                for op in operations]  # fmt: skip
    results: list[TaskResult] = []
    restart_due = complete = False
    for i, op in enumerate(plan.operations):
        if stop is not None and stop.is_set():
            results += [TaskResult(o.name, SKIPPED, "interrupted before it started") for o in plan.operations[i:]]
            break
        results.append(_run(session, op))
        if results[-1].status == UNKNOWN:
            return results  # nothing more can be done over this connection
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
            rollback = _rollback(session, config, plan, results[-1])
            if rollback:
                events.emit(events.STEP, session.target.name, rollback.name, rollback.status, rollback.msg)
                results.append(rollback)
    return results


# What dockerd says when it gives up, in every era: 20.x "failed to start daemon: ...", logrus
# "level=fatal msg=...", 1.x "FATA[0000] Error starting daemon: ...".
_FATAL = re.compile(
    r"failed to start daemon|level=fatal|FATA\[|Error starting daemon|unable to configure the Docker daemon"
)


def daemon_reason(log: str) -> str:
    """The line of the daemon's log that says why it stopped: the last fatal one, else its last words."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    fatal = [line for line in lines if _FATAL.search(line)]
    return (fatal or lines or [""])[-1][:400]


def _rollback(session: Session, config: Operation | None, plan: Plan, failure: TaskResult) -> TaskResult | None:
    """Quote why the daemon did not start, and put the host back as it was before this run: the previous
    configuration (or none, on a host that had none), the daemon running only if it ran before, enabled
    only if it was. None when this run changed no configuration (nothing to roll back)."""
    previous = plan.previous
    try:
        log = session.run(DAEMON_LOG, timeout=30).stdout.strip()
    except OUTCOME_UNKNOWN as exc:
        return TaskResult("roll back", UNKNOWN, exc.message, hint=exc.hint)
    reason = daemon_reason(log) or failure.stderr.strip() or failure.stdout.strip()
    failure.msg = f"the daemon did not start: {reason}" if reason else "the daemon did not start"
    failure.log = log
    if config is None or previous is None:
        return None
    path, service = previous.config, previous.service
    if previous.config_existed:
        restore = f"if [ -f {q(config.backup)} ]; then mv -f {q(config.backup)} {q(path)}; fi"
        done = "previous configuration restored"
    else:
        restore = f"rm -f {q(path)}"
        done = f"{path} removed (the host had none)"
    commands = [restore]
    if previous.running:
        commands.append(service.start + "; " + wait_for_daemon(service))
    else:
        commands.append(f"{service.stop} >/dev/null 2>&1; true")
    if not previous.enabled:
        commands.append(f"{service.disable} >/dev/null 2>&1; true")
    try:
        outcomes = [session.run(c, timeout=180) for c in commands]
    except OUTCOME_UNKNOWN as exc:
        return TaskResult(f"roll back {path}", UNKNOWN, exc.message, commands=commands, hint=exc.hint, log=log)
    if not outcomes[0].ok:
        status = f"rolling back failed: {outcomes[0].stderr.strip()}"
    elif previous.running:
        status = f"rolled back: {done} " + (
            "and the daemon runs on it"
            if outcomes[1].ok
            else f"but the daemon still fails: {outcomes[1].stderr.strip()}"
        )
    else:
        status = f"rolled back: {done}; the daemon is left stopped" + ("" if previous.enabled else " and disabled")
    return TaskResult(f"roll back {path}", FAILED, status, rc=outcomes[-1].rc, commands=commands, log=log)
