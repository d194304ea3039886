"""`pyinstall remove`: the runtime taken off each host, as pyinstall put it there, in parallel and under
the same rollout controls as provision. What is removed is what provision would put there for this
host (the same model): the daemon stopped and disabled, the runtime's packages, the repository files and
the daemon's configuration (each kept as a timestamped backup), an offline bundle pushed to the host.
Docker's data (/var/lib/docker) stays unless asked for (``purge_data``; a data-root elsewhere is never
removed). Removing again changes nothing.

    connect ─▶ facts ─▶ desired (runtime.desired) ─▶ removal() ─▶ execute (or report, in check mode) ─▶ HostRun
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from installer import checks, connection, facts, runtime, yum
from installer.asked import Asked
from installer.bundle import REMOTE_ROOT
from installer.connection import Session, Target
from installer.executor import execute
from installer.fleet import FORKS
from installer.host_run import HostRun, on_host, roll_out, settled
from installer.outcome import Status
from installer.plan import BACKUP_SUFFIX, YUM_TIMEOUT, Operation, Plan, backup_stamp, q
from installer.preflight import Connect, gather_facts

DATA_ROOT = "/var/lib/docker"


def removal(gathered: facts.Facts, desired: runtime.Desired, purge_data: bool = False, stamp: str = "") -> Plan:
    """The operations that take the runtime off this host, in order; none for what is already gone."""
    stamp = stamp or backup_stamp()
    ops: list[Operation] = []
    service = desired.platform.service
    docker = gathered.services.get("docker", {})
    if docker.get("active"):
        ops.append(Operation("stop docker", (service.stop,), "running", tag="service"))
    if docker.get("enabled"):
        ops.append(Operation("disable docker", (service.disable,), "enabled at boot", tag="service"))
    for f in desired.files:
        if gathered.file_content(f.path) is not None:
            what = "daemon configuration" if f.restarts_daemon else "repository"
            backup = f"{f.path}{BACKUP_SUFFIX}.{stamp}"
            # Before the packages go (rpm would take a package's own config file with it): a hard link keeps
            # the file as a backup, the name goes.
            command = f"if [ -e {q(f.path)} ]; then ln -f {q(f.path)} {q(backup)} && rm -f {q(f.path)}; fi"
            ops.append(Operation(f"remove {what} {f.path}", (command,), f"kept as {backup}", backup=backup,
                                 tag="config" if f.restarts_daemon else "repo"))  # fmt: skip
    channel = desired.channel
    installed = [p for p in (channel.package, *channel.extra_packages) if p in gathered.packages]
    if installed:
        command = yum.command("remove", *installed, lock_wait=desired.yum_lock_wait, locks=desired.platform.lock_files)
        ops.append(Operation("remove " + ", ".join(installed), (command,), "installed", timeout=YUM_TIMEOUT,
                             detached=True, tag="packages"))  # fmt: skip
    if desired.platform.id in gathered.bundle_sums:
        bundle = f"{REMOTE_ROOT}/{desired.platform.id}"
        ops.append(Operation(f"remove offline bundle {bundle}", (f"rm -rf {q(bundle)}",), "pushed by provision",
                             tag="repo"))  # fmt: skip
    if purge_data and gathered.docker_store_entries:  # the facts look in /var/lib/docker, not at a data-root
        # Its contents, not the directory: it is often a filesystem of its own, mounted there.
        command = f"find {DATA_ROOT} -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {{}} +"
        ops.append(Operation(f"remove Docker's data in {DATA_ROOT}", (command,),
                             "--purge-data: images, containers and volumes", timeout=600, tag="data"))  # fmt: skip
    return Plan(ops)


def remove_host(
    target: Target,
    asked: Asked,
    check: bool = False,
    purge_data: bool = False,
    connect: Connect = connection.connect,
    stop: threading.Event | None = None,
) -> HostRun:
    return on_host(target, connect, stop, lambda run, session: _pipeline(run, session, asked, check, purge_data,
                                                                          stop))  # fmt: skip


def _pipeline(
    run: HostRun, session: Session, asked: Asked, check: bool, purge_data: bool, stop: threading.Event | None
) -> None:
    gathered = gather_facts(session, script=facts.script(provision=True))
    s = checks.subject(gathered, asked)
    try:
        desired = runtime.desired(s, gathered.installed(s.channel.package) if s.channel else None)
    except runtime.NotProvisionable as exc:
        run.status, run.error = Status.FAILED, "not a platform pyinstall provisions: nothing it would have put here"
        run.hint = exc.hint
        return
    steps = removal(gathered, desired, purge_data)
    run.tasks = execute(None if check else session, steps, check=check, stop=stop)
    if not settled(run):
        run.status = Status.CHANGED if steps else Status.OK


def run(
    hosts: Sequence[tuple[Target, Asked]],
    check: bool = False,
    purge_data: bool = False,
    forks: int = FORKS,
    connect: Connect = connection.connect,
    serial: Sequence[int | float] | None = None,
    max_fail_percentage: float | None = None,
    gate: Callable[[list[HostRun]], str | None] | None = None,
) -> list[HostRun]:
    work = lambda host, stop: remove_host(host[0], host[1], check, purge_data, connect, stop)  # noqa: E731
    return roll_out(hosts, work, forks, serial, max_fail_percentage, gate)
