"""Operations: compare a host's facts with its desired state and yield commands only where they differ.

    Facts + Desired ─▶ plan() ─▶ [Operation(name, commands, diff, restarts)]  (pure: no connection)

An empty plan means the host is already as asked; "changed" is never claimed, only computed here.
Every value interpolated into a command is quoted with shlex.quote.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import shlex
import time
from dataclasses import dataclass, field, replace
from typing import Any

from installer import daytwo, yum
from installer.bundle import SUMS_FILE, Bundle
from installer.checks import store_mount
from installer.facts import Facts
from installer.platforms import Platform, Service
from installer.repos import BUNDLE_REPO_ID
from installer.runtime import Desired, ManagedFile
from installer.versions import evr_compare, split_evr

YUM_TIMEOUT = 900.0
# What pyinstall keeps on a host: its jobs, and the ledger of what it created there (files, repositories,
# packages, the bundle cache), which `remove` reads to undo it. Root-only.
STATE_DIR = "/var/lib/pyinstall"
LEDGER = f"{STATE_DIR}/ledger"
# Before the runtime's packages change: the installed packages' own RPM files, the daemon's files and the
# running containers' ids, so that a change whose daemon does not start is undone with rpm alone (the
# repositories may be gone by then). Replaced at the next package change, removed once the daemon runs.
ROLLBACK_DIR = f"{STATE_DIR}/rollback"
BACKUP_SUFFIX = ".pyinstall-backup"
BACKUPS_KEPT = 5  # timestamped backups of each managed file: the user's original survives a few runs
# The daemon's last words, wherever this init system keeps them.
DAEMON_LOG = (
    "for f in /var/log/docker /var/log/journal/docker.service*.log; do "
    '[ -f "$f" ] && { tail -n 40 "$f"; exit 0; }; done; journalctl -u docker -n 40 --no-pager 2>/dev/null'
)


def wait_for_daemon(service: Service, seconds: int = 30) -> str:
    """Until `docker info` answers; a daemon that is gone for 3 checks in a row has exited: fail at once."""
    return (
        "i=0; n=0; while ! docker info >/dev/null 2>&1; do i=$((i + 1)); "
        f"if {service.running} >/dev/null 2>&1; then n=0; else n=$((n + 1)); fi; "
        "if [ $n -ge 3 ]; then echo 'the docker daemon exited' >&2; exit 1; fi; "
        f"if [ $i -ge {seconds} ]; then echo 'the docker daemon did not answer within {seconds}s' >&2; exit 1; fi; "
        "sleep 1; done"
    )


@dataclass(frozen=True)
class Operation:
    name: str
    commands: tuple[str, ...]
    why: str = ""  # what differs
    diff: str = ""  # unified diff of a file it writes
    restarts: bool = False  # the daemon must restart afterwards (package or config changed)
    timeout: float = 120.0
    file: str = ""  # the file it writes
    backup: str | None = None  # where the replaced file is kept, for rollback
    uploads: tuple[tuple[str, str], ...] = ()  # (local path, remote path), sent before the commands
    detached: bool = False  # long transaction: runs on the host apart from the SSH session, polled
    job: str = "yum transaction"  # what a detached job is, as Ctrl-C's words name it
    hidden: tuple[str, ...] = ()  # text in the commands never shown or logged (a secret file's content)
    tag: str = ""  # what it belongs to, for --tags / --skip-tags (TAGS)
    keeps: bool = False  # keeps what undoing the runtime's package change needs (ROLLBACK_DIR)
    runtime: bool = False  # changes the runtime's packages

    @property
    def shown(self) -> list[str]:
        """The commands as -v, reports and logs show them."""
        shown = []
        for command in self.commands:
            for text in self.hidden:
                command = command.replace(text, "<secret content>")
            shown.append(command)
        return shown


@dataclass(frozen=True)
class Previous:
    """The daemon as it was before this run: what a refused configuration is rolled back to."""

    enabled: bool
    running: bool
    service: Service
    packages: tuple[str, ...] = ()  # the runtime's packages installed (name-version-release.arch)
    rollback: str = ""  # the command that puts those packages and the daemon's files back (ROLLBACK_DIR)


@dataclass
class Plan:
    operations: list[Operation] = field(default_factory=list)
    start: Operation | None = None  # start, or restart when an operation asks; None: already running
    restart: Operation | None = None
    previous: Previous | None = None
    after: list[Operation] = field(default_factory=list)  # once the daemon runs: an offline bundle's images

    def __bool__(self) -> bool:
        return bool(self.operations or self.start or self.after)


def tagged(plan: Plan, tags: frozenset[str] | None, skip: frozenset[str] = frozenset()) -> Plan:
    """Only the operations whose tag is asked for (all when ``tags`` is None) and not skipped. The restart
    handler follows any kept operation that needs it, as an Ansible handler follows its notification."""
    ops = [op for op in plan.operations if wanted(op.tag, tags, skip)]
    start = plan.start if wanted("service", tags, skip) else None
    restart = plan.restart if any(op.restarts for op in ops) else None
    after = [op for op in plan.after if wanted(op.tag, tags, skip)]
    return replace(plan, operations=ops, start=start, restart=restart, after=after)


def wanted(tag: str, tags: frozenset[str] | None, skip: frozenset[str] = frozenset()) -> bool:
    return (tags is None or tag in tags) and tag not in skip


def q(value: str) -> str:
    return shlex.quote(value)


def ledger(*entries: str) -> str:
    """Shell: add ``KIND VALUE`` entries to the host's ledger, each once."""
    lines = "".join(f"{e}\n" for e in entries)
    return (
        f"(umask 077; mkdir -p {STATE_DIR}; touch {LEDGER}; printf %s {q(lines)} | while IFS= read -r e; do "
        f'grep -qxF "$e" {LEDGER} || printf \'%s\\n\' "$e" >> {LEDGER}; done)'
    )


def backup_stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def write_file_command(f: ManagedFile, stamp: str) -> tuple[str, str]:
    """An atomic remote write: temp file in the same directory, checksum verified, owner and mode set,
    fsync, the old file kept as a timestamped backup (the last few are kept), then rename. Returns
    (command, backup path)."""
    data = f.content.encode()
    digest = hashlib.sha256(data).hexdigest()
    payload = base64.b64encode(data).decode()
    path, directory = f.path, f.path.rsplit("/", 1)[0] or "/"
    backup = f"{path}{BACKUP_SUFFIX}.{stamp}"
    script = (
        f"set -e; umask 022; mkdir -p {q(directory)}; umask 077; "
        f"t=$(mktemp {q(directory + '/.pyinstall.XXXXXX')}); "
        "trap 'rm -f \"$t\"' EXIT; "
        # dd reports its statistics and its errors (a full or read-only disk) on stderr: keep the errors.
        f'e=$(printf %s {q(payload)} | base64 -d | dd of="$t" conv=fsync 2>&1) || '
        "{ printf '%s\\n' \"$e\" | grep -v -e ' records ' -e ' copied' >&2; exit 1; }; "
        f'echo {q(digest)}"  $t" | sha256sum -c --quiet; '
        f'chown {q(f.owner + ":" + f.group)} "$t"; chmod {f.mode:o} "$t"; '
        # A hard link, not a copy: it replaces whatever sits at the backup path (even a planted symlink)
        # instead of writing through it.
        f"if [ -f {q(path)} ]; then ln -f {q(path)} {q(backup)}; else rm -f {q(backup)}; fi; "
        f'mv -f "$t" {q(path)}; trap - EXIT; {ledger(f"file {path}")}; '
        # Timestamps sort as text: drop the oldest beyond the last few.
        f"set -- {q(path + BACKUP_SUFFIX)}.*; "
        f'while [ $# -gt {BACKUPS_KEPT} ]; do [ -f "$1" ] && rm -f "$1"; shift; done'
    )
    return script, backup


def _diff(path: str, old: str | None, new: str, secret: bool = False) -> str:
    if secret:
        return f"{path}: holds a password; its diff is not shown\n"
    lines = difflib.unified_diff(
        (old or "").splitlines(True), new.splitlines(True), f"{path} (host)" if old is not None else "/dev/null", path
    )
    return "".join(lines)


def plan(facts: Facts, desired: Desired, stamp: str = "") -> Plan:
    """The operations that bring this host from ``facts`` to ``desired``, in order. Preflight refused
    what cannot be done; nothing here refuses. ``stamp`` names this run's backups."""
    stamp = stamp or backup_stamp()
    platform = desired.platform
    ops: list[Operation] = []
    only = BUNDLE_REPO_ID if desired.bundle is not None else None

    def yum_op(
        name: str, action: str, packages: list[str], why: str, repos: bool = True, options: str = "", **kw: Any
    ) -> Operation:
        command = yum.command(action, *packages, lock_wait=desired.yum_lock_wait, locks=platform.lock_files,
                              only=only if repos else None, options=options)  # fmt: skip
        return Operation(name, (command,), why, timeout=YUM_TIMEOUT, detached=True, **kw)

    if desired.bundle is not None:
        ops += _push_bundle(facts, desired.bundle)

    for f in desired.files:
        if f.tag == "repo":
            ops += _file_op(facts, f, f"repository {f.path}", stamp, tag="repo")

    for package, minimum in platform.update.items():
        current = facts.installed(package)
        if current is not None and evr_compare(current, minimum) < 0:
            ops.append(yum_op(f"update {package}", "update", [package], f"{current} < {minimum}", tag="packages"))

    missing = [p for p in platform.requires if p not in facts.packages]
    if missing:
        op = yum_op("install " + ", ".join(missing), "install", missing, "not installed", tag="packages")
        recorded = ledger(*(f"package {p}" for p in missing))  # pyinstall's to take away again
        ops.append(replace(op, commands=(f"{op.commands[0]} && {recorded}",)))

    if platform.cgconfig:
        ops += _cgconfig(facts)

    # The runtime's packages last of all packages: what undoes their change (_keep) may need the ones above.
    installed = [p for p in desired.remove if p in facts.packages]
    if installed:
        ops.append(yum_op("remove conflicting packages", "remove", installed, f"installed: {', '.join(installed)}",
                          repos=False, tag="packages", runtime=True))  # fmt: skip
    ops += _packages(facts, desired, yum_op)

    if desired.storage_device:
        ops += _store_device(facts, desired.storage_device, store_mount(desired.storage_driver), platform.service)

    config = desired.config_file
    ops += _file_op(facts, config, f"daemon configuration {config.path}", stamp, restarts=True, tag="config")
    for f in desired.files:
        if f.tag == "repo" or f is config:
            continue
        written = _file_op(
            facts, f, f"{file_kind(f.path, f.tag)} {f.path}", stamp, restarts=f.restarts_daemon, tag=f.tag
        )
        ops += [_reloaded(op, f.path, platform.service) for op in written]
    ops += _stale_files(facts, desired, stamp)
    ops += _sysctls(facts, desired.day_two)
    ops += _members(facts, desired.day_two)

    docker = facts.services.get("docker", {})
    service = platform.service
    if not docker.get("enabled"):
        ops.append(Operation("enable docker", (service.enable,), "not enabled at boot", tag="service"))

    kept = _installed_runtime(facts, platform)
    changing = next((i for i, op in enumerate(ops) if op.runtime), None)
    if kept and changing is not None:
        ops.insert(changing, _keep(kept, platform, yum_op, desired.foreign_build))
    result = Plan(ops)
    if desired.bundle is not None:
        result.after = _load_images(facts, desired.bundle)
    result.previous = Previous(bool(docker.get("enabled")), bool(docker.get("active")), service, kept,
                               rollback_command(kept, platform) if kept else "")  # fmt: skip
    # An init script's exit status proves nothing (moby#14102): wait until the daemon answers.
    wait = wait_for_daemon(service)
    if any(op.keeps for op in ops):  # the daemon runs on the new packages: what would undo them can go
        wait += f"; rm -rf {ROLLBACK_DIR}"
    if not docker.get("active"):
        result.start = Operation("start docker", (f"{service.start}; {wait}",), "not running", timeout=180,
                                 tag="service")  # fmt: skip
    elif any(op.restarts for op in ops):
        result.restart = Operation("restart docker", (f"{service.restart}; {wait}",),
                                   "its package or configuration changed", timeout=300, tag="service")  # fmt: skip
    return result


def _installed_runtime(facts: Facts, platform: Platform) -> tuple[str, ...]:
    """The runtime's packages on the host, as yum names one exact build: name-version-release.arch."""
    return tuple(
        f"{name}-{facts.packages[name].split(':', 1)[-1]}"
        for name in platform.runtime_packages
        if name in facts.packages
    )


def daemon_files(platform: Platform) -> tuple[str, ...]:
    """The files that configure the daemon, as pyinstall writes them (kept and restored together)."""
    dropin = (platform.service.mounts_dropin,) if platform.service.mounts_dropin else ()
    return (platform.config_file, *platform.environment_files, *dropin)


def _keep(packages: tuple[str, ...], platform: Platform, yum_op: Any, foreign: int | None = None) -> Operation:
    """Keep the installed runtime's RPM files (from the repositories that installed them, while they can
    be read), the daemon's files and the running containers' ids in ROLLBACK_DIR. Builds of another EL
    release (``foreign``: an in-place OS upgrade left them) are kept only if the host's repositories still
    offer them, which its new release's do not: without them a rollback puts back the daemon's files alone."""
    d = ROLLBACK_DIR
    download = yum_op("", "reinstall", list(packages), "", options=f"--downloadonly --downloaddir={q(d + '/rpms')}")
    files = " ".join(q(f) for f in daemon_files(platform))
    if foreign is None:
        unavailable = (
            f"echo 'the installed packages ({', '.join(packages)}) could not be kept for a rollback: the "
            "repositories (or the offline bundle) no longer offer them; nothing was changed' >&2; exit 1"
        )
        why = ", ".join(packages)
    else:
        unavailable = f"rm -f {d}/rpms/*"  # all or none: a rollback never mixes builds
        why = f"{', '.join(packages)}: EL{foreign} builds, kept if the repositories still offer them"
    script = (
        f"set -e; rm -rf {d}; (umask 077; mkdir -p {d}/rpms); "
        f"printf '%s\\n' {' '.join(q(p.rsplit('-', 2)[0]) for p in packages)} > {d}/packages; "
        f"(docker ps -q --no-trunc 2>/dev/null || true) > {d}/containers; "
        f'for f in {files}; do if [ -f "$f" ]; then printf \'%s\\n\' "${{f#/}}"; fi; done > {d}/files; '
        f"if [ -s {d}/files ]; then tar -C / -cpf {d}/files.tar -T {d}/files; fi; "
        f"if {{ {download.commands[0]}; }} >/dev/null && "
        f"[ $(ls {d}/rpms | grep -c '[.]rpm$') -ge {len(packages)} ]; then exit 0; fi; {unavailable}"
    )
    return replace(download, name=f"keep the installed runtime for a rollback ({d})", commands=(script,),
                   why=why, tag="packages", keeps=True)  # fmt: skip


def rollback_command(packages: tuple[str, ...], platform: Platform) -> str:
    """Put back the packages ROLLBACK_DIR keeps (the runtime's packages installed since, erased), then the
    daemon's files as they were: rpm only, no repository needed. Without packages kept (builds of another
    release, _keep), the installed ones stay and only the files go back."""
    d = ROLLBACK_DIR
    names = " ".join(f"-e {q(n)}" for n in platform.runtime_packages)
    files = " ".join(q(f) for f in daemon_files(platform))
    return (
        f"set -e; cd {d}; if ls rpms/*.rpm >/dev/null 2>&1; then "
        f"extra=$(rpm -qa --qf '%{{NAME}}\\n' | grep -xF {names} | grep -vxF -f packages || true); "
        'if [ -n "$extra" ]; then rpm -e --nodeps $extra; fi; '
        "rpm -U --oldpackage --replacepkgs --replacefiles rpms/*.rpm; fi; "
        f"rm -f {files}; if [ -f files.tar ]; then tar -C / -xpf files.tar; fi"
    )


def _file_op(
    facts: Facts, f: ManagedFile, what: str, stamp: str, restarts: bool = False, tag: str = ""
) -> list[Operation]:
    """Compared by checksum; the text the host sent serves the diff."""
    if facts.file_sums.get(f.path) == hashlib.sha256(f.content.encode()).hexdigest():
        return []
    current = facts.file_content(f.path)
    command, backup = write_file_command(f, stamp)
    why = "absent" if current is None else "content differs"
    diff = _diff(f.path, current, f.content, f.secret)
    hidden = (base64.b64encode(f.content.encode()).decode(),) if f.secret else ()
    return [Operation(f"write {what}", (command,), why, diff, restarts, file=f.path, backup=backup, hidden=hidden,
                      tag=tag)]  # fmt: skip


def file_kind(path: str, tag: str) -> str:
    """What a file pyinstall writes is, in a step's name."""
    if _dropin(path):
        return "unit drop-in"
    if path in (daytwo.MODULES_LOAD, daytwo.MODULES_SCRIPT):
        return "kernel module loaded at boot"
    if path == daytwo.AUTH_FILE:
        return "registry logins"
    names = {"proxy": "daemon proxy environment", "registries": "registry certificate", "sysctl": "kernel settings"}
    return names.get(tag, "daemon environment")


def _dropin(path: str) -> bool:
    return path.startswith("/etc/systemd/system/docker.service.d/")


def _reloaded(op: Operation, path: str, service: Service) -> Operation:
    """A step that writes or removes ``path``, followed, when it is a unit drop-in, by what makes the init system
    read drop-ins again (it does only when told)."""
    if not _dropin(path):
        return op
    return replace(op, commands=(f"{op.commands[0]} && {service.reload or ':'}",))


def _stale_files(facts: Facts, desired: Desired, stamp: str) -> list[Operation]:
    """Day two's files the ledger names that nothing asks for any more (a registry or the proxy taken out of the
    inventory): each kept as a backup and taken away; the daemon restarts when it read the file."""
    wanted = {f.path for f in desired.files}
    ops = []
    for path in dict.fromkeys(facts.ledger.get("file", [])):
        if path in wanted or not daytwo.owned(path) or not facts.has_file(path):
            continue
        tag = daytwo.tag_of(path)
        op = remove_file_op(path, file_kind(path, tag), stamp, tag, "no longer asked")
        ops.append(replace(_reloaded(op, path, desired.platform.service), restarts=daytwo.read_by_daemon(path)))
    return ops


def remove_file_op(path: str, what: str, stamp: str, tag: str, why: str = "") -> Operation:
    """Take a file away, kept as a timestamped backup (a hard link: it replaces whatever sits at the backup's
    path, and the name goes while the text stays), and its certs.d directory with it when that is left empty.
    ``why``: by default, where the backup is."""
    backup = f"{path}{BACKUP_SUFFIX}.{stamp}"
    command = f"if [ -e {q(path)} ]; then ln -f {q(path)} {q(backup)} && rm -f {q(path)}; fi"
    if path.startswith(daytwo.CERTS_DIR + "/"):
        # A backup beside it would keep the directory, and dockerd reads every *.crt there: kept one level up.
        backup = f"{daytwo.CERTS_DIR}/.{path[len(daytwo.CERTS_DIR) + 1 :].replace('/', '_')}{BACKUP_SUFFIX}.{stamp}"
        command = (
            f"if [ -e {q(path)} ]; then ln -f {q(path)} {q(backup)} && rm -f {q(path)}; fi; "
            f"rmdir {q(path.rsplit('/', 1)[0])} 2>/dev/null; true"
        )
    return Operation(f"remove {what} {path}", (command,), why or f"kept as {backup}", backup=backup, tag=tag)


def _sysctls(facts: Facts, day_two: daytwo.DayTwo) -> list[Operation]:
    """The kernel settings asked, set now where they differ (the file in sysctl.d sets them at boot). The
    net.bridge.* settings appear only once bridge netfilter is loaded: loaded first when missing."""
    differ = {k: v for k, v in day_two.sysctls.items() if facts.sysctls.get(k) != " ".join(v.split())}
    if not differ:
        return []
    load = ""
    if any(k.startswith("net.bridge.") for k in differ):
        load = "[ -d /proc/sys/net/bridge ] || modprobe br_netfilter 2>/dev/null || modprobe bridge 2>/dev/null; "
    command = f"{load}sysctl -w {' '.join(q(f'{k}={v}') for k, v in differ.items())} >/dev/null"
    why = ", ".join(f"{k} is {facts.sysctls.get(k) or 'missing'}" for k in differ)
    return [Operation("set the kernel settings Docker needs", (command,), why, tag="sysctl")]


def _members(facts: Facts, day_two: daytwo.DayTwo) -> list[Operation]:
    """docker_users into the docker group (created when the package did not: the daemon gives its socket to
    the group when it starts, so it restarts then); members the ledger names and nothing asks for, out."""
    group, ops = facts.docker_group, []
    joining = [u for u in day_two.users if group is None or u not in group]
    if joining:
        command = (
            f"getent group {daytwo.GROUP} >/dev/null || groupadd -r {daytwo.GROUP}; "
            + "; ".join(f"usermod -a -G {daytwo.GROUP} {q(u)}" for u in joining)
            + f"; {ledger(*(f'member {u}' for u in joining))}"
        )
        ops.append(Operation(f"add {', '.join(joining)} to the {daytwo.GROUP} group", (command,),
                             "not members" if group is not None else f"no {daytwo.GROUP} group yet",
                             restarts=group is None, tag="users"))  # fmt: skip
    leaving = [
        u for u in dict.fromkeys(facts.ledger.get("member", [])) if u not in day_two.users and u in (group or [])
    ]
    leaving = [u for u in leaving if daytwo.valid_user(u)]  # the host's word alone names no command
    if leaving:
        command = "; ".join(f"gpasswd -d {q(u)} {daytwo.GROUP} >/dev/null" for u in leaving)
        ops.append(Operation(f"take {', '.join(leaving)} out of the {daytwo.GROUP} group", (command,),
                             "added by pyinstall, no longer in docker_users", tag="users"))  # fmt: skip
    return ops


def _store_device(facts: Facts, device: str, mount: str, service: Service) -> list[Operation]:
    """The store's own filesystem: XFS with ftype=1 made on the device only if blkid still finds nothing on
    it (preflight saw it empty), mounted at the driver's directory and in /etc/fstab by UUID (written
    atomically), recorded in the ledger. Mounted while the daemon is stopped: it must not run on a store
    that changes under it (the restart follows)."""
    found = facts.block_devices.get(device)
    if found is not None and found["mounted"] == mount:
        return []
    dev, mnt = q(device), q(mount)
    script = (
        f"set -e; dev={dev}; mnt={mnt}; "
        'if [ -z "$(blkid -p -o value -s TYPE "$dev" 2>/dev/null)" ] && [ -z "$(blkid -p -o value -s PTTYPE "$dev" '
        '2>/dev/null)" ]; then mkfs.xfs -q -n ftype=1 "$dev"; fi; '
        'uuid=$(blkid -p -o value -s UUID "$dev"); kind=$(blkid -p -o value -s TYPE "$dev"); '
        '[ "$kind" = xfs ] && [ -n "$uuid" ] || { echo "$dev holds ${kind:-something} now, not the XFS made for the '
        'store: left alone" >&2; exit 1; }; '
        'xfs_info "$dev" 2>/dev/null | grep -q ftype=1 || xfs_db -r -c version "$dev" 2>/dev/null | grep -q FTYPE || '
        '{ echo "$dev is XFS without ftype=1: overlay needs d_type" >&2; exit 1; }; '
        'mkdir -p "$mnt"; if ! grep -q "^UUID=$uuid " /etc/fstab; then '
        't=$(mktemp /etc/.fstab.pyinstall.XXXXXX); trap \'rm -f "$t"\' EXIT; cat /etc/fstab > "$t"; '
        'printf "UUID=%s %s xfs defaults 0 0\\n" "$uuid" "$mnt" >> "$t"; chmod 644 "$t"; mv -f "$t" /etc/fstab; '
        "trap - EXIT; fi; "
        f"if {service.running} >/dev/null 2>&1; then {service.stop} >/dev/null; fi; "
        f'mountpoint -q "$mnt" || mount "$mnt"; {ledger(f"device {device} {mount}")}; '
        # On disk before anything else happens: a hard reset would lose the fstab line, and the store with it.
        "sync"
    )
    return [Operation(f"make the store's filesystem on {device}", (script,), f"XFS (ftype=1) mounted at {mount}",
                      restarts=True, timeout=600, tag="config")]  # fmt: skip


def _cgconfig(facts: Facts) -> list[Operation]:
    ops = []
    service = facts.services.get("cgconfig", {})
    if not service.get("enabled"):
        ops.append(Operation("enable cgconfig", ("chkconfig cgconfig on",), "not enabled at boot", tag="cgroups"))
    if not facts.cgroup_mounts:
        # Its init script can print OK and still fail (moby#14102): the mounts are what count.
        verify = "grep -q ' cgroup ' /proc/mounts || { echo 'cgconfig started but mounted no cgroup' >&2; exit 1; }"
        ops.append(Operation("start cgconfig", (f"service cgconfig start; {verify}",), "no cgroup hierarchy mounted",
                             tag="cgroups"))  # fmt: skip
    return ops


def _packages(facts: Facts, desired: Desired, yum_op: Any) -> list[Operation]:
    """Install, upgrade or downgrade the runtime to the pin. yum saying "Nothing to do" is never a
    change: rpm must show the pinned version afterwards, or the step fails."""
    package, version = desired.package, desired.version
    _, pin_version, pin_release = split_evr(version)
    pinned = f"{package}-{pin_version}" + (f"-{pin_release}" if pin_release else "")
    verify = (
        f"; rpm -q {q(pinned)} >/dev/null || {{ printf '%s\\n' \"yum left $(rpm -q {q(package)}): "
        f'{package} {version} was not installed" >&2; exit 1; }}'
    )
    current = facts.installed(package)
    extras = desired.installs[1:]
    options = " ".join(desired.platform.install_options)  # plain long options, checked when the definition loaded
    built, major = desired.foreign_build, desired.platform.major
    if built is not None:  # an in-place OS upgrade left the builds of the old release (checks.Subject)
        names = (package, *desired.channel.extra_packages)
        held = [spec for spec, name in zip(desired.installs, names) if name in facts.packages]
        missing = [spec for spec, name in zip(desired.installs, names) if name not in facts.packages]
        # yum/dnf install answers "already installed" for the same version built for another release, and
        # upgrade takes the host's build only when its release sorts after the old one's (1.el8 < 3.el7):
        # distro-sync moves each package to the build the repositories offer at its pin, whichever way.
        rebuilt = (
            f"; rpm -q --qf '%{{RELEASE}}\\n' {q(package)} | grep -q '[.]el{major}' || {{ printf '%s\\n' "
            f'"yum left $(rpm -q {q(package)}): not the EL{major} build of {package} {version}" >&2; exit 1; }}'
        )
        op = yum_op(f"replace {package} {current} (an EL{built} build) with the EL{major} build of {version}",
                    "distro-sync", held, f"built for EL{built}, the host runs EL{major}", restarts=True,
                    tag="packages", runtime=True, options=options)  # fmt: skip
        ops = [replace(op, commands=(op.commands[0] + verify + rebuilt,))]
        if missing:
            ops.append(yum_op("install " + ", ".join(missing), "install", missing, "not installed", restarts=True,
                              tag="packages", runtime=True, options=options))  # fmt: skip
        return ops
    if current is not None and evr_compare(current, version) == 0:
        missing = [spec for spec, name in zip(extras, desired.channel.extra_packages) if name not in facts.packages]
        if missing:
            return [yum_op("install " + ", ".join(missing), "install", missing, "not installed", restarts=True,
                           tag="packages", runtime=True, options=options)]  # fmt: skip
        return []
    if current is None:
        name, action, why = f"install {package} {version}", "install", "not installed"
    else:
        action = "downgrade" if evr_compare(current, version) > 0 else "install"
        name, why = f"{action} {package} {current} -> {version}", f"installed {current}, pinned {version}"
    op = yum_op(name, action, list(desired.installs), why, restarts=True, tag="packages", runtime=True, options=options)
    return [replace(op, commands=(op.commands[0] + verify,))]


def _push_bundle(facts: Facts, bundle: Bundle) -> list[Operation]:
    """Send the files the host lacks (by the checksums it verified before), verify them there, then record."""
    have = facts.bundle_sums.get(bundle.platform, {})
    missing = [f for f in bundle.files if have.get(f.path) != f.sha256]
    if not missing:
        return []
    base = bundle.remote_dir
    dirs = sorted({f"{base}/{f.path.rsplit('/', 1)[0]}" for f in bundle.files})
    check = "".join(f"{f.sha256}  {f.path}.part\n" for f in missing)
    record = base64.b64encode(bundle.sums_text().encode()).decode()
    prepare = f"mkdir -p {' '.join(q(d) for d in dirs)} && chmod 0755 {q(base)}"
    verify = (
        f"bad=$(printf %s {q(check)} | while read -r sum file; do "
        'echo "$sum  $file" | sha256sum -c --quiet >/dev/null 2>&1 || { rm -f "$file"; echo "$file"; }; done); '
        'if [ -n "$bad" ]; then echo "sha256 mismatch, removed (run again): $bad" >&2; exit 1; fi; '
    )
    finish = (
        f"set -e; cd {q(base)}; {verify}"
        + "".join(f"mv -f {q(f.path + '.part')} {q(f.path)}; " for f in missing)
        + f"printf %s {q(record)} | base64 -d > {q(SUMS_FILE)}; {ledger(f'dir {base}')}"
    )
    size = sum(f.size for f in missing)
    return [
        Operation(
            f"push offline bundle to {base}",
            (prepare, finish),
            f"{len(missing)} of {len(bundle.files)} files ({size / 1e6:.1f} MB) missing or different",
            timeout=600,
            uploads=tuple((str(bundle.root / f.path), f"{base}/{f.path}.part") for f in missing),
            tag="repo",
        )
    ]


def _load_images(facts: Facts, bundle: Bundle) -> list[Operation]:
    """The bundle's images the daemon lacks (by id), loaded from the archives pushed with the packages, each
    archive once; `docker inspect` must find each image afterwards."""
    present = set(facts.docker_images)
    missing = [i for i in bundle.images if i.id not in present and f"sha256:{i.legacy_id}" not in present]
    ops = []
    for archive in dict.fromkeys(i.file for i in missing):
        held = [i for i in missing if i.file == archive]
        path = f"{bundle.remote_dir}/{archive}"
        # An engine older than 1.10 names an image by its top layer's v1 id, a newer one by its digest.
        found = " && ".join(
            "{ "
            + " || ".join(f"docker inspect {q(name)} >/dev/null 2>&1" for name in (i.id, i.legacy_id) if name)
            + "; }"
            for i in held
        )
        command = (
            f"docker load -i {q(path)} >/dev/null && {found} || "
            f"{{ echo 'docker load left the images of {archive} missing' >&2; exit 1; }}"
        )
        names = ", ".join(i.name for i in held)
        ops.append(Operation(f"load {names} from the bundle", (command,), "not on the host", timeout=600,
                             tag="images"))  # fmt: skip
    return ops


def describe(op: Operation) -> str:
    return f"{op.name} ({op.why})" if op.why else op.name
