"""Run (or, in check mode, only report) a host's plan over its session, with the restart handler and
rollback of a daemon configuration the daemon refuses.

    Plan ─▶ execute() ─▶ [TaskResult]   (ok / changed / failed / skipped, Ansible's protocol, and unknown:
                                         the connection was lost while the step ran)
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from threading import Event
from typing import Any

from installer import events, interrupts
from installer.connection import OUTCOME_UNKNOWN_HINT, CommandResult, Session, disk_full
from installer.errors import (
    OUTCOME_UNKNOWN,
    AuthenticationFailed,
    CommandTimeout,
    HostHung,
    HostKeyError,
    Unreachable,
)
from installer.outcome import Status
from installer.plan import DAEMON_LOG, ROLLBACK_DIR, YUM_TIMEOUT, Operation, Plan, q, wait_for_daemon

OK, CHANGED, FAILED, SKIPPED, UNKNOWN = Status.OK, Status.CHANGED, Status.FAILED, Status.SKIPPED, Status.UNKNOWN
INTERRUPTED = Status.INTERRUPTED
_URL_SECRET = re.compile(r"(://[^/\s:@]+):[^/\s@]+@")


def mask(text: str) -> str:
    """Hide passwords in URLs (a mirror given as https://user:password@host/...) and every registered
    secret (a vaulted value in a diff or in what the host printed)."""
    return events.clean(_URL_SECRET.sub(r"\1:********@", text))


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
    seconds: float | None = None  # how long it ran; None: it did not run (check mode, not attempted)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


JOBS_DIR = "/var/lib/pyinstall/jobs"
STEP_MARK, STDERR_MARK, END_MARK = "@@pyinstall-step:", "@@pyinstall-stderr:", "@@pyinstall-end:"
LONG_POLL = 20  # seconds a poll waits on the host for its job to end: one command per 20 s of transaction
POLL_TIMEOUT = LONG_POLL + 30.0  # a poll that takes longer than its wait: the host has stopped answering
REBOOT_WINDOW = 300.0  # seconds a host that dropped the connection mid-job has to come back (EL boots in 1-3 min)


BOOT_ID = "/proc/sys/kernel/random/boot_id"
YUM_JOB = "yum transaction"  # what a detached job is, unless its operation says otherwise (Operation.job)
LOST = -2  # the exit status of a job that died without one (killed, or the host rebooted)


def poll_intervals(first: float = 1.0, longest: float = 8.0) -> Iterator[float]:
    """Waits between attempts to reach a host that went away mid-job: 1 s ten times, then doubling up to
    ``longest``."""
    for _ in range(10):
        yield first
    wait = first
    while True:
        wait = min(wait * 2, longest)
        yield wait


def _wait_for_job(job: str, seconds: int = LONG_POLL) -> str:
    """Shell: wait on the host, up to ``seconds``, for the job to end, then say how it stands (done, with
    its exit status and log; running; rebooted or lost, with the end of its log). Waiting there, not
    asking every second from here, makes a transaction cost one command per ``seconds``, and its end is
    seen within a quarter of a second. Alive is asked before the status: a job writes its status before it
    exits, so one that is gone and left none is truly lost (asked the other way round, a job ending in
    between would look lost). Once its status is printed, the job no longer counts as running or left
    behind (its pid, boot and status files go); its log stays until the same job runs again. A job with
    neither pid nor status file is absent: never launched, or already read."""
    return (
        f'j={q(job)}; [ -f "$j.pid" ] || [ -f "$j.rc" ] || {{ echo absent; exit 0; }}; w=0; '
        "while :; do alive=; booted=; "
        f'[ "$(cat "$j.boot")" = "$(cat {BOOT_ID} 2>/dev/null)" ] || booted=1; '
        '[ -z "$booted" ] && kill -0 "$(cat "$j.pid")" 2>/dev/null && alive=1; '
        'if [ -f "$j.rc" ]; then echo done; cat "$j.rc" "$j.log"; rm -f "$j.rc" "$j.pid" "$j.boot"; break; '
        f'elif [ -n "$alive" ]; then [ $w -lt {seconds * 4} ] || {{ echo running; break; }}; sleep 0.25; w=$((w + 1)); '
        'elif [ -n "$booted" ]; then echo rebooted; tail -n 20 "$j.log"; break; '
        'else echo lost; tail -n 20 "$j.log"; break; fi; done'
    )


def run_detached(
    session: Session, command: str, timeout: float, poll: float = 1.0, what: str = YUM_JOB
) -> CommandResult:
    """Run ``command`` on the host apart from this SSH session (setsid, output to a log, exit status to a
    file) and wait for it there, in the same command, then again as long as it runs: a dropped connection
    no longer kills a yum transaction half way. A job whose process is gone without a status, or whose
    host has booted since (its boot id), is reported lost at once. If the connection drops while waiting,
    the job carries on: the wait connects again for up to REBOOT_WINDOW seconds (``poll``: the first
    pause between attempts; a host that rebooted is then told at the first answer), after which the next
    run's facts find the job."""
    job = f"{JOBS_DIR}/{hashlib.sha256(command.encode()).hexdigest()[:16]}"
    # A subshell, so that an `exit` in the command still records its status; $0 is the job's path.
    wrapped = f'({command}); echo $? > "$0.rc.tmp"; mv "$0.rc.tmp" "$0.rc"'
    launch = (
        f"set -e; umask 077; mkdir -p {JOBS_DIR}; j={q(job)}; "
        'if [ -f "$j.pid" ] && [ ! -f "$j.rc" ] && kill -0 "$(cat "$j.pid")" 2>/dev/null; then '
        'echo "the same transaction from an earlier run is still running (PID $(cat "$j.pid"), log $j.log)" >&2; '
        "exit 3; fi; "
        # The boot id and the pid go to disk at once (dd's fsync, these two files only): they must outlive a
        # crash or a power cut, or the next run could not tell what a hard reset left (JOB_LOST).
        f'rm -f "$j.rc" "$j.rc.tmp"; {{ cat {BOOT_ID} 2>/dev/null || :; }} | dd of="$j.boot" conv=fsync 2>/dev/null; '
        f'setsid sh -c {q(wrapped)} "$j" < /dev/null > "$j.log" 2>&1 & '
        'echo $! | dd of="$j.pid" conv=fsync 2>/dev/null; set +e; '
    )
    wait = _wait_for_job(job)
    start = time.monotonic()
    waits = poll_intervals(poll)
    down_since: float | None = None
    sent = launch + wait
    stop = getattr(session, "stop", None)
    while True:
        try:
            polled = session.run(sent, timeout=POLL_TIMEOUT)
        except interrupts.Interrupted:
            raise _interrupted_job(session, job, what) from None
        except CommandTimeout:  # the wait's own limit passed without an answer: the host stopped answering
            raise Unreachable(
                session.target.name,
                f"the host stopped answering (a wait for its transaction got no answer within {POLL_TIMEOUT:g}s)",
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
            polled = CommandResult(wait, 0, "", "", 0.0)  # not known yet: ask again
        else:
            down_since = None
            if sent is not wait and not polled.ok:
                return polled  # not launched: the same transaction of an earlier run still runs
        sent = wait
        state, _, rest = polled.stdout.partition("\n")
        if state == "done":
            status, _, log = rest.partition("\n")
            rc = int(status) if status.strip().isdigit() else LOST
            return CommandResult(command, rc, log, "", time.monotonic() - start)
        if state in ("rebooted", "lost"):
            said = "the host rebooted" if state == "rebooted" else "the transaction was killed"
            said += f" before it finished (log {job}.log): run again to converge"
            return CommandResult(command, LOST, rest, said, time.monotonic() - start)
        if state == "absent":  # the connection dropped as it was launched (or as its end was read)
            raise Unreachable(
                session.target.name,
                "the connection dropped as the transaction started or ended, and the host holds no trace of it",
                OUTCOME_UNKNOWN_HINT,
            )
        if time.monotonic() - start >= timeout:
            raise CommandTimeout(
                session.target.name,
                f"a transaction did not finish within {timeout:g}s; it goes on on the host (log {job}.log)",
                "wait for it, then run again: the next run finds it",
            )
        if state != "running":  # not reached this time, or an answer that says nothing: pause first
            if stop is not None and stop.wait(min(next(waits), 5.0)):
                raise interrupts.Interrupted(
                    f"interrupted ({interrupts.by()}) while waiting for the host to come back; its transaction "
                    f"(job {job}) is as the host left it",
                    "run again: the next run finds the transaction as it ended",
                )
            if stop is None:
                time.sleep(min(next(waits), 5.0))


# What Ctrl-C does to a job: one still waiting for the yum lock (no yum, dnf or rpm among its processes) is
# killed and forgotten, having changed nothing; one whose transaction runs is left to finish.
_SETTLE_JOB = (
    'j={job}; p=$(cat "$j.pid" 2>/dev/null) || {{ echo gone; exit 0; }}; '
    'if [ -f "$j.rc" ] || ! kill -0 "$p" 2>/dev/null; then echo gone; '
    'elif ps -o comm= -s "$p" | grep -qE "^(yum|dnf|rpm|python)"; then echo running; '
    'else pkill -KILL -s "$p"; rm -f "$j.pid" "$j.rc" "$j.boot" "$j.log"; echo killed; fi'
)


def _interrupted_job(session: Session, job: str, what: str = YUM_JOB) -> interrupts.Interrupted:
    """Ctrl-C during a job's wait: settle the job (_SETTLE_JOB), and say what was left."""
    stop = getattr(session, "stop", None)
    session.stop = None  # this one command must still be run
    try:
        state = session.run(_SETTLE_JOB.format(job=q(job)), timeout=10).stdout.strip()
    except OUTCOME_UNKNOWN:
        state = "unknown"
    finally:
        session.stop = stop
    if state == "killed" and what != YUM_JOB:  # not a package transaction: stopped where it was
        return interrupts.Interrupted(f"interrupted ({interrupts.by()}): the {what} was stopped (job {job})")
    if state == "killed":
        return interrupts.Interrupted(
            f"interrupted ({interrupts.by()}) while waiting for the package manager's lock: the transaction never "
            "started, nothing changed"
        )
    if state == "running":
        return interrupts.Interrupted(
            f"interrupted ({interrupts.by()}) during a yum transaction: it goes on on the host (job {job}, its "
            f"log {job}.log)",
            "wait for it to end, then run again: the next run waits for it and checks the packages afresh",
        )
    return interrupts.Interrupted(
        f"interrupted ({interrupts.by()}) as a transaction ended (job {job}); run again to converge"
    )


def _result(op: Operation) -> TaskResult:
    """A step's result before it runs: changed (or about to be), with its commands as shown."""
    return TaskResult(op.name, CHANGED, op.why, commands=[mask(c) for c in op.shown], diff=mask(op.diff))


def _run(session: Session, op: Operation) -> TaskResult:
    events.redact(*op.hidden)  # the debug log sees every command as sent
    events.emit(events.STEP, session.target.name, op.name, "started")
    result = _result(op)
    began = time.monotonic()
    try:
        _run_commands(session, op, result)
    except OUTCOME_UNKNOWN as exc:  # the step may have happened, in part or in full
        result.status, result.msg, result.hint = UNKNOWN, exc.message, exc.hint
    except interrupts.Interrupted as exc:
        result.status, result.msg, result.hint = INTERRUPTED, exc.message, exc.hint
    result.seconds = time.monotonic() - began
    events.emit(events.STEP, session.target.name, op.name, result.status, result.msg)
    return result


def _run_commands(session: Session, op: Operation, result: TaskResult) -> None:
    for i, command in enumerate(op.commands):
        if i == 1 and op.uploads:  # the first command prepares the directories
            sent = sum(session.put_file(Path(local), remote) for local, remote in op.uploads)
            result.msg += f"; sent {sent} bytes"
        if op.detached:
            done = run_detached(session, command, op.timeout, what=op.job)
        else:
            done = session.run(command, timeout=op.timeout)
        result.rc, result.stdout, result.stderr = done.rc, mask(done.stdout), mask(done.stderr)
        if not done.ok:
            result.status = FAILED
            if done.rc == LOST:
                result.msg = done.stderr
            else:
                _failed(session.target.name, op, result)
            break


def _failed(host: str, op: Operation, result: TaskResult, ran: bool = True) -> None:
    """A failed step's words: no space left on the host is said as such (HOST_DISK_FULL), with what the
    host said; any other failure by its exit status."""
    full = disk_full(host, CommandResult("", result.rc or 1, result.stdout, result.stderr, 0.0))
    if full is not None:
        result.msg, result.hint = f"{op.why}; {full.code}: {full.message}", full.hint
    elif ran:
        result.msg = f"{op.why}; failed with exit status {result.rc}"
    else:
        result.msg = f"{op.why}; could not be run: {result.stderr.strip() or f'exit status {result.rc}'}"


def execute(session: Session | None, plan: Plan, check: bool = False, stop: Event | None = None) -> list[TaskResult]:
    """Apply the plan in order, up to the first failure or until ``stop`` is set (Ctrl-C): the operations
    not started are reported skipped. A daemon whose package or configuration already changed is restarted
    even then, so what runs matches what is on disk. ``check``: report, run nothing. Consecutive steps of
    one plain command each go to the host in one round trip (_run_together). What needs the daemon
    (``plan.after``) runs once everything else succeeded."""
    if check or session is None:
        steps = (*plan.operations, *(op for op in (plan.start, plan.restart) if op), *plan.after)
        return [replace(_result(op), status=Status.WOULD_CHANGE) for op in steps]
    if plan.operations or plan.start or plan.after:
        events.before_change()
    results = _execute(session, plan, stop)
    if any(r.status != CHANGED and r.status != OK for r in results):
        return results
    for op in plan.after:
        if stop is not None and stop.is_set():
            return [*results, TaskResult(op.name, SKIPPED, "interrupted before it started")]
        results.append(_run(session, op))
        if results[-1].status != CHANGED:
            break
    return results


def _execute(session: Session, plan: Plan, stop: Event | None) -> list[TaskResult]:
    # The start runs once every operation succeeded: it is the last step of the queue.
    queue = [*plan.operations, *([plan.start] if plan.start else [])]
    results: list[TaskResult] = []
    ran: list[Operation] = []
    i = 0
    while i < len(queue):
        if stop is not None and stop.is_set():
            results += [TaskResult(o.name, SKIPPED, "interrupted before it started")
                        for o in queue[i:] if o is not plan.start]  # fmt: skip
            break
        unit = queue[i : i + 1]
        while _plain(unit[0]) and i + len(unit) < len(queue) and _plain(queue[i + len(unit)]):
            unit.append(queue[i + len(unit)])
        done = _run_together(session, unit) if len(unit) > 1 else [_run(session, unit[0])]
        results += done
        ran += unit[: len(done)]
        if any(r.status == UNKNOWN for r in done):
            return results  # nothing more can be done over this connection
        if any(r.status == INTERRUPTED for r in done):  # Ctrl-C: no restart, no rollback, nothing more
            results += [TaskResult(o.name, SKIPPED, "interrupted before it started")
                        for o in queue[i + len(done):] if o is not plan.start]  # fmt: skip
            return results
        if any(r.status == FAILED for r in done):
            break
        i += len(unit)
    # After the runtime's packages changed (or failed to): a failure puts the old ones back, whatever failed.
    kept = next((i for i, op in enumerate(ran) if op.keeps and results[i].status == CHANGED), None)
    packages_changed = kept is not None and any(op.runtime and r.status in (CHANGED, FAILED)
                                                for op, r in zip(ran[kept:], results[kept:]))  # fmt: skip
    if results and results[-1].status == FAILED and packages_changed and ran[-1] is not plan.start:
        return [*results, *_rolled_back(session, plan, ran, results, packages=True)]
    restart_due = any(op.restarts for op, r in zip(ran, results) if r.status == CHANGED)
    if not any(op is plan.start for op in ran):
        if not (plan.restart and restart_due):
            return results
        results.append(_run(session, plan.restart))
    if results[-1].status == FAILED:
        log = _daemon_log(session, results[-1])
        results += _rolled_back(session, plan, ran, results, packages=packages_changed, log=log)
    return results


def _rolled_back(
    session: Session, plan: Plan, ran: list[Operation], results: list[TaskResult], packages: bool, log: str = ""
) -> list[TaskResult]:
    written = [op for op, r in zip(ran, results) if op.file and op.restarts and op.backup and r.status == CHANGED]
    began = time.monotonic()
    rollback = _rollback(session, written, plan, packages, log)
    if rollback is None:
        return []
    rollback.seconds = time.monotonic() - began
    events.emit(events.STEP, session.target.name, rollback.name, rollback.status, rollback.msg)
    return [rollback]


def _plain(op: Operation) -> bool:
    """One command, no upload, not detached: it can share a round trip with its neighbours."""
    return len(op.commands) == 1 and not op.uploads and not op.detached


def _run_together(session: Session, ops: list[Operation]) -> list[TaskResult]:
    """Several plain steps in one round trip, each run as it would be alone (a subshell, its stdout and
    stderr apart), up to the first that fails; each framed with a token of this call's, so that nothing a
    step prints can pass for another's result. If the connection drops, none of their outcomes is known."""
    token = secrets.token_hex(8)
    # Each step's frame carries the host's clock when it ended (nanoseconds; GNU date, as on every EL): the
    # steps' durations, the first measured from the stamp printed before it.
    lines = [
        't=$(mktemp -d "${TMPDIR:-/tmp}/pyinstall-steps.XXXXXX") || exit 70; trap \'rm -rf "$t"\' EXIT',
        f'step() {{ printf \'\\n{STEP_MARK}{token} %s %s %s\\n\' "$1" "$2" "$(date +%s%N)"; cat "$t/o"; '
        f"printf '\\n{STDERR_MARK}{token}\\n'; cat \"$t/e\"; }}",
        f"printf '\\n{STEP_MARK}{token} begin 0 %s\\n' \"$(date +%s%N)\"",
    ]
    for i, op in enumerate(ops):
        events.redact(*op.hidden)
        lines.append(f'({op.commands[0]}\n) > "$t/o" 2> "$t/e" < /dev/null; rc=$?; step {i} $rc; [ $rc = 0 ] || exit 0')
    lines.append(f"printf '\\n{END_MARK}{token}\\n'")
    events.emit(events.STEP, session.target.name, ops[0].name, "started")
    try:
        done = session.run("\n".join(lines), timeout=sum(op.timeout for op in ops))
    except (*OUTCOME_UNKNOWN, interrupts.Interrupted) as exc:  # any of them may have happened, in part or in full
        status = INTERRUPTED if isinstance(exc, interrupts.Interrupted) else UNKNOWN
        results = [replace(_result(op), status=status, msg=exc.message, hint=exc.hint) for op in ops]
        for r in results:
            events.emit(events.STEP, session.target.name, r.name, r.status, r.msg)
        return results
    frames = done.stdout.partition(f"\n{END_MARK}{token}\n")[0].split(f"\n{STEP_MARK}{token} ")[1:]
    began = _stamp(frames.pop(0).partition("\n")[0]) if frames else None
    results = []
    for i, op in enumerate(ops):
        if i:
            events.emit(events.STEP, session.target.name, op.name, "started")
        result = _result(op)
        if i >= len(frames):  # the script itself failed before this step (no temporary directory)
            result.status, result.rc, result.stderr = FAILED, done.rc, mask(done.stderr or done.stdout)
            _failed(session.target.name, op, result, ran=False)
        else:
            head, _, body = frames[i].partition("\n")  # "INDEX RC STAMP"
            out, _, err = body.partition(f"\n{STDERR_MARK}{token}\n")
            rc = [*head.split(" "), ""][1]
            result.rc = int(rc) if rc.isdigit() else LOST
            ended = _stamp(head)
            if began is not None and ended is not None and ended >= began:
                result.seconds = ended - began
            began = ended
            result.stdout, result.stderr = mask(out), mask(err)
            if result.rc != 0:
                result.status = FAILED
                _failed(session.target.name, op, result)
        events.emit(events.STEP, session.target.name, op.name, result.status, result.msg)
        results.append(result)
        if result.status == FAILED:
            break
    return results


def _stamp(head: str) -> float | None:
    """A frame's clock (the last word of its head, `date +%s%N`) in seconds; None where date has no %N."""
    word = head.rpartition(" ")[2]
    return int(word) / 1e9 if word.isdigit() and len(word) > 10 else None


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


def _daemon_log(session: Session, failure: TaskResult) -> str:
    """Quote why the daemon did not start in the failed step's message; the daemon's last words."""
    try:
        log = session.run(DAEMON_LOG, timeout=30).stdout.strip()
    except OUTCOME_UNKNOWN:
        log = ""
    reason = daemon_reason(log) or failure.stderr.strip() or failure.stdout.strip()
    failure.msg = f"the daemon did not start: {reason}" if reason else "the daemon did not start"
    failure.log = log
    return log


def _rollback(session: Session, written: list[Operation], plan: Plan, packages: bool, log: str) -> TaskResult | None:
    """Put the host back as it was before this run: after a package change, the packages kept before it
    (rpm alone), the daemon's files and the containers that ran; otherwise each daemon file this run wrote
    as it was (or gone, where the host had none). The daemon runs only if it ran before, is enabled only if
    it was. None when this run changed neither (nothing to roll back)."""
    previous = plan.previous
    if previous is None or not (written or (packages and previous.rollback)):
        return None
    service = previous.service
    if packages and previous.rollback:
        restore = previous.rollback
        done = f"the packages ({', '.join(previous.packages)}) and the daemon's files put back"
        name = "roll back the runtime"
    else:
        paths = [op.file for op in written]
        # A write keeps the file it replaces as its backup, and leaves none where there was no file.
        restore = "; ".join(
            f"if [ -f {q(op.backup)} ]; then mv -f {q(op.backup)} {q(op.file)}; else rm -f {q(op.file)}; fi"
            for op in written
            if op.backup
        )
        if all(op.why == "absent" for op in written):
            done = f"{', '.join(paths)} removed (the host had none)"
        else:
            done = "previous configuration restored"
        name = f"roll back {paths[0]}" if len(paths) == 1 else "roll back the daemon's files"
    commands = [restore]
    if previous.enabled:  # an erased package may have taken its enablement along
        commands.append(f"{service.enable} >/dev/null 2>&1; true")
    else:
        commands.append(f"{service.disable} >/dev/null 2>&1; true")
    if previous.running:
        start = service.start + "; " + wait_for_daemon(service)
        if packages and previous.rollback:  # the containers that ran, running again (the same ids)
            start += (
                f"; n=0; for c in $(cat {ROLLBACK_DIR}/containers); do "
                '[ "$(docker inspect -f \'{{.State.Running}}\' "$c" 2>/dev/null)" = true ] || '
                'docker start "$c" >/dev/null && n=$((n + 1)); done; echo "$n"'
            )
        commands.append(start)
    else:
        commands.append(f"{service.stop} >/dev/null 2>&1; true")
    try:
        outcomes = [session.run(c, timeout=YUM_TIMEOUT if c is restore else 180) for c in commands]
    except OUTCOME_UNKNOWN as exc:
        return TaskResult(name, UNKNOWN, exc.message, commands=commands, hint=exc.hint, log=log)
    if not outcomes[0].ok:
        status = f"rolling back failed: {outcomes[0].stderr.strip() or outcomes[0].stdout.strip()}"
    elif previous.running:
        started = outcomes[-1]
        status = f"rolled back: {done}" + (
            " and the daemon runs on it" if started.ok else f", but the daemon still fails: {started.stderr.strip()}"
        )
        restarted = started.stdout.strip().splitlines()[-1:] if packages and started.ok else []
        if restarted and restarted[0].isdigit() and int(restarted[0]):
            status += f"; {restarted[0]} container(s) that ran before started again"
    else:
        status = f"rolled back: {done}; the daemon is left stopped" + ("" if previous.enabled else " and disabled")
    return TaskResult(name, FAILED, status, rc=outcomes[-1].rc, commands=commands, log=log)
