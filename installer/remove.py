"""`pyinstall remove`: the runtime taken off each host, as pyinstall put it there, in parallel and under
the same rollout controls as provision. What is removed is what provision would put there for this
host (the same model): the daemon stopped and disabled, the runtime's packages, the repository files and
the daemon's configuration (each kept as a timestamped backup), an offline bundle pushed to the host,
packages provision installed for the runtime (its ledger says which), and pyinstall's own state there.
Docker's data (/var/lib/docker) stays unless asked for (``purge_data``; a data-root elsewhere is never
removed). Removing again changes nothing.

    connect ─▶ facts ─▶ desired (runtime.desired) ─▶ removal() ─▶ execute (or report, in check mode) ─▶ HostRun
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence

from installer import checks, connection, daytwo, facts, platforms, runtime, yum
from installer.asked import Asked
from installer.bundle import REMOTE_ROOT
from installer.connection import Session, Target
from installer.executor import execute
from installer.fleet import FORKS
from installer.host_run import HostRun, on_host, roll_out, settled
from installer.outcome import Status
from installer.plan import (
    STATE_DIR,
    YUM_TIMEOUT,
    Operation,
    Plan,
    backup_stamp,
    daemon_files,
    file_kind,
    q,
    remove_file_op,
)
from installer.preflight import Connect, facts_script, gather_facts

DATA_ROOT = "/var/lib/docker"


def removal(gathered: facts.Facts, desired: runtime.Desired, purge_data: bool = False, stamp: str = "") -> Plan:
    """The operations that take the runtime off this host, in order; none for what is already gone. What
    provision created comes from the names pyinstall uses (the model's files, every pyinstall-*.repo, the
    bundle it pushed) and from the host's ledger; a ledger entry counts only where it names something
    pyinstall could have created (the host's word alone never points a removal elsewhere)."""
    stamp = stamp or backup_stamp()
    ops: list[Operation] = []
    platform = desired.platform
    docker = gathered.services.get("docker", {})
    if docker.get("active"):
        ops.append(Operation("stop docker", (platform.service.stop,), "running", tag="service"))
    if docker.get("enabled"):
        ops.append(Operation("disable docker", (platform.service.disable,), "enabled at boot", tag="service"))
    daemon = set(daemon_files(platform))
    ledger = gathered.ledger
    files = [f.path for f in desired.files] + sorted(gathered.repo_files)
    files += [path for path in ledger.get("file", []) if _ours(path)]
    for path in dict.fromkeys(files):
        if not gathered.has_file(path):
            continue
        # Before the packages go (rpm would take a package's own config file with it).
        if daytwo.owned(path):
            tag = daytwo.tag_of(path)
            ops.append(remove_file_op(path, file_kind(path, tag), stamp, tag))
        elif path in daemon:
            ops.append(remove_file_op(path, "daemon configuration", stamp, "config"))
        else:
            ops.append(remove_file_op(path, "repository", stamp, "repo"))
    members = [u for u in dict.fromkeys(ledger.get("member", [])) if daytwo.valid_user(u)]
    members = [u for u in members if u in (gathered.docker_group or [])]
    if members:
        command = "; ".join(f"gpasswd -d {q(u)} {daytwo.GROUP} >/dev/null" for u in members)
        ops.append(Operation(f"take {', '.join(members)} out of the {daytwo.GROUP} group", (command,),
                             "added by provision (docker_users)", tag="users"))  # fmt: skip
    channel = desired.channel
    runtime_packages = [p for p in (channel.package, *channel.extra_packages) if p in gathered.packages]
    # What provision installed for the runtime (libcgroup on EL6), by the ledger: taken away too, unless
    # another package has come to need it since (rpm's own test of the removal says).
    helpers = [p for p in ledger.get("package", []) if p in platform.requires and p in gathered.packages]
    if runtime_packages or helpers:
        command = yum.command("remove", *runtime_packages, lock_wait=desired.yum_lock_wait, locks=platform.lock_files)
        if helpers:
            test = " ".join(q(p) for p in runtime_packages)
            command = (
                f"x=; for p in {' '.join(q(p) for p in helpers)}; do "
                f'rpm -e --test {test} "$p" >/dev/null 2>&1 && x="$x $p"; done; {command} $x'
            )
        name = "remove " + ", ".join(runtime_packages or helpers)
        if runtime_packages and helpers:
            name += f" (and {', '.join(helpers)}, installed for it, unless another package needs it)"
        ops.append(Operation(name, (command,), "installed", timeout=YUM_TIMEOUT, detached=True, tag="packages"))
    bundles = {f"{REMOTE_ROOT}/{p}" for p in gathered.bundle_sums}
    bundles |= {d for d in ledger.get("dir", []) if re.fullmatch(rf"{REMOTE_ROOT}/[a-z0-9_.+-]+", d)}
    for bundle in sorted(bundles):
        ops.append(Operation(f"remove offline bundle {bundle}", (f"rm -rf {q(bundle)}",), "pushed by provision",
                             tag="repo"))  # fmt: skip
    if purge_data and gathered.docker_store_entries:  # the facts look in /var/lib/docker, not at a data-root
        # Its contents, not the directory: it is often a filesystem of its own, mounted there.
        command = f"find {DATA_ROOT} -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {{}} +"
        ops.append(Operation(f"remove Docker's data in {DATA_ROOT}", (command,),
                             "--purge-data: images, containers and volumes", timeout=600, tag="data"))  # fmt: skip
    # Last: a yum transaction above runs as one of pyinstall's jobs, which live there too.
    if gathered.state_dirs or any(op.detached for op in ops):
        command = f"rm -rf {STATE_DIR} {REMOTE_ROOT}; rmdir {q(REMOTE_ROOT.rsplit('/', 1)[0])} 2>/dev/null; true"
        ops.append(Operation(f"remove pyinstall's own state ({STATE_DIR}, its ledger and jobs)", (command,),
                             "nothing of pyinstall's is left but its backups", tag="repo"))  # fmt: skip
    return Plan(ops)


def _ours(path: str) -> bool:
    """A file pyinstall writes: a platform's daemon configuration or environment file, or one of its
    repository files."""
    configs = {f for p in platforms.all_platforms() for f in daemon_files(p)}
    repo = re.fullmatch(r"/etc/yum\.repos\.d/pyinstall-[A-Za-z0-9_.+-]+\.repo", path) is not None
    return path in configs or repo or daytwo.owned(path)


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
    gathered = gather_facts(session, script=facts_script(asked, provision=True))
    s = checks.subject(gathered, asked)
    try:
        desired = runtime.desired(s, gathered.installed(s.channel.package) if s.channel else None)
    except runtime.NotProvisionable as exc:
        run.status, run.error = Status.FAILED, "not a platform pyinstall provisions: nothing it would have put here"
        run.hint = exc.hint
        return
    link = gathered.docker_fs.get("link")
    if purge_data and link:
        run.status = Status.FAILED
        run.error = (
            f"--purge-data: {DATA_ROOT} is a symbolic link to {link}: pyinstall deletes Docker's data "
            f"only in a real {DATA_ROOT} (a data root elsewhere is never deleted); nothing was changed"
        )
        run.hint = f"delete what is under {link} yourself if that is meant, then run again without --purge-data"
        return
    steps = removal(gathered, desired, purge_data)
    run.tasks = execute(None if check else session, steps, check=check, stop=stop)
    if not settled(run):
        run.status = (Status.WOULD_CHANGE if check else Status.CHANGED) if steps else Status.OK


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
