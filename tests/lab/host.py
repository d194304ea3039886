"""One lab host's life: first-boot identity, cgroups, namespaces, start and stop.

A host is a process tree in its own mount/uts/pid/cgroup namespaces (network is shared, so each sshd
listens on its own 127.0.0.X), whose root is an overlay of the host's upper dir, a distro layer and the
machine's own root. Stopping PID 1 of the namespace ends everything in it and every mount with it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .build import FILES, layer_image
from .spec import KINDS
from .uml import kernel

LOOP_STORE_BYTES = 4 << 30  # sparse


@dataclass(frozen=True)
class Host:
    name: str
    kind: str
    store: str
    address: str
    port: int
    dir: Path  # <lab>/hosts/NAME
    uml: bool = False  # under a kernel of its own (User-Mode Linux), not in namespaces of the machine's

    @property
    def family(self) -> str:
        return KINDS[self.kind].family

    @property
    def pidfile(self) -> Path:
        return self.dir / "pid"

    @property
    def host_key(self) -> Path:
        return self.dir / ("seed/upper" if self.uml else "upper") / "etc/ssh/ssh_host_ed25519_key.pub"

    @property
    def store_path(self) -> Path | None:
        if self.uml:
            return self.dir / "docker.img"
        return {"ext4": self.dir / "docker-store", "loop": self.dir / "docker.img"}.get(self.store)

    @property
    def netns(self) -> str:
        """An @uml host's network namespace (its kernel's tap device lives there)."""
        return f"lab-{lab_id(self)}-{self.name}"[:64]


# ---------------------------------------------------------------- cgroups


def lab_id(host: Host) -> str:
    """A short id of the host's lab (its root directory): every machine-wide name a host takes carries it,
    so that two labs with the same host names never touch each other's."""
    return hashlib.sha256(str(host.dir.parents[1].resolve()).encode()).hexdigest()[:8]


def cgroup_dirs(host: Host) -> list[Path]:
    """This process's cgroup in every mounted hierarchy, plus ``lab-LABID-NAME`` below it."""
    member: dict[frozenset[str], str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            member[frozenset(controllers.split(",")) if controllers else frozenset()] = path
    dirs: list[Path] = []
    seen: set[frozenset[str]] = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields, (fstype, _source, superopts) = pre.split(), post.split()[:3]
            if fstype not in ("cgroup", "cgroup2"):
                continue
            root, mountpoint = fields[3], fields[4]
            opts = set(superopts.split(","))
            key = next((k for k in member if (k and k <= opts) or (not k and fstype == "cgroup2")), None)
            if key is None or key in seen:
                continue
            seen.add(key)
            path = member[key]
            rel = path[len(root) :] if path.startswith(root) else path
            dirs.append(Path(mountpoint, rel.lstrip("/"), f"lab-{lab_id(host)}-{host.name}"))
    return dirs


def _make_cgroups(host: Host) -> list[Path]:
    procs = []
    for d in cgroup_dirs(host):
        d.mkdir(exist_ok=True)
        for knob in ("cpuset.cpus", "cpuset.mems"):  # a new cpuset is empty: inherit the parent's
            if (d / knob).exists() and not (d / knob).read_text().strip():
                (d / knob).write_text((d.parent / knob).read_text())
        procs.append(d / "cgroup.procs")
    return procs


def _remove_cgroups(host: Host, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    for top in cgroup_dirs(host):
        if not top.exists():
            continue
        while True:
            try:
                for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    d.rmdir()
                top.rmdir()
                break
            except OSError as exc:
                if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY) or time.monotonic() > deadline:
                    raise
                for pid in _cgroup_pids(top):  # stragglers that outlived the namespace's init
                    _kill(pid, signal.SIGKILL)
                time.sleep(0.05)


def _cgroup_pids_of(host: Host) -> list[int]:
    return [p for top in cgroup_dirs(host) if top.exists() for p in _cgroup_pids(top)]


def _cgroup_pids(top: Path) -> list[int]:
    pids = []
    for procs in top.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in procs.read_text().split()]
    return pids


# ---------------------------------------------------------------- processes


def processes_under(root: Path) -> list[str]:
    """Live processes (zombies aside) of a lab: started with its paths, or chrooted into a host below it."""
    needle = str(root)
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            chroot = os.readlink(proc / "root")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if state != "Z" and (needle.encode() in environ or chroot.startswith(needle)):
            found.append(f"{proc.name} {cmdline}")
    return found


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child of ours is reaped and counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    if state == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def running_pid(host: Host) -> int | None:
    """The pid of the host's `unshare`, if it is running (its environment names the host's root)."""
    try:
        pid = int(host.pidfile.read_text())
        environ = _environ(pid)
    except (OSError, ValueError):
        return None
    if f"LAB_MERGED={host.dir / 'merged'}".encode() not in environ:
        return None
    return pid if _alive(pid) else None


def _environ(pid: int) -> list[bytes]:
    # A process in the middle of exec (the host's bash becoming unshare) shows an empty environment
    # for an instant; a live process never has an empty one here, so look again.
    for _ in range(100):
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        if environ or not _alive(pid):
            return environ.split(b"\0")
        time.sleep(0.001)
    return []


def _ns_init(unshare_pid: int) -> int | None:
    try:
        children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


# ---------------------------------------------------------------- life cycle


def first_boot(host: Host, authorized_key: str) -> None:
    """Write the host's identity into its upper dir (once): host key, root's key, names, kernel. An @uml
    host's upper dir is on its own root disk, made from that identity, beside its docker disk."""
    top = host.dir / "seed" if host.uml else host.dir
    upper = top / "upper"
    if (host.dir / "root.img" if host.uml else upper / "etc/lab/host.conf").exists():
        return
    for d in ("upper", "work", "merged", "upper/etc/lab", "upper/etc/ssh", "upper/root/.ssh"):
        (top / d).mkdir(parents=True, exist_ok=True)
    (upper / "root").chmod(0o550)
    (upper / "root/.ssh").chmod(0o700)
    key = upper / "etc/ssh/ssh_host_ed25519_key"
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host.name}", "-f", str(key)], check=True
        )
    auth = upper / "root/.ssh/authorized_keys"
    auth.write_text(authorized_key)
    auth.chmod(0o600)
    (upper / "etc/hostname").write_text(host.name + "\n")
    (upper / "etc/hosts").write_text(f"127.0.0.1   localhost localhost.localdomain\n{host.address}   {host.name}\n")
    kind = KINDS[host.kind]
    (upper / "etc/lab/kernel-release").write_text(kind.kernel_release + "\n")
    (upper / "etc/lab/kernel-version").write_text(kind.kernel_version + "\n")
    if kind.noisy:
        _make_noisy(upper)
    if host.uml:
        (upper / "etc/lab/host.conf").write_text(
            f"LAB_FAMILY={host.family}\nLAB_ADDRESS={host.address}\nLAB_PORT={host.port}\n"
        )
        _make_disks(host, top)
        return
    if host.store == "ext4":
        host.store_path.mkdir(exist_ok=True)
    elif host.store == "loop" and not host.store_path.exists():
        with open(host.store_path, "wb") as f:
            f.truncate(LOOP_STORE_BYTES)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(host.store_path)], check=True)
    # Written last: its presence marks a complete first boot.
    (upper / "etc/lab/host.conf").write_text(
        f"LAB_FAMILY={host.family}\nLAB_ADDRESS={host.address}\nLAB_PORT={host.port}\n"
    )


UML_DISK_BYTES = 8 << 30  # sparse, each of an @uml host's two disks


def _make_disks(host: Host, seed: Path) -> None:
    """An @uml host's docker disk (ext4; XFS with the asked ftype; empty for direct-lvm), then its root
    disk made from ``seed`` (written last: its presence marks a complete first boot)."""
    for image in (host.store_path, host.dir / "root.img.tmp"):
        image.unlink(missing_ok=True)
        with open(image, "wb") as f:
            f.truncate(UML_DISK_BYTES)
    docker = str(host.store_path)
    if host.store == "disk":
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", docker], check=True)
    elif host.store in ("xfs0", "xfs1"):
        # ftype=0 exists only in XFS's old on-disk format (no CRCs): the CentOS 7.0-7.2 installer's default.
        options = ["-m", "crc=0", "-n", "ftype=0"] if host.store == "xfs0" else ["-n", "ftype=1"]
        subprocess.run(["mkfs.xfs", "-q", "-f", *options, docker], check=True, capture_output=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(seed), str(host.dir / "root.img.tmp")], check=True)
    (host.dir / "root.img.tmp").rename(host.dir / "root.img")


def _spare_disk(host: Host) -> Path:
    """An @uml host's third disk (/dev/ubdd), empty: what docker_storage_device is given (a disk of its own for
    overlay2's store, e.g. when /var/lib/docker's filesystem cannot hold it)."""
    spare = host.dir / "spare.img"
    if not spare.exists():
        with open(spare, "wb") as f:
            f.truncate(UML_DISK_BYTES)
    return spare


# A noisy host's root .bashrc, CentOS's shape (no "interactive only" guard, so ssh commands run it too).
NOISY_BASHRC = """\
echo "*** Authorised users only: this banner comes from .bashrc ***"
echo "noise on stderr" >&2
export LANG=de_DE.UTF-8
[ -f /etc/bashrc ] && . /etc/bashrc
"""
SSH_BANNER = "*** This system is for authorised use only: the SSH banner ***\n"


def _make_noisy(upper: Path) -> None:
    (upper / "root/.bashrc").write_text(NOISY_BASHRC)
    (upper / "etc/issue.net").write_text(SSH_BANNER)
    (upper / "etc/motd").write_text("Welcome: the message of the day (sshd prints it for login shells)\n")
    (upper / "etc/lab/noisy").touch()  # boot gives sshd the banner and the motd
    (upper / "usr/lib/locale").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["localedef", "-i", "de_DE", "-f", "UTF-8", str(upper / "usr/lib/locale/de_DE.UTF-8")],
        check=True, capture_output=True,
    )  # fmt: skip


def share(repo: Path) -> Path:
    """What the machine shares with its namespace hosts, read-write at /srv/lab-share: the lab's proxy
    socket (tests.lab.services). @uml hosts see it not: a unix socket does not cross hostfs."""
    path = repo.parent / "share"
    path.mkdir(exist_ok=True)
    return path


def start(host: Host, layer: Path, repo: Path) -> int:
    """Start the host; returns the pid of its `unshare` (its kernel, for @uml). A running host is left
    alone."""
    pid = running_pid(host)
    if pid:
        return pid
    _remove_cgroups(host)  # left by a crash
    if host.uml:
        return _start_uml(host, layer, repo)
    (host.dir / "upper/etc/lab/booted").unlink(missing_ok=True)  # wait_ssh must see this boot's marker
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LAB_CGROUP_PROCS": ":".join(str(p) for p in _make_cgroups(host)),
        "LAB_NAME": host.name,
        "LAB_LAYER": str(layer),
        "LAB_UPPER": str(host.dir / "upper"),
        "LAB_WORK": str(host.dir / "work"),
        "LAB_MERGED": str(host.dir / "merged"),
        "LAB_REPO": str(repo),
        "LAB_SHARE": str(share(repo)),
        "LAB_ARCH": KINDS[host.kind].arch,
        "LAB_FAMILY": host.family,
        "LAB_STORE": host.store,
        "LAB_STORE_PATH": str(host.store_path or ""),
    }
    # Join the host's cgroups before unshare, so the whole host (and its dockerd) stays inside them.
    join = 'IFS=:; for f in $LAB_CGROUP_PROCS; do echo $$ > "$f"; done; exec "$@"'
    with open(host.dir / "console.log", "ab") as console:
        proc = subprocess.Popen(
            [
                "bash",
                "-c",
                join,
                "lab",
                "unshare",
                "--mount",
                "--uts",
                "--pid",
                "--cgroup",
                "--fork",
                "--kill-child=SIGKILL",
                "--propagation",
                "private",
                str(FILES / "enter-ns"),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=console,
            start_new_session=True,
        )
    host.pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


GUEST, GATEWAY = "10.0.2.15", "10.0.2.2"  # an @uml host's address and its tap's, in its own namespace
UML_MEMORY = "1G"


def _start_uml(host: Host, layer: Path, repo: Path) -> int:
    k = kernel()
    subprocess.run(["ip", "netns", "delete", host.netns], capture_output=True)  # left by a crash
    for argv in (
        ["ip", "netns", "add", host.netns],
        ["ip", "-n", host.netns, "link", "set", "lo", "up"],
        ["ip", "-n", host.netns, "tuntap", "add", "dev", "tap0", "mode", "tap"],
        ["ip", "-n", host.netns, "addr", "add", f"{GATEWAY}/24", "dev", "tap0"],
        ["ip", "-n", host.netns, "link", "set", "tap0", "up"],
    ):
        subprocess.run(argv, check=True, capture_output=True)
    settings = {
        "LAB_NAME": host.name,
        "LAB_REPO": str(repo),
        "LAB_ARCH": KINDS[host.kind].arch,
        "LAB_FAMILY": host.family,
        "LAB_CGROUP": KINDS[host.kind].cgroup,
        "LAB_STORE": host.store,
        "LAB_MODROOT": str(k.modroot),
        "LAB_GUEST": GUEST,
    }
    argv = [
        str(k.binary), f"mem={UML_MEMORY}", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro",
        f"ubd0={host.dir / 'root.img'}", f"ubd1={host.store_path}", f"ubd2r={layer_image(layer)}",
        f"ubd3={_spare_disk(host)}",
        "vec0:transport=tap,ifname=tap0", "con=null", "con0=null,fd:1", f"init={FILES / 'uml-enter'}",
        *(f"{key}={value}" for key, value in settings.items()),
    ]  # fmt: skip
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LAB_CGROUP_PROCS": ":".join(str(p) for p in _make_cgroups(host)),
        "LAB_MERGED": str(host.dir / "merged"),  # how running_pid knows the process for this host's
        "HOME": str(host.dir),  # the kernel keeps its ~/.uml there
    }
    join = 'IFS=:; for f in $LAB_CGROUP_PROCS; do echo $$ > "$f"; done; exec "$@"'
    with open(host.dir / "console.log", "ab") as console:
        forward = [sys.executable, "-m", "tests.lab.forward", host.address, str(host.port), host.netns, GUEST]
        subprocess.Popen(["bash", "-c", join, "lab", *forward], env={**env, "PYTHONPATH": str(FILES.parents[2])},
                         stdin=subprocess.DEVNULL, stdout=console, stderr=console, start_new_session=True)  # fmt: skip
        proc = subprocess.Popen(
            ["bash", "-c", join, "lab", "nsenter", f"--net=/run/netns/{host.netns}", *argv],
            env=env, stdin=subprocess.DEVNULL, stdout=console, stderr=console, start_new_session=True,
        )  # fmt: skip
    host.pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def freeze(host: Host, frozen: bool = True) -> None:
    """Freeze (or thaw) every process of the host: a machine that hangs while the kernel's TCP stack
    (the machine's) still accepts and acknowledges."""
    for d in cgroup_dirs(host):
        if (d / "cgroup.freeze").exists():  # cgroup v2
            (d / "cgroup.freeze").write_text("1" if frozen else "0")
            return
        if (d / "freezer.state").exists():  # cgroup v1
            (d / "freezer.state").write_text("FROZEN" if frozen else "THAWED")
            return
    raise OSError(f"{host.name}: no freezer cgroup on this machine")


def stop(host: Host, timeout: float = 30.0) -> None:
    """TERM the namespace's init (boot stops the services), KILL it after ``timeout``. An @uml host's stop
    is a power cut: everything in its cgroups is killed (its disks are journalled, as a real machine's)."""
    pid = running_pid(host)
    if pid:
        with contextlib.suppress(OSError):
            freeze(host, False)  # a frozen process neither handles TERM nor dies of KILL
    if pid and host.uml:
        for p in _cgroup_pids_of(host):
            _kill(p, signal.SIGKILL)
    elif pid:
        init = _ns_init(pid)
        if init:
            _kill(init, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                _kill(_ns_init(pid) or pid, signal.SIGKILL)
                deadline += timeout
            time.sleep(0.05)
    host.pidfile.unlink(missing_ok=True)
    _remove_cgroups(host)
    if host.uml:
        subprocess.run(["ip", "netns", "delete", host.netns], capture_output=True)


def wait_ssh(host: Host, timeout: float = 60.0) -> bool:
    """Wait until the host has started its enabled services and its sshd sends its banner."""
    deadline = time.monotonic() + timeout
    booted = host.dir / "upper/etc/lab/booted"  # boot removes it first thing, writes it when done
    while time.monotonic() < deadline:
        if host.uml or booted.exists():  # an @uml host's disk cannot be read while it runs: sshd tells
            try:
                with socket.create_connection((host.address, host.port), timeout=2) as s:
                    s.settimeout(2)
                    if s.recv(8).startswith(b"SSH-"):
                        return True
            except OSError:
                pass
        if not running_pid(host):
            return False
        time.sleep(0.05)
    return False
