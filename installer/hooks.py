"""Commands of the operator's own around each host's work (--pre-host, --post-host), run on the controller:
drain a node from its load balancer or scheduler first, put it back after.

    work(host) ─▶ around(work, pre, post) ─▶ pre-host ─▶ work ─▶ post-host (only after a host that ended ok)

The host's name, address and port are in the command's environment (PYINSTALL_HOST, PYINSTALL_ADDRESS,
PYINSTALL_PORT; PYINSTALL_HOOK says which hook), never in its text: nothing a host is called can be run.
A pre-host that fails leaves the host untouched, and the host counts as failed (the failure budget counts it).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable

from installer import events
from installer.connection import Target
from installer.executor import TaskResult, mask
from installer.host_run import HostRun
from installer.outcome import Status

Work = Callable[[tuple[Target, object], threading.Event], HostRun]


def run(command: str, target: Target, hook: str) -> TaskResult:
    """One hook for one host: its exit status and the end of what it printed."""
    env = {**os.environ, "PYINSTALL_HOST": target.name, "PYINSTALL_ADDRESS": target.address,
           "PYINSTALL_PORT": str(target.port or 22), "PYINSTALL_HOOK": hook}  # fmt: skip
    events.before_change()
    began = time.monotonic()
    try:
        done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except OSError as exc:
        return TaskResult(f"{hook} hook", Status.FAILED, f"{command!r} could not be run: {exc.strerror}")
    took = time.monotonic() - began
    out, err = mask(done.stdout[-4000:]), mask(done.stderr[-4000:])
    if done.returncode == 0:
        return TaskResult(f"{hook} hook", Status.OK, command, rc=0, stdout=out, stderr=err, seconds=took)
    said = (err.strip() or out.strip()).splitlines()[-1:] or [""]
    return TaskResult(f"{hook} hook", Status.FAILED, f"{command!r} exited with status {done.returncode}: {said[0]}",
                      rc=done.returncode, stdout=out, stderr=err, seconds=took)  # fmt: skip


def around(work: Work, pre: str | None, post: str | None) -> Work:
    """``work`` with the hooks before and after it, per host."""
    if not pre and not post:
        return work

    def hooked(host: tuple[Target, object], stop: threading.Event) -> HostRun:
        target = host[0]
        if pre:
            before = run(pre, target, "pre-host")
            if before.status == Status.FAILED:
                return HostRun(target.name, Status.FAILED, error=f"pre-host hook: {before.msg}", tasks=[before],
                               hint="the host was left untouched: fix the hook, then run again")  # fmt: skip
        result = work(host, stop)
        if pre:
            result.tasks.insert(0, before)
        if post and result.status in (Status.OK, Status.CHANGED):
            after = run(post, target, "post-host")
            result.tasks.append(after)
            if after.status == Status.FAILED:
                result.status, result.error = Status.FAILED, f"post-host hook: {after.msg}"
                result.hint = "the host's work is done; the hook's is not: run it by hand"
        return result

    return hooked
