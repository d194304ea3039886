"""Operations: compare a host's facts with its desired state and yield commands only where they differ.

    Facts + Desired ─▶ plan() ─▶ [Operation(name, commands, diff, restarts)]  (pure: no connection)

An empty plan means the host is already as asked; "changed" is never claimed, only computed here.
Every value interpolated into a command is quoted with shlex.quote.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import re
import shlex
from dataclasses import dataclass, field

from installer.bundle import SUMS_FILE, Bundle
from installer.facts import Facts
from installer.runtime import BUNDLE_REPO_ID, Desired, ManagedFile, PlanError
from installer.versions import evr_compare, split_evr

YUM_TIMEOUT = 900.0
YUM_LOCK_WAIT = 120  # seconds, unless yum_lock_timeout says otherwise
DRIVER_DIRS = {"devicemapper", "overlay", "overlay2", "vfs", "aufs", "btrfs", "zfs"}
BACKUP_SUFFIX = ".pyinstall-backup"
WAIT_FOR_DAEMON = (
    "i=0; while ! docker info >/dev/null 2>&1; do i=$((i + 1)); "
    "if [ $i -ge 30 ]; then echo 'the docker daemon did not answer within 30s' >&2; exit 1; fi; sleep 1; done"
)
# The daemon's last words, wherever this init system keeps them.
DAEMON_LOG = (
    "for f in /var/log/docker /var/log/journal/docker.service*.log; do "
    '[ -f "$f" ] && { tail -n 20 "$f"; exit 0; }; done; journalctl -u docker -n 20 --no-pager 2>/dev/null'
)


@dataclass(frozen=True)
class Operation:
    name: str
    commands: tuple[str, ...]
    why: str = ""  # what differs
    diff: str = ""  # unified diff of a file it writes
    restarts: bool = False  # the daemon must restart afterwards (package or config changed)
    timeout: float = 120.0
    backup: str | None = None  # where the replaced file is kept, for rollback
    uploads: tuple[tuple[str, str], ...] = ()  # (local path, remote path), sent before the commands
    detached: bool = False  # long transaction: runs on the host apart from the SSH session, polled


@dataclass
class Plan:
    operations: list[Operation] = field(default_factory=list)
    start: Operation | None = None  # start, or restart when an operation asks; None: already running
    restart: Operation | None = None

    def __bool__(self) -> bool:
        return bool(self.operations or self.start)


def q(value: str) -> str:
    return shlex.quote(value)


def _installed_version(facts: Facts, package: str) -> str | None:
    evr = facts.packages.get(package)
    if evr is None:
        return None
    version_release = evr.rsplit(".", 1)[0]  # drop .arch
    _, version, release = split_evr(version_release)
    return f"{version}-{release}" if release else version


def write_file_command(f: ManagedFile) -> tuple[str, str]:
    """An atomic remote write: temp file in the same directory, checksum verified, owner and mode set,
    fsync, the old file kept as a backup, then rename. Returns (command, backup path)."""
    data = f.content.encode()
    digest = hashlib.sha256(data).hexdigest()
    payload = base64.b64encode(data).decode()
    path, directory = f.path, f.path.rsplit("/", 1)[0] or "/"
    backup = path + BACKUP_SUFFIX
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
        f'mv -f "$t" {q(path)}; trap - EXIT'
    )
    return script, backup


def _diff(path: str, old: str | None, new: str) -> str:
    lines = difflib.unified_diff(
        (old or "").splitlines(True), new.splitlines(True), f"{path} (host)" if old is not None else "/dev/null", path
    )
    return "".join(lines)


def _yum(action: str, *packages: str, only: str | None = None, lock_wait: int = YUM_LOCK_WAIT) -> str:
    """A yum command that waits at most ``lock_wait`` seconds for another yum to finish (yum itself would
    wait forever), then fails naming the holder; a stale lock (dead PID) does not stop it.
    ``only``: the one repository to use (an offline bundle), every other disabled."""
    repos = f"--disablerepo='*' --enablerepo={q(only)} " if only else ""
    wait = (
        'i=0; while [ -f /var/run/yum.pid ]; do read -r p < /var/run/yum.pid || break; [ -d "/proc/$p" ] || break; '
        f"i=$((i + 1)); if [ $i -gt {int(lock_wait)} ]; then printf 'yum is locked by PID %s (%s) for over %ss: "
        "let it finish or stop it, then run again\\n' \"$p\" \"$(tr '\\000' ' ' < /proc/$p/cmdline)\" "
        f"{int(lock_wait)} >&2; exit 75; fi; sleep 1; done; "
    )
    return wait + f"yum -y {repos}{action} " + " ".join(q(p) for p in packages)


def _foreign_options(facts: Facts, desired: Desired) -> list[str]:
    """Options also given outside daemon.json: dockerd refuses to start with both (moby#30726)."""
    if desired.service_manager != "systemd":
        return []
    keys = set(desired.daemon_options)
    found = []
    for path, content in facts.docker_config.items():
        if path == desired.config_file.path:
            continue
        is_unit = "/systemd/" in path
        if not is_unit and path not in desired.foreign_config:
            continue
        if not is_unit and desired.package == "docker-ce":
            continue  # docker-ce's unit does not read /etc/sysconfig/docker*
        for flag in re.findall(r"--([a-z][a-z-]+)", content):
            key = {"storage-opt": "storage-opts", "log-opt": "log-opts"}.get(flag, flag)
            if key in keys or (flag == "selinux-enabled" and "selinux-enabled" in keys):
                found.append(f"{path}: --{flag}")
    return found


def plan(facts: Facts, desired: Desired) -> Plan:
    """The operations that bring this host from ``facts`` to ``desired``, in order."""
    ops: list[Operation] = []
    conflicts = _foreign_options(facts, desired)
    if conflicts:
        raise PlanError(
            f"daemon options set both in {desired.config_file.path} and elsewhere: {'; '.join(sorted(set(conflicts)))}",
            "dockerd refuses to start with an option given twice: remove it from the file named, "
            f"{desired.config_file.path} is the single source of truth",
        )
    _check_driver_change(facts, desired)

    only = BUNDLE_REPO_ID if desired.bundle is not None else None

    def yum(action: str, *packages: str, repos: bool = True) -> str:
        return _yum(action, *packages, only=only if repos else None, lock_wait=desired.yum_lock_wait)

    if desired.bundle is not None:
        ops += _push_bundle(facts, desired.bundle)

    installed = [p for p in desired.remove if p in facts.packages]
    if installed:
        ops.append(Operation("remove conflicting packages", (yum("remove", *installed, repos=False),),
                             f"installed: {', '.join(installed)}", timeout=YUM_TIMEOUT, detached=True))  # fmt: skip

    for f in desired.files:
        if f.restarts_daemon:
            continue
        ops += _file_op(facts, f, f"repository {f.path}")

    for package, minimum in desired.update.items():
        current = _installed_version(facts, package)
        if current is not None and evr_compare(current, minimum) < 0:
            ops.append(Operation(f"update {package}", (yum("update", package),),
                                 f"{current} < {minimum}", timeout=YUM_TIMEOUT, detached=True))  # fmt: skip

    missing = [p for p in desired.requires if p not in facts.packages]
    if missing:
        ops.append(Operation("install " + ", ".join(missing), (yum("install", *missing),), "not installed",
                             timeout=YUM_TIMEOUT, detached=True))  # fmt: skip

    if desired.cgconfig:
        ops += _cgconfig(facts)

    ops += _packages(facts, desired, yum)

    config = desired.config_file
    ops += _file_op(facts, config, f"daemon configuration {config.path}", restarts=True)

    docker = facts.services.get("docker", {})
    if not docker.get("enabled"):
        enable = "chkconfig docker on" if desired.service_manager == "sysv" else "systemctl enable docker"
        ops.append(Operation("enable docker", (enable,), "not enabled at boot"))

    result = Plan(ops)
    running = bool(docker.get("active"))
    if desired.service_manager == "sysv":
        start, restart = "service docker start", "service docker restart"
    else:
        start, restart = "systemctl start docker", "systemctl restart docker"
    # An init script's exit status proves nothing (moby#14102): wait until the daemon answers.
    if not running:
        result.start = Operation("start docker", (f"{start}; {WAIT_FOR_DAEMON}",), "not running", timeout=180)
    elif any(op.restarts for op in ops):
        result.restart = Operation("restart docker", (f"{restart}; {WAIT_FOR_DAEMON}",),
                                   "its package or configuration changed", timeout=300)  # fmt: skip
    return result


def _check_driver_change(facts: Facts, desired: Desired) -> None:
    used = sorted(DRIVER_DIRS & set(facts.docker_store_entries) - {desired.storage_driver})
    if used:
        raise PlanError(
            f"/var/lib/docker already holds {', '.join(used)} data; switching to {desired.storage_driver} "
            "would hide its images and containers",
            "migrate the workloads first (separate work), or empty /var/lib/docker if nothing there matters",
        )


def _file_op(facts: Facts, f: ManagedFile, what: str, restarts: bool = False) -> list[Operation]:
    """Compared by checksum; the text the host sent serves the diff."""
    if facts.file_sums.get(f.path) == hashlib.sha256(f.content.encode()).hexdigest():
        return []
    current = facts.file_content(f.path)
    command, backup = write_file_command(f)
    why = "absent" if current is None else "content differs"
    return [Operation(f"write {what}", (command,), why, _diff(f.path, current, f.content), restarts, backup=backup)]


def _cgconfig(facts: Facts) -> list[Operation]:
    ops = []
    service = facts.services.get("cgconfig", {})
    if not service.get("enabled"):
        ops.append(Operation("enable cgconfig", ("chkconfig cgconfig on",), "not enabled at boot"))
    if not facts.cgroup_mounts:
        # Its init script can print OK and still fail (moby#14102): the mounts are what count.
        verify = "grep -q ' cgroup ' /proc/mounts || { echo 'cgconfig started but mounted no cgroup' >&2; exit 1; }"
        ops.append(Operation("start cgconfig", (f"service cgconfig start; {verify}",), "no cgroup hierarchy mounted"))
    return ops


def _packages(facts: Facts, desired: Desired, yum) -> list[Operation]:
    current = _installed_version(facts, desired.package)
    wanted = [f"{desired.package}-{desired.version}"]
    for extra in desired.extra_packages:
        pinned = extra != "containerd.io"  # containerd follows its own versions
        wanted.append(f"{extra}-{desired.version}" if pinned else extra)
    if current is None:
        return [Operation(f"install {desired.package} {desired.version}", (yum("install", *wanted),),
                          "not installed", restarts=True, timeout=YUM_TIMEOUT, detached=True)]  # fmt: skip
    if evr_compare(current, desired.version) == 0:
        missing = [w for w, e in zip(wanted[1:], desired.extra_packages) if e not in facts.packages]
        if missing:
            return [Operation("install " + ", ".join(missing), (yum("install", *missing),), "not installed",
                              restarts=True, timeout=YUM_TIMEOUT, detached=True)]  # fmt: skip
        return []
    action = "downgrade" if evr_compare(current, desired.version) > 0 else "install"
    name = f"{action} {desired.package} {current} -> {desired.version}"
    why = f"installed {current}, pinned {desired.version}"
    return [Operation(name, (yum(action, *wanted),), why, restarts=True, timeout=YUM_TIMEOUT, detached=True)]


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
        + f"printf %s {q(record)} | base64 -d > {q(SUMS_FILE)}"
    )
    size = sum(f.size for f in missing)
    return [
        Operation(
            f"push offline bundle to {base}",
            (prepare, finish),
            f"{len(missing)} of {len(bundle.files)} files ({size / 1e6:.1f} MB) missing or different",
            timeout=600,
            uploads=tuple((str(bundle.root / f.path), f"{base}/{f.path}.part") for f in missing),
        )
    ]


def describe(op: Operation) -> str:
    return f"{op.name} ({op.why})" if op.why else op.name
