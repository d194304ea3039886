"""Host kinds and the SPEC syntax of `python -m tests.lab up --hosts SPEC`.

SPEC is a comma list of ``KIND[+STORE][@uml]:COUNT`` items, e.g. ``el6:3,el7+tmpfs:2,el7+lvm@uml:1``.
Names and addresses are deterministic: hosts are named ``KIND[-uml][-STORE]-NN`` in SPEC order. ``@uml``
hosts run under a kernel of their own (User-Mode Linux) instead of in namespaces of the machine's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    family: str  # el6 | el7 | el8 | el9: the init system (SysV on el6, systemd after) and the distro layer
    arch: str  # what `uname -m` says (setarch)
    kernel_release: str  # what `uname -r` says
    kernel_version: str  # what `uname -v` says
    noisy: bool = False  # root's login prints on stdout and stderr and speaks German; sshd sends a banner
    extra: str = ""  # a layer with more packages pre-installed than the family's: LAYER_EXTRAS's key
    # The cgroup hierarchy the host boots with: "v2" (unified) is honoured by @uml hosts only; namespace
    # hosts share the machine's cgroups, v1 here (as an EL9 host booted with systemd.unified_cgroup_hierarchy=0).
    cgroup: str = "v1"

    @property
    def layer(self) -> str:
        return f"{self.family}-{self.extra}" if self.extra else self.family


# What the lab's inventory sets for every host (fleet.write_inventory), for tests on recorded facts: its
# repositories, its engine, and daemon options that leave the machine's network alone.
LAB_VARS = {
    "yum_mirror": "file:///srv/lab-repo",
    "yum_gpgcheck": False,
    "docker_version": "20.10.24",
    "docker_daemon_options": {"bridge": "none", "iptables": False, "icc": None},
}

KINDS: dict[str, Kind] = {
    "el6": Kind("el6", "x86_64", "2.6.32-754.35.1.el6.x86_64", "#1 SMP Tue Sep 15 14:55:54 UTC 2020"),
    "el7": Kind("el7", "x86_64", "3.10.0-1160.el7.x86_64", "#1 SMP Mon Oct 19 16:18:59 UTC 2020"),
    # Rocky Linux 8.10 and AlmaLinux 9.4, with dnf and their distributions' repositories.
    "el8": Kind("el8", "x86_64", "4.18.0-553.el8_10.x86_64", "#1 SMP Fri May 24 13:05:10 UTC 2024"),
    "el9": Kind(
        "el9",
        "x86_64",
        "5.14.0-427.13.1.el9_4.x86_64",
        "#1 SMP PREEMPT_DYNAMIC Wed May 1 19:11:28 EDT 2024",
        cgroup="v2",
    ),
    # Rocky 8 as its "Container Tools" install leaves it: podman, buildah, runc and podman-docker.
    "el8-podman": Kind(
        "el8", "x86_64", "4.18.0-553.el8_10.x86_64", "#1 SMP Fri May 24 13:05:10 UTC 2024", extra="podman"
    ),
    # As real fleets have them: a site banner from .bashrc, noise on stderr, a German locale, an SSH banner.
    "el6-noisy": Kind("el6", "x86_64", "2.6.32-754.35.1.el6.x86_64", "#1 SMP Tue Sep 15 14:55:54 UTC 2020", True),
    "el7-noisy": Kind("el7", "x86_64", "3.10.0-1160.el7.x86_64", "#1 SMP Mon Oct 19 16:18:59 UTC 2020", True),
    "el6-i686": Kind("el6", "i686", "2.6.32-754.35.1.el6.i686", "#1 SMP Tue Sep 15 14:55:54 UTC 2020"),
    # A 6.4-era kernel (below the 2.6.32-431 that Docker needs) under an updated userland.
    "el6-oldkernel": Kind("el6", "x86_64", "2.6.32-358.el6.x86_64", "#1 SMP Fri Feb 22 00:31:26 UTC 2013"),
}

# Where a host's /var/lib/docker lives: on the host's own overlay root ("none": only the vfs driver
# works there), a tmpfs, a bind-mounted directory of the lab root's ext4 filesystem, or an ext4
# image on a loop device.
STORES = ("none", "tmpfs", "ext4", "loop")
# For @uml hosts: a disk of their own, ext4 ("disk"); an empty second disk for direct-lvm, /var/lib/docker
# staying on the root disk's ext4 ("lvm"); XFS formatted with ftype=0 or ftype=1.
UML_STORES = ("disk", "lvm", "xfs0", "xfs1")

_ITEM = re.compile(r"^(?P<kind>[a-z0-9-]+?)(?:\+(?P<store>[a-z0-9]+))?(?P<uml>@uml)?:(?P<count>\d+)$")


class SpecError(ValueError):
    """A SPEC string that cannot be understood."""


@dataclass(frozen=True)
class HostSpec:
    name: str
    kind: str
    store: str
    uml: bool = False

    @property
    def spec(self) -> Kind:
        return KINDS[self.kind]


def parse(spec: str, prefix: str = "") -> list[HostSpec]:
    """Expand SPEC into hosts, in order. ``prefix`` is prepended to every name."""
    hosts: list[HostSpec] = []
    seen: set[tuple[str, str, bool]] = set()
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        match = _ITEM.match(item)
        if not match:
            raise SpecError(
                f"bad host item {item!r}: expected KIND[+STORE][@uml]:COUNT, e.g. el6:2, el7+tmpfs:1 or el7@uml:1"
            )
        kind, uml, count = match["kind"], bool(match["uml"]), int(match["count"])
        stores, default = (UML_STORES, "disk") if uml else (STORES, "none")
        store = match["store"] or default
        if kind not in KINDS:
            raise SpecError(f"unknown host kind {kind!r} in {item!r}: choose from {', '.join(KINDS)}")
        if store not in stores:
            what = "an @uml" if uml else "a"
            raise SpecError(
                f"unknown docker store {store!r} for {what} host in {item!r}: choose from {', '.join(stores)}"
            )
        if (kind, store, uml) in seen:
            raise SpecError(f"{item.split(':')[0]} appears twice in {spec!r}: give one count")
        seen.add((kind, store, uml))
        stem = kind + ("-uml" if uml else "") + ("" if store == default else f"-{store}")
        hosts.extend(HostSpec(f"{prefix}{stem}-{i:02d}", kind, store, uml) for i in range(1, count + 1))
    if not hosts:
        raise SpecError(f"no hosts in {spec!r}")
    return hosts
