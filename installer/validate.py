"""What a host's `docker info` says against what was asked: pure rules, shared by provision and info.

DockerInfo + Expected ─▶ validate() ─▶ [Finding]   (error: not as asked; warning: worth fixing)
"""

from __future__ import annotations

from dataclasses import dataclass

from installer.checks import D_TYPE_HINT, DEVICEMAPPER_LOOP_HINT, ERROR, INFO, WARNING, Finding, Subject, thin_pool
from installer.docker_info import DockerInfo
from installer.versions import evr_compare

# Kernel and host warnings `docker info` prints, classified: (substring, level, code, hint).
KNOWN_WARNINGS = (
    (
        "loopback devices is strongly discouraged",
        WARNING,
        "DEVICEMAPPER_LOOP",
        DEVICEMAPPER_LOOP_HINT,
    ),
    (
        "without d_type support",
        ERROR,
        "D_TYPE",
        D_TYPE_HINT,
    ),
    (
        "bridge-nf-call-iptables is disabled",
        WARNING,
        "BRIDGE_NF",
        "sysctl -w net.bridge.bridge-nf-call-iptables=1 (and persist it): published ports bypass iptables otherwise",
    ),
    (
        "bridge-nf-call-ip6tables is disabled",
        WARNING,
        "BRIDGE_NF",
        "sysctl -w net.bridge.bridge-nf-call-ip6tables=1 (and persist it)",
    ),
    (
        "No swap limit support",
        INFO,
        "SWAP_LIMIT",
        "containers' swap cannot be limited; add swapaccount=1 to the kernel command line if that matters",
    ),
    ("No memory limit support", WARNING, "MEMORY_LIMIT", "boot with cgroup_enable=memory"),
    ("not using the default seccomp profile", INFO, "SECCOMP_PROFILE", ""),
    (
        "API is accessible on http://",
        ERROR,
        "INSECURE_API",
        "the daemon listens on TCP without TLS: remove the tcp:// host or set tlsverify with certificates",
    ),
)


@dataclass(frozen=True)
class Expected:
    """What was asked of a host's daemon; None: not checked."""

    storage_driver: str | None = None
    version: str | None = None
    cgroup_driver: str | None = None
    root_dir: str | None = None
    thin_pool: str | None = None  # devicemapper's pool, when one was asked for (direct-lvm)


def expected(s: Subject) -> Expected:
    """From the same model preflight and provision use: the storage driver asked or defaulted, the pin,
    the thin pool its storage options name."""
    return Expected(
        storage_driver=s.storage_driver,
        version=s.pin,
        cgroup_driver=s.asked.cgroup_driver,
        root_dir=s.asked.root_dir,
        thin_pool=thin_pool(s.asked.storage_options) if s.storage_driver == "devicemapper" else None,
    )


def version_matches(running: str, pinned: str) -> bool:
    """``20.10.24+dfsg1`` or ``20.10.24-ce`` runs the pinned ``20.10.24``."""
    base = running.split("+", 1)[0]
    return evr_compare(base, pinned) == 0 or base.startswith(pinned + "-")


def validate(info: DockerInfo, expected: Expected) -> list[Finding]:
    if not info.reachable:
        return [
            Finding(
                "DAEMON_UNREACHABLE",
                ERROR,
                "the docker daemon does not answer: " + ("; ".join(info.errors) or "no output"),
                "start it (service docker start / systemctl start docker) and read its log",
            )
        ]
    findings = []
    driver = info.storage_driver
    if expected.storage_driver and driver != expected.storage_driver:
        findings.append(
            Finding(
                "STORAGE_DRIVER",
                ERROR,
                f"storage driver is {driver}, asked {expected.storage_driver}",
                "provision the host again; a driver change over existing data needs a migration",
            )
        )
    version = info.server_version
    if expected.version and version and not version_matches(version, expected.version):
        findings.append(
            Finding(
                "VERSION",
                ERROR,
                f"Docker {version} runs, {expected.version} is pinned",
                "provision the host again to install the pinned version",
            )
        )
    if expected.cgroup_driver and info.get("Cgroup Driver") != expected.cgroup_driver:
        findings.append(
            Finding(
                "CGROUP_DRIVER",
                ERROR,
                f"cgroup driver is {info.get('Cgroup Driver')}, asked {expected.cgroup_driver}",
                "",
            )
        )
    if expected.root_dir and info.get("Docker Root Dir") not in (None, expected.root_dir):
        findings.append(
            Finding(
                "ROOT_DIR", ERROR, f"Docker Root Dir is {info.get('Docker Root Dir')}, asked {expected.root_dir}", ""
            )
        )
    pool = info.driver_status("Pool Name")
    if expected.thin_pool and driver == expected.storage_driver and pool != expected.thin_pool:
        loop = info.driver_status("Data loop file")
        findings.append(
            Finding(
                "THIN_POOL",
                ERROR,
                f"devicemapper runs on {pool or 'no pool'}{f' (loop files: {loop})' if loop else ''}, "
                f"asked {expected.thin_pool}",
                "the daemon did not take docker_storage_options: provision again and read the daemon's log",
            )
        )
    if driver == "devicemapper" and info.driver_status("Data loop file"):
        findings.append(
            Finding(
                "DEVICEMAPPER_LOOP",
                WARNING,
                f"devicemapper runs on loop files ({info.driver_status('Data loop file')})",
                DEVICEMAPPER_LOOP_HINT,
            )
        )
    if str(info.driver_status("Supports d_type")).lower() == "false":
        findings.append(Finding("D_TYPE", ERROR, f"{driver} runs on a filesystem without d_type", D_TYPE_HINT))
    seen = {f.code for f in findings}
    for text in info.warnings:
        for needle, level, code, hint in KNOWN_WARNINGS:
            if needle in text:
                if code not in seen or code == "BRIDGE_NF":
                    findings.append(Finding(code, level, text.removeprefix("WARNING: "), hint))
                    seen.add(code)
                break
        else:
            findings.append(Finding("DOCKER_WARNING", WARNING, text.removeprefix("WARNING: "), ""))
    return findings
