"""A lab: one root directory holding the shared repo and layers, the hosts, and their inventory.

<root>/lab.json         hosts (name, kind, store, address), the subnet
<root>/repo/            yum repositories (build.py), bind-mounted read-only at /srv/lab-repo
<root>/layers/el6, ...   distro layers, on their own tmpfs (overlay refuses a lower on the same fs as /)
<root>/hosts/NAME/      upper, work, merged, console.log, pid, docker store
<root>/id_ed25519       the lab's key pair, authorized for root on every host
<root>/known_hosts      every host's key
<root>/inventory.ini    Ansible INI inventory of the hosts
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from . import build
from . import host as hostlib
from .host import Host
from .spec import KINDS, HostSpec, parse

SSH_PORT = 22
FIRST_OCTET = 10  # 127.0.0.1-9 are left to the machine's own services


class LabError(RuntimeError):
    pass


def check_prerequisites() -> list[str]:
    """What this machine lacks to run a lab (empty when it can)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (namespaces, mounts, cgroups)")
    for tool in (
        "unshare",
        "setarch",
        "sshd",
        "ssh-keygen",
        "rpm",
        "rpmbuild",
        "dnf",
        "createrepo_c",
        "mkfs.ext4",
        "chroot",
    ):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            missing.append(tool)
    for path in [build.TINI, *build.PAYLOAD.values()]:
        if not os.path.exists(path):
            missing.append(path)
    try:
        build.systemctl_script()
    except build.BuildError:
        missing.append("docker-systemctl-replacement (pip)")
    return missing


class Lab:
    def __init__(self, root: str | os.PathLike, subnet: str = "127.0.0", port: int = SSH_PORT) -> None:
        self.root = Path(root).resolve()
        self._subnet = subnet  # both fixed when the lab is first brought up
        self._port = port

    # ------------------------------------------------------------ state
    @property
    def state_file(self) -> Path:
        return self.root / "lab.json"

    def _load(self) -> dict:
        if self.state_file.exists():
            return json.loads(self.state_file.read_text())
        return {"subnet": self._subnet, "port": self._port, "hosts": {}}

    def _save(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.state_file)

    @contextmanager
    def _locked(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def hosts(self, names: list[str] | None = None) -> list[Host]:
        state = self._load()
        known, port = state["hosts"], state.get("port", SSH_PORT)
        for name in names or []:
            if name not in known:
                raise LabError(f"no host {name!r} in {self.root} (known: {', '.join(known) or 'none'})")
        return [
            Host(name, h["kind"], h["store"], h["address"], port, self.root / "hosts" / name, h.get("uml", False))
            for name, h in known.items()
            if names is None or name in names
        ]

    def host(self, name: str) -> Host:
        return self.hosts([name])[0]

    @property
    def key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    def layer(self, name: str) -> Path:
        """A distro layer (spec.Kind.layer)."""
        return self.root / "layers" / name

    # ------------------------------------------------------------ shared parts
    def prepare(self) -> None:
        """Build (or reuse) the repo and layers, and the lab key. Idempotent."""
        missing = check_prerequisites()
        if missing:
            raise LabError("this machine cannot run the lab; missing: " + ", ".join(missing))
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pyinstall-lab", "-f", str(self.key)], check=True
            )
        if not build.repo_is_current(self.repo) and any(running for _, running in self.status()):
            raise LabError(
                f"the lab's RPM sources changed since {self.root} was built; "
                f"run `python -m tests.lab down --root {self.root}` first, then `up` again"
            )
        build.build_repo(self.repo)
        layers = self.root / "layers"
        layers.mkdir(exist_ok=True)
        if not os.path.ismount(layers):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755,size=256m", "lab-layers", str(layers)], check=True)
        for name in build.LAYERS:
            build.build_layer(self.layer(name), name, self.repo)
            build.build_layer_image(self.layer(name), build.layer_image(self.layer(name)))

    # ------------------------------------------------------------ hosts
    def up(self, spec: str, prefix: str = "", inventory: Path | None = None) -> list[Host]:
        """Ensure the hosts of SPEC exist and run; write the inventory. Idempotent."""
        wanted = parse(spec, prefix)
        with self._locked():
            self.prepare()
            state = self._load()
            self._allocate(state, wanted)
            self._save(state)
            hosts = self.hosts([h.name for h in wanted])
            pub = (self.key.with_suffix(".pub")).read_text()
            for h in hosts:
                hostlib.first_boot(h, pub)
            self._write_known_hosts()
        self._start(hosts)
        self.write_inventory(inventory or self.root / "inventory.ini", hosts)
        return hosts

    def _allocate(self, state: dict, wanted: list[HostSpec]) -> None:
        used = {h["address"] for h in state["hosts"].values()}
        free = (address for address in _addresses(state["subnet"]) if address not in used)
        for spec in wanted:
            existing = state["hosts"].get(spec.name)
            if existing:
                was = (existing["kind"], existing["store"], existing.get("uml", False))
                if was != (spec.kind, spec.store, spec.uml):
                    raise LabError(
                        f"{spec.name} already exists as {existing['kind']}+{existing['store']}; "
                        f"run `down --purge` first to change its kind"
                    )
                continue
            address = next(free, None)
            if address is None:
                raise LabError(f"no free address left in {state['subnet']}: give two octets (127.1) for more hosts")
            state["hosts"][spec.name] = {"kind": spec.kind, "store": spec.store, "address": address, "uml": spec.uml}

    def _start(self, hosts: list[Host]) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda h: hostlib.start(h, self.layer(KINDS[h.kind].layer), self.repo), hosts))
            ready = list(pool.map(hostlib.wait_ssh, hosts))
        failed = [h for h, ok in zip(hosts, ready) if not ok]
        if failed:
            details = "\n".join(f"  {h.name} ({h.address}:{h.port}): {_last_words(h)}" for h in failed)
            raise LabError(
                f"{len(failed)} host(s) did not answer SSH:\n{details}\n"
                "If the port is taken on all addresses (a machine-wide sshd), bring the lab up with another --port."
            )

    def start(self, names: list[str]) -> None:
        self._start(self.hosts(names))

    def stop(self, names: list[str] | None = None) -> None:
        hosts = self.hosts(names)
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(hostlib.stop, hosts))

    def freeze(self, names: list[str], frozen: bool = True) -> None:
        """Hang the hosts (``frozen=False``: let them go on)."""
        for h in self.hosts(names):
            hostlib.freeze(h, frozen)

    def restart(self, names: list[str]) -> None:
        self.stop(names)
        self.start(names)

    def status(self) -> list[tuple[Host, bool]]:
        return [(h, hostlib.running_pid(h) is not None) for h in self.hosts()]

    def down(self, purge: bool = False) -> None:
        """Stop every host and unmount the layers; ``purge`` also deletes the root."""
        if not self.state_file.exists() and not self.root.exists():
            return
        with self._locked():
            self.stop()
            layers = self.root / "layers"
            if os.path.ismount(layers):
                subprocess.run(["umount", str(layers)], check=True)
        if purge:
            shutil.rmtree(self.root)

    def leftovers(self) -> dict[str, list[str]]:
        """Mounts, live processes, loop devices and cgroups that still belong to this lab."""
        root = str(self.root)
        mounts = [line for line in Path("/proc/mounts").read_text().splitlines() if root in line]
        loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout.splitlines()
        cgroups = [str(d) for h in self.hosts() for d in hostlib.cgroup_dirs(h) if d.exists()]
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        netns = {line.split()[0] for line in listed.splitlines() if line.strip()}
        found = {
            "mounts": mounts,
            "processes": hostlib.processes_under(self.root),
            "loop devices": [line for line in loops if root in line],
            "cgroups": cgroups,
            "network namespaces": sorted(netns & {h.netns for h in self.hosts() if h.uml}),
        }
        return {kind: items for kind, items in found.items() if items}

    # ------------------------------------------------------------ ssh material
    def _write_known_hosts(self) -> None:
        lines = []
        for h in self.hosts():
            keytype, key = h.host_key.read_text().split()[:2]
            target = h.address if h.port == 22 else f"[{h.address}]:{h.port}"
            lines.append(f"{target} {keytype} {key}\n")
        tmp = self.known_hosts.with_suffix(".tmp")
        tmp.write_text("".join(lines))
        tmp.replace(self.known_hosts)

    def write_inventory(self, path: Path, hosts: list[Host]) -> Path:
        groups: dict[str, list[Host]] = {}
        for h in hosts:  # a noisy host is one of its family's (noise is no kind of OS)
            groups.setdefault(h.family if KINDS[h.kind].noisy else h.kind.replace("-", "_"), []).append(h)
        noisy = [h.name for h in hosts if KINDS[h.kind].noisy]
        out = [f"# pyinstall lab fleet in {self.root}: `python -m tests.lab status --root {self.root}`\n"]
        for group, members in groups.items():
            out.append(f"\n[{group}]\n")
            for h in members:
                line = f"{h.name} ansible_host={h.address} lab_kind={h.kind} lab_store={h.store}"
                line += f" docker_storage_driver={_lab_driver(h)}"
                if h.uml and h.store == "lvm":  # the second disk, empty: docker makes the thin pool
                    line += " docker_storage_options=dm.directlvm_device=/dev/ubdb"
                if h.family == "el6" and _lab_driver(h) == "overlay2":
                    # The simulated 2.6.32 kernel text rules overlay out; the real kernel underneath has it.
                    line += " pyinstall_ignore_preflight_errors=OVERLAY_EL6,KERNEL_CONFIG"
                elif h.uml:
                    # Debian's User-Mode Linux kernel has no cpuset or memory cgroup controller (v1): check
                    # says so (CGROUPS), and verify's cgroup test fails on EL6, where cgconfig mounts them.
                    line += " pyinstall_ignore_preflight_errors=CGROUPS"
                out.append(line + "\n")
        if noisy:
            out.append("\n# Their logins print banners and speak German; sshd sends a banner.\n[noisy]\n")
            out.append("".join(f"{name}\n" for name in noisy))
        out.append("\n[lab:children]\n" + "".join(f"{g}\n" for g in groups))
        out.append(
            "\n[all:vars]\n"
            "ansible_user=root\n"
            f"ansible_port={hosts[0].port}\n"
            f"ansible_ssh_private_key_file={self.key}\n"
            f"pyinstall_known_hosts_file={self.known_hosts}\n"
            "# The lab's repositories, laid out like the real mirrors.\n"
            "yum_mirror=file:///srv/lab-repo\n"
            "# The lab's RPMs are not signed: pyinstall says so (GPGCHECK_OFF) on every run.\n"
            "yum_gpgcheck=false\n"
            "# The lab's docker packages carry Debian's 20.10 engine: past EPEL's last docker-io (1.7.1), so every\n"
            "# EL6 host warns VERSION_CEILING, as an EL7 host pinned to the lab's newer 28.x does (Docker's\n"
            "# CentOS 7 repository stops at 26.1.4). Real repositories would not offer these versions.\n"
            f"docker_version={build.DOCKER_VERSION}\n"
            "# The hosts' containers need no network (their dockerd runs in a network namespace of its own):\n"
            "# no bridge, no iptables rules, and so no icc setting.\n"
            "docker_daemon_options={'bridge': 'none', 'iptables': False, 'icc': None}\n"
        )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(out))
        return path


def _lab_driver(host: Host) -> str:
    """The storage driver that can work on a lab host: the machine's kernel has no device-mapper, and
    overlay2 cannot sit on the host's own overlay root (a tmpfs, ext4 or loop store takes it). An @uml
    host's own kernel has device-mapper: devicemapper on loop files, or direct-lvm (+lvm); overlay2 on
    XFS (+xfs0, +xfs1). EL8 and later run overlay2 only (Docker 25 removed devicemapper)."""
    if host.uml:
        return "overlay2" if host.store.startswith("xfs") or host.family in ("el8", "el9") else "devicemapper"
    return "vfs" if host.store == "none" else "overlay2"


def _last_words(host: Host) -> str:
    """The last log line that explains why a host did not come up."""
    for log in (host.dir / "upper/var/log/sshd.log", host.dir / "console.log"):
        try:
            lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            continue
        if lines:
            return f"{lines[-1]} (from {log})"
    return f"no log; see {host.dir}"


__all__ = ["KINDS", "Lab", "LabError", "check_prerequisites"]


def _addresses(subnet: str) -> Iterator[str]:
    """The hosts' addresses, all on the loopback: three octets (127.0.77) give .10-.254, 245 hosts; two
    (127.1) give 127.1.0.10-127.1.255.254, for fleets of thousands."""
    thirds = [f"{subnet}.{third}" for third in range(256)] if subnet.count(".") == 1 else [subnet]
    for prefix in thirds:
        for x in range(FIRST_OCTET, 255):
            yield f"{prefix}.{x}"
