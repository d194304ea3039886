"""Preflight checks: pure functions from a host's facts and what was asked to findings.

Each finding says what is wrong, and what to do (``hint``). ``error`` stops provisioning of that
host, ``warning`` is worth reading, ``info`` is context. No check touches a connection.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from installer.facts import Facts
from installer.versions import kernel_at_least

ERROR, WARNING, INFO = "error", "warning", "info"

MIN_KERNEL = {6: "2.6.32-431", 7: "3.10.0"}
OVERLAY2_MIN_KERNEL = "3.10.0-514"
STORAGE_DRIVERS = ("devicemapper", "overlay", "overlay2", "vfs")
DISK_ERROR_GIB = 2.0  # below this, installing the packages and pulling a base image fails
DISK_WARNING_GIB = 10.0
CLOCK_SKEW_SECONDS = 60.0  # registries' TLS and image signatures start to fail
RHEL_LIKE = {
    "centos": "CentOS",
    "rhel": "Red Hat Enterprise Linux",
    "redhat": "Red Hat Enterprise Linux",
    "scientific": "Scientific Linux",
    "sl": "Scientific Linux",
    "oracle": "Oracle Linux",
    "ol": "Oracle Linux",
}
# check-config.sh's required options (EL kernels), and the storage drivers' own.
REQUIRED_KERNEL_OPTIONS = (
    "NAMESPACES", "NET_NS", "PID_NS", "IPC_NS", "UTS_NS", "CGROUPS", "CGROUP_CPUACCT", "CGROUP_DEVICE",
    "CGROUP_FREEZER", "CGROUP_SCHED", "CPUSETS", "VETH", "BRIDGE", "BRIDGE_NETFILTER", "NF_NAT_IPV4",
    "IP_NF_FILTER", "IP_NF_TARGET_MASQUERADE", "NETFILTER_XT_MATCH_ADDRTYPE", "NETFILTER_XT_MATCH_CONNTRACK",
    "NF_NAT", "POSIX_MQUEUE",
)  # fmt: skip
DRIVER_KERNEL_OPTIONS = {
    "devicemapper": ("BLK_DEV_DM", "DM_THIN_PROVISIONING"),
    "overlay": ("OVERLAY_FS",),
    "overlay2": ("OVERLAY_FS",),
    "vfs": (),
}
REQUIRED_CGROUPS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio")
# Packages that must go before the wanted runtime can be installed, per platform and channel.
CONFLICTS = {
    "docker-io": ("docker", "docker-engine", "docker-ce", "lxc-docker"),
    "docker": ("docker-ce", "docker-ce-cli", "docker-engine", "docker-io"),
    "docker-ce": (
        "docker", "docker-client", "docker-client-latest", "docker-common", "docker-latest",
        "docker-latest-logrotate", "docker-logrotate", "docker-engine", "docker-io",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    code: str
    level: str  # error | warning | info
    message: str
    hint: str = ""
    ignored: bool = False  # an error turned into a warning by --ignore-preflight-errors

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Wanted:
    """What was asked of a host (from its merged inventory vars)."""

    storage_driver: str | None = None  # None: the platform's default for these facts
    storage_options: tuple[str, ...] = ()  # e.g. dm.thinpooldev=/dev/mapper/docker-thinpool
    package: str | None = None  # None: the platform's default (docker-io on EL6, docker-ce on EL7)
    ignore: frozenset[str] = field(default_factory=frozenset)  # codes, or "all"

    @classmethod
    def from_vars(cls, hostvars: dict[str, Any], ignore: Iterable[str] = ()) -> Wanted:
        options = hostvars.get("docker_storage_options") or ()
        if isinstance(options, str):
            options = tuple(options.split())
        return cls(
            storage_driver=hostvars.get("docker_storage_driver"),
            storage_options=tuple(str(o) for o in options),
            package=hostvars.get("docker_package"),
            ignore=frozenset(
                c.strip().upper()
                for c in [*ignore, *re.split(r"[,\s]+", str(hostvars.get("pyinstall_ignore_preflight_errors") or ""))]
                if c.strip()
            ),
        )


# ---------------------------------------------------------------- platform


def rhel_family(facts: Facts) -> str | None:
    """The RHEL rebuild's name, or None for anything else."""
    if facts.distro_id in RHEL_LIKE:
        return RHEL_LIKE[facts.distro_id]
    for name in RHEL_LIKE.values():
        if facts.release_text.startswith(name):
            return name
    return None


def platform(facts: Facts) -> int | None:
    """6 or 7 for a supported EL major release, else None."""
    return facts.major if rhel_family(facts) and facts.major in MIN_KERNEL else None


def _overlay_available(facts: Facts) -> bool:
    return "overlay" in facts.filesystems or facts.kernel_config.get("OVERLAY_FS") in ("y", "m")


def _xfs_without_dtype(facts: Facts) -> bool:
    return facts.docker_fs.get("fstype") == "xfs" and facts.docker_fs.get("xfs_ftype") == 0


def default_storage_driver(facts: Facts) -> str:
    """EL6: devicemapper. EL7: overlay2 where its prerequisites hold, else devicemapper."""
    if platform(facts) == 7 and (
        kernel_at_least(facts.kernel_release, OVERLAY2_MIN_KERNEL)
        and _overlay_available(facts)
        and not _xfs_without_dtype(facts)
    ):
        return "overlay2"
    return "devicemapper"


def default_package(facts: Facts) -> str:
    return "docker-io" if platform(facts) == 6 else "docker-ce"


# ---------------------------------------------------------------- checks


def check_arch(facts: Facts, wanted: Wanted) -> list[Finding]:
    if facts.arch == "x86_64" and facts.long_bit in (64, None):
        return []
    what = f"{facts.arch or 'unknown'} machine"
    if facts.arch == "x86_64":
        what = f"x86_64 kernel with a {facts.long_bit}-bit userland"
    return [
        Finding(
            "ARCH",
            ERROR,
            f"{what}: Docker runs only on 64-bit x86_64",
            "reinstall the host with a 64-bit (x86_64) CentOS/RHEL, or leave it out of the inventory",
        )
    ]


def check_os(facts: Facts, wanted: Wanted) -> list[Finding]:
    name = rhel_family(facts)
    shown = facts.release_text or facts.distro_name or "an unknown system"
    if not name:
        return [
            Finding(
                "OS",
                ERROR,
                f"{shown} is not CentOS/RHEL (or Scientific/Oracle Linux) 6.5+ or 7",
                "pyinstall provisions only EL6.5+ and EL7 hosts; leave this host out (--limit '!HOST')",
            )
        ]
    major, minor = facts.major, facts.minor
    if major == 6 and minor is not None and minor < 5:
        return [
            Finding(
                "OS",
                ERROR,
                f"{shown}: EL 6.{minor} is older than 6.5, the first release Docker supports",
                "update the host to 6.5 or later (yum update, then reboot into the new kernel)",
            )
        ]
    if major not in (6, 7):
        too = "old" if major is not None and major < 6 else "new"
        return [
            Finding(
                "OS",
                ERROR,
                f"{shown}: EL {major if major is not None else '?'} is too {too} for pyinstall (EL 6.5+ and 7 only)",
                "EL8 and later ship podman and current Docker packages: use their own tooling"
                if too == "new"
                else "this release cannot run Docker; upgrade the host",
            )
        ]
    return []


def check_kernel(facts: Facts, wanted: Wanted) -> list[Finding]:
    major = platform(facts)
    if major is None or not facts.kernel_release:
        return []
    minimum = MIN_KERNEL[major]
    if kernel_at_least(facts.kernel_release, minimum):
        return []
    return [
        Finding(
            "KERNEL",
            ERROR,
            f"kernel {facts.kernel_release} is older than {minimum}, the minimum for Docker on EL{major}",
            "yum update kernel, reboot into it, and check `uname -r` (an updated host still runs the old "
            "kernel until it reboots)",
        )
    ]


def check_kernel_config(facts: Facts, wanted: Wanted) -> list[Finding]:
    if platform(facts) is None:
        return []
    if not facts.kernel_config_path:
        return [
            Finding(
                "KERNEL_CONFIG_NOT_FOUND",
                WARNING,
                "the kernel config was not found (/boot/config-$(uname -r), /proc/config.gz), so it was not checked",
                "install the kernel's config with its package, or accept the risk",
            )
        ]
    driver = wanted.storage_driver or default_storage_driver(facts)
    required = REQUIRED_KERNEL_OPTIONS + DRIVER_KERNEL_OPTIONS.get(driver, ())
    missing = [o for o in required if facts.kernel_config.get(o, "n") not in ("y", "m")]
    # Kernels >= 5.1 merged NF_NAT_IPV4 into NF_NAT (check-config.sh accepts either).
    if "NF_NAT_IPV4" in missing and facts.kernel_config.get("NF_NAT") in ("y", "m"):
        missing.remove("NF_NAT_IPV4")
    if not missing:
        return []
    return [
        Finding(
            "KERNEL_CONFIG",
            ERROR,
            f"kernel lacks {', '.join('CONFIG_' + o for o in missing)} ({facts.kernel_config_path})",
            "boot a stock EL kernel, which has them all",
        )
    ]


def check_cgroups(facts: Facts, wanted: Wanted) -> list[Finding]:
    major = platform(facts)
    if major == 7:
        missing = [c for c in REQUIRED_CGROUPS if c not in facts.cgroup_mounts]
        if missing:
            return [
                Finding(
                    "CGROUPS",
                    ERROR,
                    f"cgroup controllers not mounted: {', '.join(missing)}",
                    "systemd mounts them at boot under /sys/fs/cgroup; check the kernel command line",
                )
            ]
    elif major == 6 and "cgroup" not in facts.filesystems:
        return [
            Finding(
                "CGROUPS",
                ERROR,
                "the kernel does not offer the cgroup filesystem (/proc/filesystems)",
                "boot a stock EL6 kernel: cgconfig (libcgroup) mounts the hierarchies Docker needs",
            )
        ]
    elif major == 6 and not facts.cgroup_mounts:
        return [
            Finding(
                "CGROUPS",
                INFO,
                "no cgroup hierarchy is mounted yet",
                "provision installs libcgroup and starts cgconfig, which mounts them under /cgroup",
            )
        ]
    return []


def check_storage_driver(facts: Facts, wanted: Wanted) -> list[Finding]:
    major = platform(facts)
    if major is None:
        return []
    driver = wanted.storage_driver or default_storage_driver(facts)
    if driver not in STORAGE_DRIVERS:
        return [
            Finding(
                "STORAGE_DRIVER",
                ERROR,
                f"docker_storage_driver={driver!r} is not one pyinstall configures",
                f"choose one of {', '.join(STORAGE_DRIVERS)}",
            )
        ]
    if driver == "devicemapper":
        return _devicemapper(facts, wanted)
    if driver in ("overlay", "overlay2"):
        return _overlay(facts, driver, major)
    return []


def _devicemapper(facts: Facts, wanted: Wanted) -> list[Finding]:
    dm = facts.device_mapper
    findings = []
    if not (dm.get("in_kernel") or dm.get("available_modules")):
        findings.append(
            Finding(
                "DEVICE_MAPPER",
                ERROR,
                "device-mapper is neither loaded nor available as a module for this kernel",
                "install/boot a kernel with device-mapper (dm_mod, dm_thin_pool), or choose another "
                "docker_storage_driver",
            )
        )
    elif not dm.get("thin_pool") and "dm_thin_pool" not in dm.get("loaded_modules", []):
        findings.append(
            Finding(
                "DEVICE_MAPPER",
                WARNING,
                "the dm_thin_pool target is not loaded and its module was not found",
                "modprobe dm_thin_pool; devicemapper needs thin provisioning",
            )
        )
    thinpool = any(o.startswith("dm.thinpooldev=") for o in wanted.storage_options)
    if not thinpool:
        loop = facts.loop
        if not loop.get("free") and not loop.get("control"):
            findings.append(
                Finding(
                    "LOOP_DEVICES",
                    ERROR,
                    f"no free loop device ({loop.get('devices', 0)} exist, all in use) for devicemapper's loop files",
                    "free some (losetup -d), raise max_loop, or use direct-lvm (dm.thinpooldev)",
                )
            )
        findings.append(
            Finding(
                "DEVICEMAPPER_LOOP",
                WARNING,
                "devicemapper on loop files (loop-lvm) is slow and not for production",
                "give a thin pool with docker_storage_options=dm.thinpooldev=/dev/mapper/<pool> (direct-lvm)",
            )
        )
    return findings


def _overlay(facts: Facts, driver: str, major: int) -> list[Finding]:
    if major == 6:
        return [
            Finding(
                "OVERLAY_EL6",
                ERROR,
                f"{driver} needs an EL7 kernel (3.10.0-514+); EL6 kernels have no overlay filesystem",
                "use docker_storage_driver=devicemapper on EL6 hosts",
            )
        ]
    findings = []
    if driver == "overlay2" and not kernel_at_least(facts.kernel_release, OVERLAY2_MIN_KERNEL):
        findings.append(
            Finding(
                "OVERLAY2_KERNEL",
                ERROR,
                f"overlay2 needs kernel {OVERLAY2_MIN_KERNEL} (EL 7.3) or later; this one is {facts.kernel_release}",
                "update the kernel and reboot, or use docker_storage_driver=overlay or devicemapper",
            )
        )
    if not _overlay_available(facts):
        findings.append(
            Finding(
                "OVERLAY",
                ERROR,
                "the overlay filesystem is not available (not in /proc/filesystems, not in the kernel config)",
                "modprobe overlay, or choose docker_storage_driver=devicemapper",
            )
        )
    if _xfs_without_dtype(facts):
        findings.append(
            Finding(
                "XFS_FTYPE",
                ERROR,
                f"{facts.docker_fs.get('mount')} is xfs with ftype=0: overlay needs d_type (ftype=1)",
                "put /var/lib/docker on a filesystem made with mkfs.xfs -n ftype=1, or use devicemapper",
            )
        )
    return findings


def check_disk(facts: Facts, wanted: Wanted) -> list[Finding]:
    avail = facts.docker_fs.get("avail_kb")
    if avail is None:
        return []
    gib = avail / (1 << 20)
    where = (
        f"{facts.docker_fs.get('path')} ({facts.docker_fs.get('fstype')}, mounted on {facts.docker_fs.get('mount')})"
    )
    if gib < DISK_ERROR_GIB:
        return [
            Finding(
                "DISK_SPACE",
                ERROR,
                f"only {gib:.1f} GiB free under {where}; at least {DISK_ERROR_GIB:g} GiB is needed",
                "free space there, or mount a larger filesystem at /var/lib/docker",
            )
        ]
    if gib < DISK_WARNING_GIB:
        return [
            Finding(
                "DISK_SPACE",
                WARNING,
                f"{gib:.1f} GiB free under {where}; images will fill it quickly",
                f"give /var/lib/docker {DISK_WARNING_GIB:g} GiB or more",
            )
        ]
    return []


def check_yum_lock(facts: Facts, wanted: Wanted) -> list[Finding]:
    lock = facts.yum_lock
    if not lock:
        return []
    if lock["alive"]:
        return [
            Finding(
                "YUM_LOCK",
                ERROR,
                f"yum is locked by PID {lock['pid']} ({lock.get('command') or 'command unknown'})",
                "wait for it to finish, or stop it; provision would wait on the lock",
            )
        ]
    return [
        Finding(
            "YUM_LOCK_STALE",
            INFO,
            f"stale yum lock {lock.get('pidfile')} (PID {lock['pid']} is gone)",
            "yum removes it on its next run",
        )
    ]


def check_requiretty(facts: Facts, wanted: Wanted) -> list[Finding]:
    login = facts.user.get("login")
    if not facts.user.get("requiretty") or login in (None, "root"):
        return []
    return [
        Finding(
            "REQUIRETTY",
            WARNING,
            f"sudoers has 'Defaults requiretty': sudo over SSH needs a terminal for {login}",
            "pyinstall allocates a pty for sudo; other tools may not. Drop requiretty (as EL 7.3+ does)",
        )
    ]


def check_conflicts(facts: Facts, wanted: Wanted) -> list[Finding]:
    if platform(facts) is None:
        return []
    package = wanted.package or default_package(facts)
    found = [p for p in CONFLICTS.get(package, ()) if p in facts.packages]
    if not found:
        return []
    listed = ", ".join(f"{p}-{facts.packages[p]}" for p in found)
    level = WARNING
    hint = "provision removes them before installing " + package
    if facts.docker_store_entries:
        hint += f"; /var/lib/docker already holds {', '.join(facts.docker_store_entries[:5])}: back it up first"
    return [Finding("CONFLICTING_PACKAGES", level, f"installed packages conflict with {package}: {listed}", hint)]


def check_jobs(facts: Facts, wanted: Wanted) -> list[Finding]:
    """Transactions an earlier run left on the host (its connection dropped): never blindly repeated."""
    findings = []
    for job in facts.jobs:
        if job["state"] == "running":
            findings.append(Finding("JOB_RUNNING", ERROR,
                                    f"a yum transaction from an earlier run is still running (PID {job['pid']})",
                                    f"wait for it to finish (log {job['log']}), then run again"))  # fmt: skip
        elif job["state"] == "lost":
            findings.append(Finding("JOB_LOST", WARNING,
                                    f"a yum transaction from an earlier run died unfinished (log {job['log']})",
                                    "yum-complete-transaction may be needed; this run checks afresh"))  # fmt: skip
        elif job.get("rc") not in (0, None):
            findings.append(Finding("JOB_FAILED", WARNING,
                                    f"a yum transaction from an earlier run ended with status {job['rc']}",
                                    f"its log: {job['log']}; this run checks packages afresh"))  # fmt: skip
    return findings


def check_selinux(facts: Facts, wanted: Wanted) -> list[Finding]:
    if not facts.selinux:
        return []
    return [Finding("SELINUX", INFO, f"SELinux is {facts.selinux}", "")]


def check_clock(facts: Facts, wanted: Wanted) -> list[Finding]:
    skew = facts.clock_skew
    if skew is None or abs(skew) <= CLOCK_SKEW_SECONDS:
        return []
    return [
        Finding(
            "CLOCK_SKEW",
            WARNING,
            f"the host's clock is {abs(skew):.0f}s {'ahead of' if skew > 0 else 'behind'} this machine's",
            "run ntpd/chronyd on the host: TLS to registries fails when clocks disagree",
        )
    ]


def check_facts(facts: Facts, wanted: Wanted) -> list[Finding]:
    if not facts.missing_sections:
        return []
    return [
        Finding(
            "FACTS",
            ERROR,
            f"facts incomplete: sections {', '.join(facts.missing_sections)} missing from the host's answer",
            "the script was cut short; run again with -vv to see the host's output",
        )
    ]


CHECKS: tuple[Callable[[Facts, Wanted], list[Finding]], ...] = (
    check_facts,
    check_arch,
    check_os,
    check_kernel,
    check_kernel_config,
    check_cgroups,
    check_storage_driver,
    check_disk,
    check_yum_lock,
    check_requiretty,
    check_conflicts,
    check_jobs,
    check_selinux,
    check_clock,
)


def run_checks(facts: Facts, wanted: Wanted) -> list[Finding]:
    """Every check; errors named in ``wanted.ignore`` (or all, with "ALL") become ignored warnings."""
    findings = [f for check in CHECKS for f in check(facts, wanted)]
    ignore_all = "ALL" in wanted.ignore
    return [
        replace(f, level=WARNING, ignored=True) if f.level == ERROR and (ignore_all or f.code in wanted.ignore) else f
        for f in findings
    ]


def passed(findings: Iterable[Finding]) -> bool:
    return not any(f.level == ERROR for f in findings)


KNOWN_CODES = (
    "FACTS", "ARCH", "OS", "KERNEL", "KERNEL_CONFIG", "KERNEL_CONFIG_NOT_FOUND", "CGROUPS", "STORAGE_DRIVER",
    "DEVICE_MAPPER", "LOOP_DEVICES", "DEVICEMAPPER_LOOP", "OVERLAY_EL6", "OVERLAY2_KERNEL", "OVERLAY", "XFS_FTYPE",
    "DISK_SPACE", "YUM_LOCK", "YUM_LOCK_STALE", "REQUIRETTY", "CONFLICTING_PACKAGES", "SELINUX", "CLOCK_SKEW",
    "JOB_RUNNING", "JOB_LOST", "JOB_FAILED",
)  # fmt: skip


def unknown_codes(codes: Iterable[str]) -> list[str]:
    """Codes given to --ignore-preflight-errors that no check emits (a typo ignores nothing)."""
    known = {"ALL", *KNOWN_CODES}
    return [c for c in codes if c.strip().upper() not in known and c.strip()]
