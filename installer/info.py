"""The fleet's runtime as it runs: `docker info` on every host, validated, summarised, drift found.

Target ─▶ connect ─▶ `docker info 2>&1` (one command) ─▶ DockerInfo ─▶ validate ─▶ HostInfo
[HostInfo] + inventory groups ─▶ summary (counts by version and driver) + drift (group outliers)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from installer import checks, connection, docker_info
from installer.checks import Finding
from installer.connection import Target
from installer.errors import HostError
from installer.preflight import FORKS, Connect
from installer.validate import Expected, validate

VALID, INVALID, UNREACHABLE = "valid", "invalid", "unreachable"
COMMAND = "docker info 2>&1"  # warnings go to stderr; 2>&1 keeps them beside the section they belong to


@dataclass
class HostInfo:
    name: str
    status: str
    info: docker_info.DockerInfo | None = None
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    hint: str = ""
    groups: tuple[str, ...] = ()  # the inventory groups it is in, most specific last

    @property
    def version(self) -> str | None:
        return self.info.server_version if self.info else None

    @property
    def driver(self) -> str | None:
        return self.info.storage_driver if self.info else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "docker_info": self.info.to_dict() if self.info else None,
            "findings": [f.to_dict() for f in self.findings],
            "error": self.error or None,
            "hint": self.hint or None,
        }


@dataclass
class Drift:
    host: str
    group: str
    field: str  # version | storage_driver
    value: str | None
    majority: str | None


def inspect_host(target: Target, expected: Expected, groups: Sequence[str], connect: Connect) -> HostInfo:
    try:
        with connect(target) as session:
            text = session.run(COMMAND, timeout=60).stdout
    except HostError as exc:
        return HostInfo(target.name, UNREACHABLE, error=exc.message, hint=exc.hint, groups=tuple(groups))
    info = docker_info.parse(text)
    findings = validate(info, expected)
    status = INVALID if any(f.level == checks.ERROR for f in findings) else VALID
    return HostInfo(target.name, status, info, findings, groups=tuple(groups))


def run(
    hosts: Sequence[tuple[Target, Expected, Sequence[str]]], forks: int = FORKS, connect: Connect = connection.connect
) -> list[HostInfo]:
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts)))) as pool:
        return list(pool.map(lambda h: inspect_host(h[0], h[1], h[2], connect), hosts))


def summary(hosts: Sequence[HostInfo]) -> dict[str, Any]:
    answering = [h for h in hosts if h.info and h.info.reachable]
    return {
        "hosts": len(hosts),
        "status": dict(Counter(h.status for h in hosts)),
        "versions": dict(Counter(h.version or "unknown" for h in answering)),
        "storage_drivers": dict(Counter(h.driver or "unknown" for h in answering)),
    }


def drift(hosts: Sequence[HostInfo]) -> list[Drift]:
    """Hosts whose version or storage driver differs from the majority of their most specific group."""
    by_group: dict[str, list[HostInfo]] = {}
    for h in hosts:
        if h.info and h.info.reachable and h.groups:
            by_group.setdefault(h.groups[-1], []).append(h)
    out = []
    for group, members in by_group.items():
        if len(members) < 2:
            continue
        for attribute, name in (("version", "version"), ("driver", "storage_driver")):
            counts = Counter(getattr(m, attribute) for m in members)
            (majority, count), *rest = counts.most_common()
            if rest and rest[0][1] == count:
                continue  # a tie: no majority
            out += [Drift(m.name, group, name, getattr(m, attribute), majority)
                    for m in members if getattr(m, attribute) != majority]  # fmt: skip
    return out
