"""Preflight checks: pure functions from a host's facts and what was asked of it to findings.

    Facts + Asked ─▶ Subject (the host's platform, channel, storage driver and version, settled once)
                 ─▶ every check ─▶ [Finding]

Each finding says what is wrong, and what to do (``hint``). ``error`` stops provisioning of that host,
``warning`` is worth reading, ``info`` is context. No check touches a connection. Every refusal
provision could make before its first change is a check here, so `check` answers exactly what
`provision` would refuse.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from installer import daemon_options, daytwo, platforms
from installer.asked import Asked
from installer.facts import Facts
from installer.outcome import Finding, Level, passed
from installer.platforms import Channel, Platform
from installer.repos import Repo, repos
from installer.versions import built_for, evr_compare, kernel_at_least, newest, satisfies, split_evr

ERROR, WARNING, INFO = Level.ERROR, Level.WARNING, Level.INFO
DISK_ERROR_GIB = 2.0  # below this, installing the packages and pulling a base image fails
DISK_WARNING_GIB = 10.0
CLOCK_SKEW_SECONDS = 60.0  # registries' TLS and image signatures start to fail
# Said before the install (check) and of the running daemon (info, validate): one wording.
DEVICEMAPPER_LOOP_HINT = (
    "give devicemapper a thin pool: docker_storage_options=dm.thinpooldev=/dev/mapper/<pool> (direct-lvm)"
)
D_TYPE_HINT = "put /var/lib/docker on xfs made with ftype=1 (or ext4), then re-create the images"


@dataclass(frozen=True)
class Subject:
    """A host as the checks see it: its facts, what was asked, and what follows from both."""

    facts: Facts
    asked: Asked
    platform: Platform | None  # None: not a platform pyinstall provisions
    channel: Channel | None  # None: the package or channel asked is not one the platform has
    storage_driver: str | None  # asked, or the platform's default for these facts

    @property
    def pin(self) -> str | None:
        """The version asked (docker_version), else the channel's own."""
        return (self.asked.version or self.channel.version) if self.channel else None

    @property
    def runs_pin(self) -> str | None:
        """The installed version, when it is the one pinned and built for the host's release (no lookup
        needed)."""
        installed = self.facts.installed(self.channel.package) if self.channel else None
        pinned = installed and self.pin and satisfies(installed, self.pin) and not self.foreign_build
        return installed if pinned else None

    @property
    def foreign_build(self) -> int | None:
        """The EL release the installed runtime was built for, when it is not the host's: an in-place OS
        upgrade (ELevate) leaves the EL7 build running on EL8 until provision replaces it."""
        installed = self.facts.installed(self.channel.package) if self.channel and self.platform else None
        release = built_for(installed) if installed else None
        return release if release is not None and self.platform and release != self.platform.major else None

    @property
    def version(self) -> str | None:
        """The Docker version the host will run: installed at the pin, or the pin resolved against its
        repositories (the newest matching release), else the pin as given."""
        pin = self.pin
        if pin is None or self.runs_pin:
            return self.runs_pin or pin
        major = self.platform.major if self.platform else None
        builds = [v for v in self.facts.available or () if satisfies(v, pin) and built_for(v) in (None, major)]
        resolved = newest(builds)
        return resolved.split(":", 1)[-1] if resolved else pin  # the Docker version, not the package's epoch


def subject(facts: Facts, asked: Asked) -> Subject:
    platform = platforms.of(facts)
    channel = platform.channel_for(asked.package, asked.channel) if platform else None
    driver = asked.storage_driver
    if platform and not driver:
        driver = default_storage_driver(facts, platform)
    return Subject(facts, asked, platform, channel, driver)


def default_storage_driver(facts: Facts, platform: Platform) -> str:
    """The first of the platform's preferred drivers whose prerequisites hold on this host (EL7:
    overlay2 where its kernel, overlayfs and d_type allow, else devicemapper)."""
    preferred = platform.default_storage_drivers
    for driver in preferred:
        if not any(f.level == ERROR for f in _driver_findings(facts, platform, driver, ())):
            return driver
    return preferred[-1]


# ---------------------------------------------------------------- the host


def check_arch(s: Subject) -> list[Finding]:
    facts = s.facts
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


def check_os(s: Subject) -> list[Finding]:
    facts = s.facts
    name = platforms.family(facts)
    shown = facts.release_text or facts.distro_name or "an unknown system"
    majors = sorted(p.major for p in platforms.all_platforms())
    releases = [
        f"{p.major}.{p.min_minor}+" if p.min_minor else str(p.major)
        for p in sorted(platforms.all_platforms(), key=lambda p: p.major)
    ]
    supported = " and ".join([", ".join(releases[:-1]), releases[-1]] if len(releases) > 1 else releases)
    if not name:
        known = dict.fromkeys(n for p in platforms.all_platforms() for n in p.distributions.values())
        return [
            Finding(
                "OS",
                ERROR,
                f"{shown} is not one of the distributions pyinstall provisions ({', '.join(known)}: EL {supported})",
                "leave this host out (--limit '!HOST'), or add its distribution to a platform definition "
                "(README: Adding a platform)",
            )
        ]
    if s.platform is None:
        major = facts.major
        too = "old" if major is not None and major < majors[0] else "new"
        return [
            Finding(
                "OS",
                ERROR,
                f"{shown}: EL {major if major is not None else '?'} is too {too} for pyinstall (EL {supported})",
                f"no platform definition covers EL {major} yet (README: Adding a platform)"
                if too == "new"
                else "this release cannot run Docker; upgrade the host",
            )
        ]
    minor = facts.minor
    if minor is not None and minor < s.platform.min_minor:
        first = f"{s.platform.major}.{s.platform.min_minor}"
        return [
            Finding(
                "OS",
                ERROR,
                f"{shown}: EL {facts.major}.{minor} is older than {first}, the first release Docker supports",
                f"update the host to {first} or later (yum update, then reboot into the new kernel)",
            )
        ]
    return []


def check_kernel(s: Subject) -> list[Finding]:
    if s.platform is None or not s.facts.kernel_release:
        return []
    minimum = s.platform.min_kernel
    if kernel_at_least(s.facts.kernel_release, minimum):
        return []
    return [
        Finding(
            "KERNEL",
            ERROR,
            f"kernel {s.facts.kernel_release} is older than {minimum}, the minimum for Docker on {s.platform.id}",
            "yum update kernel, reboot into it, and check `uname -r` (an updated host still runs the old "
            "kernel until it reboots)",
        )
    ]


def check_kernel_config(s: Subject) -> list[Finding]:
    facts = s.facts
    if s.platform is None:
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
    driver = s.platform.storage_drivers.get(s.storage_driver or "")
    required = s.platform.kernel_options + (driver.kernel_options if driver else ())
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


def check_cgroups(s: Subject) -> list[Finding]:
    facts = s.facts
    if s.platform is None:
        return []
    if facts.cgroup_version == 2:  # one unified hierarchy: its controllers must be enabled there
        missing = [c for c in s.platform.cgroups.v2 if c not in facts.cgroup2_controllers]
        if missing:
            return [
                Finding(
                    "CGROUPS",
                    ERROR,
                    f"cgroup v2 controllers not available: {', '.join(missing)} (/sys/fs/cgroup/cgroup.controllers)",
                    "boot a stock kernel; or boot cgroup v1 with systemd.unified_cgroup_hierarchy=0",
                )
            ]
        return []
    offered = facts.cgroup_subsystems
    absent = [c for c in s.platform.cgroups.v1 if offered and c not in offered]
    if absent:  # nothing can mount what the kernel does not have
        return [
            Finding(
                "CGROUPS",
                ERROR,
                f"the kernel offers no {', '.join(absent)} cgroup controller{'s' if len(absent) > 1 else ''} "
                "(/proc/cgroups): Docker needs them",
                "boot a stock EL kernel, which has them all",
            )
        ]
    if not s.platform.cgconfig:  # the init system mounted them at boot
        missing = [c for c in s.platform.cgroups.v1 if c not in facts.cgroup_mounts]
        if missing:
            return [
                Finding(
                    "CGROUPS",
                    ERROR,
                    f"cgroup controllers not mounted: {', '.join(missing)}",
                    "systemd mounts them at boot under /sys/fs/cgroup; check the kernel command line",
                )
            ]
        return []
    if "cgroup" not in facts.filesystems:
        return [
            Finding(
                "CGROUPS",
                ERROR,
                "the kernel does not offer the cgroup filesystem (/proc/filesystems)",
                "boot a stock kernel: cgconfig (libcgroup) mounts the hierarchies Docker needs",
            )
        ]
    if not facts.cgroup_mounts:
        return [
            Finding(
                "CGROUPS",
                INFO,
                "no cgroup hierarchy is mounted yet",
                "provision installs libcgroup and starts cgconfig, which mounts them under /cgroup",
            )
        ]
    return []


# ---------------------------------------------------------------- storage


def _overlay_available(facts: Facts) -> bool:
    return "overlay" in facts.filesystems or facts.kernel_config.get("OVERLAY_FS") in ("y", "m")


def check_storage_driver(s: Subject) -> list[Finding]:
    if s.platform is None or s.storage_driver is None:
        return []
    return _driver_findings(s.facts, s.platform, s.storage_driver, s.asked.storage_options, s.asked.storage_device)


def _driver_findings(
    facts: Facts, platform: Platform, driver: str, options: tuple[str, ...], device: str | None = None
) -> list[Finding]:
    spec = platform.storage_drivers.get(driver)
    if spec is None:
        return [
            Finding(
                "STORAGE_DRIVER",
                ERROR,
                f"docker_storage_driver={driver!r} is not supported on {platform.id}",
                f"choose one of {', '.join(platform.storage_drivers)}",
            )
        ]
    if spec.refused is not None:
        refused = spec.refused
        return [Finding(refused.code, ERROR, refused.message.format(driver=driver, platform=platform.id), refused.hint)]
    findings = []
    if spec.min_kernel and not kernel_at_least(facts.kernel_release, spec.min_kernel):
        findings.append(
            Finding(
                spec.kernel_code,
                ERROR,
                f"{driver} needs kernel {spec.min_kernel} or later; this one is {facts.kernel_release}",
                "update the kernel and reboot, or choose another docker_storage_driver",
            )
        )
    if spec.prerequisites:
        findings += PREREQUISITES[spec.prerequisites](facts, driver, options, device)
    return findings


def _devicemapper(facts: Facts, driver: str, options: tuple[str, ...], device: str | None) -> list[Finding]:
    dm = facts.device_mapper
    findings = []
    # The core driver itself: dm-thin-pool's module alone cannot load without dm-mod.
    if not (dm.get("in_kernel") or "dm-mod" in dm.get("available_modules", [])):
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
    # direct-lvm: a thin pool given (dm.thinpooldev), or a block device Docker makes one on (dm.directlvm_device)
    findings += _thin_pool(facts, options)
    if thin_pool(options) is None:
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
                DEVICEMAPPER_LOOP_HINT,
            )
        )
    return findings


DIRECT_LVM_POOL = "docker-thinpool"  # the pool Docker makes on dm.directlvm_device


def thin_pool(storage_options: tuple[str, ...]) -> str | None:
    """The device-mapper name of the pool these options put the data in (`docker info`'s Pool Name):
    dm.thinpooldev's device, or the one Docker makes itself on dm.directlvm_device; None: loop files."""
    for option in storage_options:
        key, _, value = option.partition("=")
        if key == "dm.thinpooldev":
            return value.rsplit("/", 1)[-1]
        if key == "dm.directlvm_device":
            return DIRECT_LVM_POOL
    return None


def _thin_pool(facts: Facts, options: tuple[str, ...]) -> list[Finding]:
    """The pool dm.thinpooldev names is a thin pool here; the disk dm.directlvm_device gives is there,
    unmounted and blank, or already carries the pool Docker made on it (a re-run)."""
    asked = dict(o.partition("=")[::2] for o in options)
    dm = facts.device_mapper
    devices = dm.get("devices", {})
    findings = []
    pool = asked.get("dm.thinpooldev")
    if pool and (dm.get("targets") or not dm.get("in_kernel")):  # dmsetup answered, or there is no device-mapper
        name = pool.rsplit("/", 1)[-1]
        kind = devices.get(name)
        if kind != "thin-pool":
            what = "is not a device-mapper device here" if kind is None else f"is a {kind} device, not a thin pool"
            findings.append(Finding("THIN_POOL", ERROR, f"dm.thinpooldev={pool}: {name} {what}",
                                    "create the pool first (lvcreate --type thin-pool), or give the one there "
                                    "(dmsetup ls --target thin-pool)"))  # fmt: skip
    disk = asked.get("dm.directlvm_device")
    if disk and facts.block_devices and devices.get(DIRECT_LVM_POOL) != "thin-pool":
        why = _disk_in_use(facts, disk)
        if why.startswith("carries"):
            why += ": Docker would not take it"
        if why:
            findings.append(Finding("DIRECT_LVM_DEVICE", ERROR, f"dm.directlvm_device={disk} {why}",
                                    "give an empty, unmounted disk; wipe one only if nothing on it matters "
                                    "(wipefs -a)"))  # fmt: skip
    return findings


def _disk_in_use(facts: Facts, disk: str) -> str:
    """Why ``disk`` is not a blank disk to hand over ("" when it is): not a block device here, mounted, or
    carrying a filesystem or LVM signature (dm.directlvm_device's and docker_storage_device's check)."""
    found = facts.block_devices.get(disk)
    if found is None and not disk.startswith(("/dev/disk/", "/dev/mapper/")):  # links: not resolved here
        return "is not a block device on this host (/proc/partitions)"
    if found is not None and found["mounted"]:
        return f"is mounted on {found['mounted']}"
    if found is not None and found["signature"]:
        return f"carries a filesystem or LVM signature ({found['signature']})"
    return ""


def _overlay(facts: Facts, driver: str, options: tuple[str, ...], device: str | None) -> list[Finding]:
    findings: list[Finding] = []
    if not _overlay_available(facts):
        findings.append(
            Finding(
                "OVERLAY",
                ERROR,
                "the overlay filesystem is not available (not in /proc/filesystems, not in the kernel config)",
                "modprobe overlay, or choose docker_storage_driver=devicemapper",
            )
        )
    if device:  # the store goes on a filesystem pyinstall makes for it (check_store_device)
        return findings
    fs = facts.docker_fs
    if fs.get("fstype") == "xfs" and fs.get("xfs_ftype") == 0:
        findings.append(
            Finding(
                "XFS_FTYPE",
                ERROR,
                f"{fs.get('mount')} is xfs with ftype=0: overlay needs d_type (ftype=1)",
                "put /var/lib/docker on a filesystem made with mkfs.xfs -n ftype=1, or use devicemapper",
            )
        )
    if fs.get("fstype") == "overlay":
        findings.append(
            Finding(
                "OVERLAY_BACKING",
                ERROR,
                f"{fs.get('path')} is on an overlay filesystem ({fs.get('mount')}): {driver} cannot "
                "stack its layers on it (mounts fail with 'invalid argument')",
                "mount a filesystem of its own (xfs with ftype=1, ext4) at /var/lib/docker, or choose "
                "docker_storage_driver=vfs",
            )
        )
    return findings


# The host checks a driver's ``prerequisites`` names (runtime/storage.yml; platforms.PREREQUISITES).
PREREQUISITES: dict[str, Callable[[Facts, str, tuple[str, ...], str | None], list[Finding]]] = {
    "device-mapper": _devicemapper,
    "overlayfs": _overlay,
}


def store_mount(driver: str) -> str:
    """Where docker_storage_device is mounted: the driver's own directory, so that the volumes, the
    containers' files and the other drivers' stores stay where they are."""
    return f"/var/lib/docker/{driver}"


def check_store_device(s: Subject) -> list[Finding]:
    """docker_storage_device: a disk or LV for the store, formatted (XFS, ftype=1) only when it is empty: no
    filesystem or LVM signature, no partitions, not mounted; or already mounted where the store goes."""
    device, driver = s.asked.storage_device, s.storage_driver
    if device is None or driver is None or s.platform is None:
        return []
    spec = s.platform.storage_drivers.get(driver)
    if spec is None or spec.prerequisites != "overlayfs":
        return [Finding("STORE_DEVICE", ERROR, f"docker_storage_device={device} is for overlay2; {driver} is asked",
                        "for devicemapper give dm.directlvm_device in docker_storage_options")]  # fmt: skip
    found, mount = s.facts.block_devices.get(device), store_mount(driver)
    if found is not None and found["mounted"] == mount:
        return []
    within = re.compile(re.escape(device) + r"p?\d+")
    partitions = sorted(p for p in s.facts.block_devices if within.fullmatch(p))
    why = _disk_in_use(s.facts, device) or (f"has partitions ({', '.join(partitions)})" if partitions else "")
    if not why:
        return []
    if not why.startswith(("is not", "is mounted")):
        why += ": pyinstall formats only an empty disk"
    hint = "give an empty, unmounted disk or logical volume; wipe one only if nothing on it matters (wipefs -a)"
    if found is not None and found["signature"] == "xfs" and not found["mounted"]:
        hint = f"if pyinstall made it for the store (its UUID is in /etc/fstab), mount it: mount {mount}; " + hint
    return [Finding("STORE_DEVICE", ERROR, f"docker_storage_device={device} {why}", hint)]


def check_store(s: Subject) -> list[Finding]:
    """Another driver's data under /var/lib/docker: switching would hide its images and containers."""
    used = sorted(set(platforms.storage().data_dirs) & set(s.facts.docker_store_entries) - {s.storage_driver})
    if s.asked.migration.migrate:  # what the migration moves is its business (check_migration)
        from installer import migration

        used = [u for u in used if u != migration.source(s)]
    if not used or s.storage_driver is None:
        return []
    return [
        Finding(
            "STORE_IN_USE",
            ERROR,
            f"/var/lib/docker already holds {', '.join(used)} data; switching to "
            f"{s.storage_driver} would hide its images and containers",
            'move the images over with --migrate-storage (README: "Moving off devicemapper"), or empty '
            "/var/lib/docker if nothing there matters",
        )
    ]


def check_migration(s: Subject) -> list[Finding]:
    """--migrate-storage, --purge-old-storage: installer/migration.py says what refuses them."""
    if s.facts.migration is None:
        return []
    from installer import migration  # its steps import the executor, which imports these checks

    return migration.check(s)


# ---------------------------------------------------------------- what is installed and configured


def check_package(s: Subject) -> list[Finding]:
    if s.platform is None or s.channel is not None:
        return []
    asked = f"docker_package={s.asked.package}" if s.asked.package else f"docker_channel={s.asked.channel}"
    offered = ", ".join(f"{c.name} ({c.package})" for c in s.platform.channels.values())
    return [Finding("PACKAGE", ERROR, f"{asked} is not offered on {s.platform.id}", f"choose one of: {offered}")]


def check_version(s: Subject) -> list[Finding]:
    """The version pinned must be one the host can install: from its repositories, or the bundle."""
    facts, channel = s.facts, s.channel
    if channel is None:
        return []
    pin = s.pin
    if facts.available is None and not facts.available_error:
        if facts.yum_lock and facts.yum_lock.get("alive") and not s.runs_pin:
            return [
                Finding(
                    "VERSION_UNCHECKED",
                    WARNING,
                    f"{channel.package} {pin} could not be looked up: the package manager is locked",
                    "if the version is missing, the install step fails, after the steps before it",
                )
            ]
        return []  # installed at the pin already, or the facts script alone (`pyinstall facts`)
    source = "the offline bundle" if s.platform and s.platform.id in s.asked.bundles else "its repositories"
    if facts.available_error:
        return [
            Finding(
                "REPOSITORY",
                ERROR,
                f"the versions of {channel.package} could not be listed from {source}: {facts.available_error}",
                channel.repository_hint or "check yum_mirror / yum_repos and the host's network, then run again",
            )
        ]
    if any(satisfies(v, pin) for v in facts.available or ()):
        return []
    offered = ", ".join(facts.available[-8:]) if facts.available else "none"
    return [
        Finding(
            "VERSION_UNAVAILABLE",
            ERROR,
            f"{channel.package} {pin} is not in {source}; it offers: {offered}",
            "pin docker_version to one of those, or add the version to the mirror",
        )
    ]


def check_downgrade(s: Subject) -> list[Finding]:
    """A pin below the installed version would downgrade the runtime: only when asked (--allow-downgrade)."""
    if s.platform is None or s.channel is None or s.pin is None:
        return []
    # The engine installed, from this channel or another (docker-ce 20.10 -> extras' docker 1.13.1 is one
    # too): Docker's versions compared, not the packages' epochs.
    package = next((c.package for c in (s.channel, *s.platform.channels.values()) if c.package in s.facts.packages),
                   None)  # fmt: skip
    installed = s.facts.installed(package) if package else None
    if installed is None or satisfies(installed, s.pin) or evr_compare(installed, s.pin) < 0:
        return []
    switch = f" ({s.channel.name} channel's {s.channel.package})" if package != s.channel.package else ""
    return [
        Finding(
            "DOWNGRADE",
            ERROR,
            f"{package} {installed} is installed and {s.pin} is pinned{switch}: that is a downgrade",
            "pin docker_version at or above the installed version, or run with --allow-downgrade (the daemon then "
            "restarts on the older version, which may not read what the newer one wrote)",
        )
    ]


def check_foreign_build(s: Subject) -> list[Finding]:
    """The runtime built for another EL release (left by an in-place OS upgrade): provision replaces it."""
    built = s.foreign_build
    if built is None or s.channel is None or s.platform is None:
        return []
    package = s.channel.package
    return [
        Finding(
            "FOREIGN_BUILD",
            WARNING,
            f"{package} {s.facts.installed(package)} is built for EL{built}; this host runs EL{s.platform.major}",
            f"provision replaces it with the EL{s.platform.major} build (its configuration, images and containers "
            "kept)",
        )
    ]


def check_timeline(s: Subject) -> list[Finding]:
    """Docker's versions over time: a pin past what the channel's real repository ever offered, and a pin
    whose dockerd no longer has the storage driver the host runs or is asked for."""
    if s.platform is None or s.channel is None or not s.version:
        return []
    version, channel, findings = split_evr(s.version)[1], s.channel, []  # the Docker version, not the package's
    last = channel.last_release
    if last and evr_compare(version, last) > 0 and s.platform.id not in s.asked.bundles:
        findings.append(
            Finding(
                "VERSION_CEILING",
                WARNING,
                f"{channel.package} {version} is pinned: no real {s.platform.id} repository of the {channel.name} "
                f"channel offers it (they stop at {last})",
                f"pin docker_version at or below {last}, unless a mirror of your own carries this version",
            )
        )
    running = set(s.facts.docker_store_entries) & set(s.platform.storage_drivers)
    for name in sorted({s.storage_driver, *running} - {None}):
        driver = s.platform.storage_drivers.get(name)  # type: ignore[arg-type]
        if driver is None or not driver.removed_in or evr_compare(version, driver.removed_in) < 0:
            continue
        how = "is asked for it" if name == s.storage_driver else f"runs it (/var/lib/docker/{name})"
        findings.append(
            Finding(
                "DRIVER_REMOVED",
                ERROR,
                f"Docker {version} has no {name} storage driver (dockerd {driver.removed_in} removed it); this "
                f"host {how}",
                f"move the host's storage off {name} first (provision --migrate-storage, at the installed version), "
                f"or pin docker_version below {driver.removed_in}",
            )
        )
    return findings


def check_daemon_options(s: Subject) -> list[Finding]:
    """Options the Docker version to be installed lacks, or that EL6's flags cannot carry."""
    if s.platform is None or s.channel is None or s.storage_driver is None:
        return []
    version = s.version or ""
    options = daemon_options.merged(s.asked.daemon_options, version, s.storage_driver, s.asked.storage_options)
    findings = [
        Finding(
            "DAEMON_OPTION",
            ERROR,
            f"daemon option {key} needs Docker {since} or later; this host gets {version}",
            "drop it from docker_daemon_options, or pin a newer docker_version",
        )
        for key, since in daemon_options.too_new(s.asked.daemon_options, version)
        if s.asked.daemon_options[key] is not None
    ]
    findings += [
        Finding(
            "DAEMON_OPTION",
            ERROR,
            f"daemon option {key}: the {s.channel.package} package's docker.service already passes it as a flag "
            f"({s.channel.name} channel); dockerd refuses to start with it in {s.platform.config_file} too",
            f'drop {key} from docker_daemon_options on this channel (README: "Who owns which option")',
        )
        for key in s.channel.unit_options
        if key in options
    ]
    if s.platform.config_style == "flags":
        findings += [
            Finding(
                "DAEMON_OPTION",
                ERROR,
                f"{problem}: it cannot be passed on {s.platform.id}'s command line ({s.platform.config_file})",
                "simplify the value, or drop the option",
            )
            for problem in daemon_options.flag_problems(options)
        ]
    return findings


def _daemon_json_keys(s: Subject) -> set[str]:
    """The options provision writes to the daemon's configuration for this host (storage-opts whenever
    storage options may come)."""
    written = daemon_options.merged(s.asked.daemon_options, s.version or "", s.storage_driver or "", ())
    return {*written, "storage-opts"}


def check_foreign_config(s: Subject) -> list[Finding]:
    """Options also given by a unit or drop-in of the administrator's: dockerd refuses to start with both
    (moby#30726)."""
    if s.platform is None or s.channel is None or s.platform.config_style != "json":
        return []
    keys = _daemon_json_keys(s)
    found = []
    for path, content in s.facts.docker_config.items():
        # The channel's environment files are provision's to write, without these options.
        if not any(fnmatch.fnmatchcase(path, pattern) for pattern in s.platform.unit_files):
            continue
        found += [f"{path}: --{flag}" for flag, key in daemon_options.keys_in_flags(content) if key in keys]
    if not found:
        return []
    config = s.platform.config_file
    return [
        Finding(
            "FOREIGN_CONFIG",
            ERROR,
            f"daemon options set both in {config} and elsewhere: {'; '.join(sorted(set(found)))}",
            "dockerd refuses to start with an option given twice: remove "
            f"it from the file named, {config} is the single source of truth",
        )
    ]


def check_unmanaged_options(s: Subject) -> list[Finding]:
    """The user's own options in the current configuration, which provision would replace."""
    if s.platform is None or s.channel is None:
        return []
    findings = _unmanaged_environment(s)
    text = s.facts.docker_config.get(s.platform.config_file)
    current = daemon_options.read_config(text, s.platform.config_style) if text else None
    asked = set(s.asked.daemon_options) | set(daemon_options.defaults()) | {"storage-driver", "storage-opts"}
    extra = sorted(k for k in daemon_options.config_keys(current or {}, s.platform.config_style) if k not in asked)
    if not extra:
        return findings
    return [
        Finding(
            "UNMANAGED_OPTIONS",
            WARNING,
            f"{s.platform.config_file} sets {', '.join(extra)}, which the "
            "inventory does not ask for: provision replaces the file without them",
            "add them to docker_daemon_options to keep them (the replaced file is kept as a backup)",
        ),
        *findings,
    ]


def _unmanaged_environment(s: Subject) -> list[Finding]:
    """Flags an administrator put in the channel's environment files that provision's version of them has
    neither there nor in the daemon configuration: they would be lost."""
    assert s.platform is not None and s.channel is not None
    kept = _daemon_json_keys(s)
    found = []
    for path, variables in s.channel.environment.items():
        text = s.facts.docker_config.get(path)
        if text is None:
            continue
        ours = {key for value in variables.values() for _, key in daemon_options.keys_in_flags(value)}
        for value in daemon_options.read_environment(text).values():
            found += [f"{path}: --{flag}" for flag, key in daemon_options.keys_in_flags(value)
                      if key not in ours and key not in kept]  # fmt: skip
    if not found:
        return []
    return [
        Finding(
            "UNMANAGED_OPTIONS",
            WARNING,
            f"options the inventory does not ask for: {'; '.join(found)}; provision writes these files with the "
            "package's own values",
            "add them to docker_daemon_options to keep them (the replaced files are kept as backups)",
        )
    ]


def check_gpgcheck(s: Subject) -> list[Finding]:
    if s.platform is None or s.channel is None or s.platform.id in s.asked.bundles:
        return []
    off = [r.id for r in repos(s.platform, s.channel, s.asked, s.facts.distro_id) if not r.gpgcheck]
    if not off:
        return []
    return [
        Finding(
            "GPGCHECK_OFF",
            WARNING,
            f"packages from {', '.join(off)} are installed without signature checks",
            "sign the mirror's packages and serve the key (yum_repos gpgkey), then drop yum_gpgcheck=false",
        )
    ]


def check_bundle_login(s: Subject) -> list[Finding]:
    if s.platform is None or s.platform.id not in s.asked.bundles or s.facts.user.get("login") in (None, "root"):
        return []
    remote = s.asked.bundles[s.platform.id].remote_dir
    return [
        Finding(
            "BUNDLE_LOGIN",
            ERROR,
            f"offline bundles are pushed over SFTP into {remote}: that needs a root "
            f"login, not {s.facts.user.get('login')}",
            "connect as root for the bundle run (ansible_user=root), or serve the RPMs from a yum_mirror",
        )
    ]


def check_bundles(s: Subject) -> list[Finding]:
    """Bundles given on the command line cover the host's platform: never a silent fall back to the network."""
    if s.platform is None or not s.asked.bundles or s.platform.id in s.asked.bundles:
        return []
    given = ", ".join(sorted(s.asked.bundles))
    return [
        Finding(
            "BUNDLE_PLATFORM",
            ERROR,
            f"the offline bundles given are for {given}; this {s.platform.id} host would install from its "
            "network repositories instead",
            f"give a bundle for {s.platform.id} too (pyinstall bundle create --platform {s.platform.id}), or "
            "leave this host out (--limit)",
        )
    ]


def check_bundle_images(s: Subject) -> list[Finding]:
    """The host's engine must load the bundle's image archives: refused before anything is pushed."""
    bundle = s.asked.bundles.get(s.platform.id) if s.platform else None
    if bundle is None or not s.pin:
        return []
    version = split_evr(s.pin)[1]
    older = [i for i in bundle.images if i.min_engine and evr_compare(version, i.min_engine) < 0]
    if not older:
        return []
    names = ", ".join(f"{i.name} ({i.file}, docker {i.min_engine} or later)" for i in older)
    return [Finding("IMAGE_FORMAT", ERROR, f"the bundle's images cannot be loaded by docker {version}: {names}",
                    "save them again with a docker that writes the older format (1.10 to 24 keep v1 metadata), "
                    "or pin a newer docker_version")]  # fmt: skip


def check_disk(s: Subject) -> list[Finding]:
    facts = s.facts
    avail = facts.docker_fs.get("avail_kb")
    root = s.asked.root_dir
    if root and root.rstrip("/") != "/var/lib/docker":  # the facts measure /var/lib/docker, not this
        return [
            Finding(
                "DISK_SPACE",
                INFO,
                f"the free space under data-root {root} was not measured (the facts look at /var/lib/docker)",
                f"make sure {root} has 10 GiB or more free",
            )
        ]
    if avail is None:
        return []
    # In a thin pool the images live in the pool: /var/lib/docker keeps volumes, logs and metadata only.
    pooled = s.storage_driver == "devicemapper" and thin_pool(s.asked.storage_options) is not None
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
    if gib < DISK_WARNING_GIB and not pooled:
        return [
            Finding(
                "DISK_SPACE",
                WARNING,
                f"{gib:.1f} GiB free under {where}; images will fill it quickly",
                f"give /var/lib/docker {DISK_WARNING_GIB:g} GiB or more",
            )
        ]
    return []


def check_yum_lock(s: Subject) -> list[Finding]:
    facts = s.facts
    lock = facts.yum_lock
    if not lock:
        return []
    if lock["alive"]:
        return [
            Finding(
                "YUM_LOCK",
                ERROR,
                f"{lock.get('pidfile')}: the package manager is locked by PID {lock['pid']} "
                f"({lock.get('command') or 'command unknown'})",
                "wait for it to finish, or stop it; provision would wait on the lock",
            )
        ]
    return [
        Finding(
            "YUM_LOCK_STALE",
            INFO,
            f"stale lock {lock.get('pidfile')} of the package manager (PID {lock['pid']} is gone)",
            "yum or dnf removes it on its next run",
        )
    ]


def check_requiretty(s: Subject) -> list[Finding]:
    facts = s.facts
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


def check_os_upgrade(s: Subject) -> list[Finding]:
    """What an in-place upgrade to the platform asked (check --upgrade-to el8: ELevate, Leapp) meets on this
    host, as far as Docker goes: each thing to change first is an error (the host is not ready), then what
    the upgrade changes (info): the runtime's build and pin, the storage, Docker's repository, the
    distribution's container tools that provision removes afterwards."""
    target_id = s.asked.upgrade_to
    if target_id is None or s.platform is None:
        return []
    source, target = s.platform, platforms.by_id(target_id)
    if source.major >= target.major:
        return []
    el = f"EL{target.major}"
    if source.major != target.major - 1 or source.major < 7:
        return [Finding(
            "OS_UPGRADE_BLOCKED", ERROR,
            f"EL{source.major} has no in-place upgrade to {el}: Leapp (ELevate) moves EL7 to EL8 and EL8 to EL9, "
            "one release at a time",
            f"reinstall the host with {el}" if source.major < 7 else f"upgrade to EL{source.major + 1} first",
        )]  # fmt: skip
    facts, blocked = s.facts, []
    running = [p for c in source.channels.values() if (p := c.package) in facts.packages]
    channel = target.channel_for(s.asked.package, s.asked.channel)
    default_package, overlay = target.channels[target.channel].package, target.default_storage_drivers[0]
    for package in running:
        if not any(c.package == package for c in target.channels.values()):
            blocked.append((
                f"{package} {facts.installed(package)} has no {el} build in any channel pyinstall knows",
                f"move the host to {default_package} first, on the current release (docker_package={default_package})",
            ))  # fmt: skip
    if channel is None:
        blocked.append((f"{s.asked.package or s.asked.channel} is not a channel of {el}",
                        f"ask for one of {', '.join(target.channels)} in the inventory"))  # fmt: skip
    pinned_build = built_for(s.asked.version) if s.asked.version else None
    if pinned_build is not None and pinned_build != target.major:
        alone = split_evr(s.asked.version)[1]
        blocked.append((f"docker_version={s.asked.version} pins an EL{pinned_build} build",
                        f"pin the version alone ({alone}), which {el}'s build matches too"))  # fmt: skip
    held = {d for d in facts.docker_store_entries if d in platforms.storage().drivers}
    asked_driver = s.asked.storage_driver
    for driver in sorted(held | ({asked_driver} if asked_driver else set())):
        spec = target.storage_drivers.get(driver)
        if spec is None or spec.refused is not None:
            where = f"/var/lib/docker/{driver} holds data" if driver in held else "the inventory asks for it"
            blocked.append((
                f"{driver} ({where}) is not run on {el}",
                f"move the store to {overlay} first, on the current release (docker_storage_driver={overlay}, "
                "provision --migrate-storage)",
            ))  # fmt: skip
    store = facts.docker_fs
    if store.get("fstype") == "xfs" and store.get("xfs_ftype") == 0:
        blocked.append((
            f"/var/lib/docker is on XFS with ftype=0 ({store.get('mount')}): {el}'s {overlay} needs d_type",
            "give the store a disk of its own (docker_storage_device) or re-create it with mkfs.xfs -n ftype=1",
        ))  # fmt: skip
    if facts.podman_containers:
        owners = "; ".join(f"{o}: {', '.join(n)}" for o, n in sorted(facts.podman_containers.items()))
        blocked.append((f"podman has containers ({owners}): {el}'s Docker packages replace podman",
                        "remove them (podman rm, as each owner) or move them to Docker first"))  # fmt: skip
    findings = [Finding("OS_UPGRADE_BLOCKED", ERROR, f"before an in-place upgrade to {el}: {what}", hint)
                for what, hint in blocked]  # fmt: skip
    if channel is None:
        return findings
    pin = s.asked.version or channel.version
    said = [f"{p} {facts.installed(p)} (an EL{source.major} build) is replaced by {el}'s at {pin}" for p in running
            if p == channel.package] or [f"{channel.package} is not installed ({el}'s at {pin} will be)"]  # fmt: skip
    drivers = sorted(held) or [asked_driver or overlay]
    fs = f" on {store['fstype']}" if store.get("fstype") else ""
    said.append(f"storage driver {', '.join(drivers)}{fs}")
    now = _repo_urls(repos(source, s.channel, s.asked, facts.distro_id), source.major, facts.arch) if s.channel else ""
    after = _repos_after(target, channel, s)
    said.append(f"Docker's repository {now or 'none'} now, {after} after")
    tools = [p for p in channel.conflicts if p in facts.packages and p not in running]
    if tools:
        said.append(f"provision removes {', '.join(tools)}")
    findings.append(Finding(
        "OS_UPGRADE", INFO, f"in place to {el}: " + "; ".join(said),
        f"after the upgrade, `pyinstall provision` takes the host to {el}'s definition: packages reinstalled at the "
        "pin, configuration, images and containers kept",
    ))  # fmt: skip
    return findings


def _repo_urls(found: tuple[Repo, ...], major: int, arch: str) -> str:
    urls = (r.baseurl.replace("$releasever", str(major)).replace("$basearch", arch or "$basearch") for r in found)
    return ", ".join(dict.fromkeys(urls))


def _repos_after(target: Platform, channel: Channel, s: Subject) -> str:
    """Docker's repository after the upgrade: the host's own distribution's where the target has it
    (RHEL stays RHEL), else each distribution's the upgrade may bring (CentOS 7 becomes AlmaLinux, Rocky, ...)."""
    keep = s.facts.distro_id if s.facts.distro_id in target.distributions and s.facts.distro_id != "centos" else None
    by_url: dict[str, list[str]] = {}
    for distribution in [keep] if keep else list(target.distributions):
        url = _repo_urls(repos(target, channel, s.asked, distribution), target.major, s.facts.arch) or "none"
        by_url.setdefault(url, []).append(distribution)
    if len(by_url) == 1:
        return next(iter(by_url))
    return ", ".join(f"{url} ({', '.join(names)})" for url, names in by_url.items())


def check_conflicts(s: Subject) -> list[Finding]:
    facts = s.facts
    if s.channel is None:
        return []
    package = s.channel.package
    found = [p for p in s.channel.conflicts if p in facts.packages and p != package]
    if not found:
        return []
    listed = ", ".join(f"{p}-{facts.packages[p]}" for p in found)
    findings = []
    if "podman" in found and facts.podman_containers:  # removing podman would strand them
        held = "; ".join(f"{owner}: {', '.join(names)}" for owner, names in sorted(facts.podman_containers.items()))
        count = sum(len(names) for names in facts.podman_containers.values())
        findings.append(Finding(
            "PODMAN_CONTAINERS", ERROR, f"podman has {count} container(s), which removing it would strand: {held}",
            "remove them (podman rm, as each owner) or move them to Docker first; provision removes podman only "
            "when it has none",
        ))  # fmt: skip
    level = WARNING
    hint = "provision removes them before installing " + package
    if facts.docker_store_entries:
        hint += f"; /var/lib/docker already holds {', '.join(facts.docker_store_entries[:5])}: back it up first"
    return [*findings, Finding("CONFLICTING_PACKAGES", level, f"installed packages conflict with {package}: {listed}",
                               hint)]  # fmt: skip


def check_jobs(s: Subject) -> list[Finding]:
    """Transactions an earlier run left on the host (its connection dropped): never blindly repeated."""
    facts = s.facts
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


def check_selinux(s: Subject) -> list[Finding]:
    facts = s.facts
    if not facts.selinux:
        return []
    return [Finding("SELINUX", INFO, f"SELinux is {facts.selinux}", "")]


def check_firewall(s: Subject) -> list[Finding]:
    """What Docker's networking meets, reported: firewalld and the iptables it drives."""
    fw = s.facts.firewall
    if not fw:
        return []
    said = []
    if "firewalld" in fw:
        backend = f" ({fw['firewalld_backend']} backend)" if "firewalld_backend" in fw else ""
        said.append(f"firewalld {fw['firewalld']}{backend}")
    if "iptables" in fw:
        said.append(f"iptables {fw['iptables']}")
    hint = ""
    if fw.get("firewalld") == "running":
        hint = ("Docker 20.10 and later put their bridges in firewalld's 'docker' zone; older engines' rules are "
                "lost when firewalld reloads (restart docker after firewall-cmd --reload)")  # fmt: skip
    return [Finding("FIREWALL", INFO, "; ".join(said), hint)]


def check_clock(s: Subject) -> list[Finding]:
    facts = s.facts
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


def check_facts(s: Subject) -> list[Finding]:
    facts = s.facts
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


def check_day_two(s: Subject) -> list[Finding]:
    """docker_users must exist (pyinstall adds them to the docker group, never creates them); docker_sysctls must
    be settings the kernel has (net.bridge.* appear once bridge netfilter is loaded, which provision does)."""
    asked, facts = s.asked.day_two, s.facts
    findings = []
    missing = [u for u in asked.users if u not in facts.users]
    if missing:
        findings.append(Finding("DOCKER_USERS", ERROR, f"docker_users: no such user on the host: {', '.join(missing)}",
                                "create the users first (pyinstall adds users to the docker group, it never creates "
                                "them), or leave them out of docker_users"))  # fmt: skip
    if asked.logins and daytwo.AUTH_FILE in facts.file_sums and daytwo.AUTH_FILE not in facts.ledger.get("file", []):
        findings.append(Finding("REGISTRY_AUTH", ERROR, f"docker_registry_auth: {daytwo.AUTH_FILE} is there already, "
                                "not written by pyinstall (a `docker login` by hand?): provision would replace it",
                                "move its logins into docker_registry_auth and delete the file, or ignore "
                                "REGISTRY_AUTH to replace it (a backup is kept beside it)"))  # fmt: skip
    unknown = [k for k in asked.sysctls if k in facts.sysctls and facts.sysctls[k] is None]
    unknown = [k for k in unknown if not k.startswith("net.bridge.") or facts.kernel_config.get("BRIDGE") == "n"]
    if unknown:
        findings.append(Finding("SYSCTL", ERROR, f"docker_sysctls: the kernel has no {', '.join(unknown)}",
                                "correct the name (sysctl -a lists them), or set it to null in docker_sysctls to "
                                "leave it alone"))  # fmt: skip
    return findings


CHECKS: tuple[Callable[[Subject], list[Finding]], ...] = (
    check_facts,
    check_arch,
    check_os,
    check_kernel,
    check_kernel_config,
    check_cgroups,
    check_storage_driver,
    check_store,
    check_store_device,
    check_migration,
    check_disk,
    check_yum_lock,
    check_requiretty,
    check_package,
    check_version,
    check_downgrade,
    check_foreign_build,
    check_os_upgrade,
    check_timeline,
    check_daemon_options,
    check_foreign_config,
    check_unmanaged_options,
    check_gpgcheck,
    check_bundles,
    check_bundle_images,
    check_bundle_login,
    check_conflicts,
    check_jobs,
    check_day_two,
    check_selinux,
    check_firewall,
    check_clock,
)


def run_checks(facts: Facts, asked: Asked) -> list[Finding]:
    """Every check; errors named in ``asked.ignore`` (or all, with "ALL") become ignored warnings."""
    s = subject(facts, asked)
    findings = [f for check in CHECKS for f in check(s)]
    ignore_all = "ALL" in asked.ignore
    return [
        replace(f, level=WARNING, ignored=True) if f.level == ERROR and (ignore_all or f.code in asked.ignore) else f
        for f in findings
    ]


__all__ = ["ERROR", "INFO", "WARNING", "Finding", "Subject", "passed", "run_checks", "subject"]
