"""The outcome vocabulary every command shares: finding levels, task and host statuses, findings.

Statuses are strings on the wire (JSON, reports) and enum members in the code, never bare literals.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any


class _Word(str, enum.Enum):
    """A member that is its own value wherever it is printed or serialised."""

    __str__ = str.__str__
    __format__ = str.__format__


class Level(_Word):
    ERROR = "error"  # stops the host (preflight) or marks it not as asked (info)
    WARNING = "warning"
    INFO = "info"


class Status(_Word):
    """A task's or a host's outcome, Ansible's protocol plus what a fleet run adds."""

    OK = "ok"  # as asked (check: passed; info: valid)
    CHANGED = "changed"  # made as asked (provision)
    WOULD_CHANGE = "would change"  # --check: a step that would run, a host it would change; nothing ran
    FAILED = "failed"  # check: an error finding; provision: a task failed; info: not as asked
    NOT_INSTALLED = "not installed"  # info, verify: a reachable host with no Docker
    UNREACHABLE = "unreachable"  # no session, or lost in the middle of a step
    UNKNOWN = "unknown"  # a task whose outcome is unknown (the connection dropped while it ran)
    SKIPPED = "skipped"  # not attempted (a failure budget spent, or Ctrl-C before it started)
    INTERRUPTED = "interrupted"  # Ctrl-C while the host was in flight


NOT_INSTALLED = "Docker is not installed (no docker command)"  # info and verify say it of a host


def failures(statuses: Iterable[str]) -> int:
    """Hosts that spend a failure budget (a batch's, a rollout's): failed or unreachable."""
    return sum(status in (Status.FAILED, Status.UNREACHABLE) for status in statuses)


@dataclass(frozen=True)
class Finding:
    code: str
    level: Level
    message: str
    hint: str = ""
    ignored: bool = False  # an error turned into a warning by --ignore-preflight-errors

    def __str__(self) -> str:
        """How a finding is said in one line, wherever it is the reason a host is what it is."""
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """A finding as a report or a kept run holds it."""
        return cls(data["code"], Level(data["level"]), data["message"], data.get("hint") or "",
                   bool(data.get("ignored")))  # fmt: skip


def passed(findings: Any) -> bool:
    return not any(f.level == Level.ERROR for f in findings)


@dataclass
class HostResult:
    """What one host came to in any command (check, provision, remove, info, verify): its status, and the
    one line that says why: the error that stopped it, else its first error finding."""

    name: str
    status: Status
    findings: list[Finding] = field(default_factory=list)
    error: str = ""  # what stopped the host, or why it was not attempted
    hint: str = ""

    @property
    def first_error(self) -> Finding | None:
        return next((f for f in self.findings if f.level == Level.ERROR), None)

    @property
    def reason(self) -> str:
        first = self.first_error
        return self.error or (str(first) if first else "")

    @property
    def advice(self) -> str:
        """The hint that goes with the reason."""
        first = self.first_error
        return self.hint if self.error else (first.hint if first else "")


# What each condition met on a host comes to, the same in every command (check, provision, remove, info,
# verify): the code a host error carries (installer/errors.py), what it means, and the host's status. A
# timeout in provision or remove once a change was under way is the exception: its outcome unknown, the
# host is unreachable (to be looked at, in the retry file). tests/test_conditions.py: a test per row and
# command; README's "When a host fails" shows the table.
CONDITIONS: dict[str, tuple[str, Status]] = {
    "UNREACHABLE": ("no SSH session: refused, timed out, authentication or host key refused, or the connection "
                    "lost", Status.UNREACHABLE),
    "TIMEOUT": ("a command did not finish in its time (the command named)", Status.FAILED),
    "BECOME": ("sudo refused: a password wrong or missing, the user not allowed", Status.FAILED),
    "OUTPUT_TOO_LARGE": ("a command printed more than pyinstall reads (32 MiB)", Status.FAILED),
    "HOST_DISK_FULL": ("no space left where pyinstall writes on the host (what the host said, the path)",
                       Status.FAILED),
    "HOST_ERROR": ("any other failure of the host to do what pyinstall asked", Status.FAILED),
}  # fmt: skip

# Warnings provision says without -v: what this run drops from the host, and what an earlier run left.
ALWAYS_SAID = frozenset({"UNMANAGED_OPTIONS", "JOB_LOST", "JOB_FAILED", "MIGRATION"})

# Every preflight code, with what it means: --ignore-preflight-errors and pyinstall_ignore_preflight_errors
# accept these (a typo would ignore nothing).
PREFLIGHT_CODES = {
    "FACTS": "the facts were incomplete",
    "BECOME": "sudo refused",
    "TIMEOUT": "the host hung",
    "HOST_DISK_FULL": "no space left where pyinstall writes on the host",
    "OUTPUT_TOO_LARGE": "a command printed more than pyinstall reads",
    "HOST_ERROR": "the host could not be worked on",
    "ARCH": "not x86_64",
    "OS": "not an accepted distribution and release",
    "KERNEL": "kernel too old",
    "KERNEL_CONFIG": "a kernel option Docker needs is missing",
    "KERNEL_CONFIG_NOT_FOUND": "no kernel config to read",
    "CGROUPS": "cgroup hierarchies missing",
    "STORAGE_DRIVER": "the storage driver is not one this platform runs",
    "DEVICE_MAPPER": "device-mapper missing",
    "LOOP_DEVICES": "no free loop device",
    "DEVICEMAPPER_LOOP": "loop-lvm is not for production",
    "OVERLAY_EL6": "overlay needs an EL7 kernel",
    "OVERLAY2_KERNEL": "overlay2 needs a newer kernel",
    "OVERLAY": "no overlay filesystem",
    "OVERLAY_BACKING": "/var/lib/docker is itself on overlayfs",
    "XFS_FTYPE": "xfs without d_type",
    "STORE_IN_USE": "/var/lib/docker holds another storage driver's data",
    "STORE_DEVICE": "docker_storage_device is missing, mounted elsewhere or not empty",
    "MIGRATION": "what --migrate-storage moves, or --purge-old-storage deletes",
    "MIGRATE": "the store could not be examined for a migration",
    "MIGRATE_PLATFORM": "the platform cannot run the driver migrated to (EL6: no overlay)",
    "MIGRATE_DATA_ROOT": "a data-root other than /var/lib/docker is asked",
    "MIGRATE_LEDGER": "a migration to another driver is under way on the host",
    "MIGRATE_DAEMON": "the daemon does not answer: its images cannot be saved",
    "MIGRATE_UPGRADE": "a package change asked with the migration",
    "MIGRATE_TARGET_DATA": "the driver migrated to already has a directory under /var/lib/docker",
    "MIGRATE_RUNNING": "containers running (--stop-containers)",
    "MIGRATE_SPACE": "not enough space for the saved images and the new store",
    "MIGRATE_PURGE": "--purge-old-storage while a migration is under way",
    "DISK_SPACE": "little free space under /var/lib/docker",
    "YUM_LOCK": "the package manager (yum or dnf) is locked by a live process",
    "YUM_LOCK_STALE": "a stale lock of the package manager",
    "REQUIRETTY": "sudoers requires a tty",
    "CONFLICTING_PACKAGES": "packages provisioning removes first",
    "PODMAN_CONTAINERS": "podman, to be removed, has containers",
    "FIREWALL": "firewalld and iptables as Docker's networking meets them",
    "PACKAGE": "the package or channel asked is not one this platform has",
    "VERSION_UNAVAILABLE": "the version asked is not in the host's repositories",
    "REPOSITORY": "the repositories could not be read",
    "VERSION_UNCHECKED": "the version could not be looked up (the package manager is locked)",
    "DOWNGRADE": "the version pinned is older than the one installed (--allow-downgrade)",
    "FOREIGN_BUILD": "the runtime installed is built for another EL release",
    "OS_UPGRADE": "what an in-place upgrade to the release asked (check --upgrade-to) changes for Docker",
    "OS_UPGRADE_BLOCKED": "what must change before an in-place upgrade to the release asked",
    "VERSION_CEILING": "the version pinned is newer than the channel's real repository offers",
    "DRIVER_REMOVED": "the version pinned has no dockerd for the storage driver run or asked",
    "DAEMON_OPTION": "a daemon option this platform or version cannot take",
    "FOREIGN_CONFIG": "a daemon option also set outside the managed file",
    "UNMANAGED_OPTIONS": "the daemon's current configuration has options the inventory does not ask for",
    "GPGCHECK_OFF": "packages are installed without signature checks",
    "BUNDLE_LOGIN": "an offline bundle needs a root login",
    "BUNDLE_PLATFORM": "the offline bundles given do not cover the host's platform",
    "IMAGE_FORMAT": "an offline bundle's image archive is newer than the host's docker loads",
    "THIN_POOL": "the thin pool dm.thinpooldev names is not one on the host",
    "DIRECT_LVM_DEVICE": "the disk dm.directlvm_device gives is missing, mounted or not blank",
    "DOCKER_USERS": "a user docker_users names does not exist on the host",
    "REGISTRY_AUTH": "root's docker login file holds logins pyinstall did not write",
    "SYSCTL": "a kernel setting docker_sysctls names does not exist on the host",
    "SELINUX": "SELinux mode",
    "CLOCK_SKEW": "the clock is off",
    "JOB_RUNNING": "a yum transaction of an earlier run still runs",
    "JOB_LOST": "a yum transaction of an earlier run died",
    "JOB_FAILED": "a yum transaction of an earlier run failed",
}
