"""yum commands as pyinstall runs them: never waiting forever on another yum's lock.

yum itself waits on its lock (/var/run/yum.pid: the platform's package_manager.locks) as long as its
holder lives. Every command built here waits at most ``lock_wait`` seconds, then fails naming the
holder's PID and command (exit 75); a stale lock (a dead PID) does not stop it. Every value is quoted.
"""

from __future__ import annotations

import shlex

q = shlex.quote

LOCKED = 75  # the exit status of a command that gave up waiting for the lock


def wait_for_lock(lock_wait: int, locks: tuple[str, ...]) -> str:
    """Wait while any of ``locks`` names a live process (each lock file in turn)."""
    return "".join(
        f'i=0; while [ -f {q(lock)} ]; do read -r p < {q(lock)} || break; [ -d "/proc/$p" ] || break; '
        f"i=$((i + 1)); if [ $i -gt {int(lock_wait)} ]; then printf '%s: the package manager is locked by PID %s (%s) "
        f'for over %ss: let it finish or stop it, then run again\\n\' {q(lock)} "$p" '
        f"\"$(tr '\\000' ' ' < /proc/$p/cmdline)\" {int(lock_wait)} >&2; exit {LOCKED}; fi; sleep 1; done; "
        for lock in locks
    )


def command(
    action: str, *packages: str, lock_wait: int, locks: tuple[str, ...], only: str | None = None, options: str = ""
) -> str:
    """``yum -y ACTION PACKAGES`` after the bounded wait. ``only``: the one repository to use (an offline
    bundle), every other disabled. ``options``: more yum options, already quoted."""
    repos = f"--disablerepo='*' --enablerepo={q(only)} " if only else ""
    extra = f"{options} " if options else ""
    return wait_for_lock(lock_wait, locks) + f"yum -y {extra}{repos}{action} " + " ".join(q(p) for p in packages)
