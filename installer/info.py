"""The fleet's runtime as it runs: `docker info` on every host, validated, summarised, drift found.

Target ─▶ connect ─▶ the provision facts, `docker info 2>&1` among them (one command) ─▶ DockerInfo
       ─▶ validate against what was asked (the storage driver asked or defaulted, the pin)
       ─▶ drift: the managed files and the daemon against what provision would write ─▶ HostInfo
[HostInfo] ─▶ summary (counts by status, version and driver) + outliers (hosts asked the same that run
              otherwise than most of them)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from installer import checks, connection, docker_info
from installer.asked import Asked
from installer.connection import Target
from installer.drift import Difference, differences
from installer.errors import HostError, Unreachable
from installer.fleet import FORKS, Fleet
from installer.outcome import NOT_INSTALLED, Finding, HostResult, Level, Status
from installer.preflight import Connect, facts_script, gather_facts
from installer.validate import expected, validate


@dataclass
class HostInfo(HostResult):
    """ok (valid) | failed (not as asked) | not installed | unreachable, with what `docker info` said."""

    info: docker_info.DockerInfo | None = None
    groups: tuple[str, ...] = ()  # the inventory groups it is in, most specific last
    drift: list[Difference] = field(default_factory=list)
    asks: tuple[str | None, ...] = ()  # what was asked of it (driver, version): outliers compare like with like

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
            "drift": [d.to_dict() for d in self.drift],
        }


@dataclass
class Outlier:
    host: str
    field: str  # version | storage_driver
    value: str | None
    majority: str | None
    peers: int  # hosts asked the same, this one included


DRIFT_HINT = (
    "provision the host again to restore what was asked (`provision --check --diff` shows the change), or ask "
    "for what it has: docker_daemon_options in the inventory"
)


def inspect_host(target: Target, asked: Asked, groups: Sequence[str], connect: Connect) -> HostInfo:
    try:
        with connect(target) as session:
            gathered = gather_facts(session, script=facts_script(asked, provision=True))
    except Unreachable as exc:
        return HostInfo(target.name, Status.UNREACHABLE, error=exc.message, hint=exc.hint, groups=tuple(groups))
    except HostError as exc:  # reached, but a command hung, printed too much, sudo refused...
        finding = Finding(exc.code, Level.ERROR, exc.message, exc.hint)
        return HostInfo(target.name, Status.FAILED, [finding], error=exc.message, hint=exc.hint, groups=tuple(groups))
    info = gathered.daemon()
    if info is None:  # no docker command: nothing was installed, or it was removed
        return HostInfo(target.name, Status.NOT_INSTALLED, error=NOT_INSTALLED, groups=tuple(groups),
                        hint=f"provision it: pyinstall provision INVENTORY --limit {target.name}")  # fmt: skip
    wanted = expected(checks.subject(gathered, asked))
    findings = validate(info, wanted)
    drift = differences(gathered, asked, info)
    if drift:
        findings.append(Finding("DRIFT", Level.ERROR, "; ".join(str(d) for d in drift), DRIFT_HINT))
    status = Status.FAILED if any(f.level == Level.ERROR for f in findings) else Status.OK
    asks = (wanted.storage_driver, wanted.version)
    return HostInfo(target.name, status, findings, info=info, groups=tuple(groups), drift=drift, asks=asks)


def run(
    hosts: Sequence[tuple[Target, Asked, Sequence[str]]], forks: int = FORKS, connect: Connect = connection.connect
) -> list[HostInfo]:
    fleet: Fleet[tuple[Target, Asked, Sequence[str]], HostInfo] = Fleet(
        work=lambda h, stop: inspect_host(h[0], h[1], h[2], connect),
        not_attempted=lambda h, why: HostInfo(h[0].name, Status.SKIPPED, error=why, groups=tuple(h[2])),
        interrupted=lambda h: HostInfo(h[0].name, Status.INTERRUPTED, error="interrupted twice", groups=tuple(h[2])),
        name=lambda h: h[0].name,
    )
    return fleet.run(hosts, forks)


def summary(hosts: Sequence[HostInfo]) -> dict[str, Any]:
    answering = [h for h in hosts if h.info and h.info.reachable]
    return {
        "hosts": len(hosts),
        "status": dict(Counter(h.status for h in hosts)),
        "versions": dict(Counter(h.version or "unknown" for h in answering)),
        "storage_drivers": dict(Counter(h.driver or "unknown" for h in answering)),
    }


def outliers(hosts: Sequence[HostInfo]) -> list[Outlier]:
    """Hosts that run another version or storage driver than most of the hosts asked the same of."""
    by_asks: dict[tuple[str | None, ...], list[HostInfo]] = {}
    for h in hosts:
        if h.info and h.info.reachable and h.asks:
            by_asks.setdefault(h.asks, []).append(h)
    out = []
    for members in by_asks.values():
        if len(members) < 2:
            continue
        for attribute, name in (("version", "version"), ("driver", "storage_driver")):
            counts = Counter(getattr(m, attribute) for m in members)
            (majority, count), *rest = counts.most_common()
            if rest and rest[0][1] == count:
                continue  # a tie: no majority
            out += [Outlier(m.name, name, getattr(m, attribute), majority, len(members))
                    for m in members if getattr(m, attribute) != majority]  # fmt: skip
    return out
