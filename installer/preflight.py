"""Preflight: connect, gather facts in one round trip, run the checks, per host and in parallel.

Target ─▶ connect ─▶ gather_facts (FACTS_SCRIPT, once) ─▶ Facts ─▶ run_checks ─▶ HostReport
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from installer import checks, connection, facts
from installer.checks import Finding, Wanted
from installer.connection import Session, Target
from installer.errors import BecomeError, HostError, Unreachable

PASS, FAIL, UNREACHABLE = "pass", "fail", "unreachable"
FORKS = 20  # hosts worked on at once, unless --forks says otherwise
FACTS_TIMEOUT = 60.0

Connect = Callable[[Target], Session]


@dataclass
class HostReport:
    name: str
    status: str  # pass | fail | unreachable
    findings: list[Finding] = field(default_factory=list)
    facts: facts.Facts | None = None
    error: HostError | None = None
    commands: int = 0  # remote commands run after connecting
    seconds: float = 0.0

    @property
    def first_error(self) -> Finding | None:
        return next((f for f in self.findings if f.level == checks.ERROR), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "facts": self.facts.to_dict() if self.facts else None,
            "commands": self.commands,
        }
        if self.error:
            out["error"] = {
                "type": type(self.error).__name__,
                "message": self.error.message,
                "hint": self.error.hint,
            }
        return out


def gather_facts(session: Session, timeout: float = FACTS_TIMEOUT, script: str = facts.FACTS_SCRIPT) -> facts.Facts:
    """Run the facts script once; the clock skew is measured against the middle of the round trip."""
    before = time.time()
    result = session.run(script, timeout=timeout)
    after = time.time()
    gathered = facts.parse(result.stdout)
    if gathered.remote_time is not None:
        gathered.clock_skew = gathered.remote_time - (before + after) / 2
    return gathered


def check_host(target: Target, wanted: Wanted, connect: Connect = connection.connect) -> HostReport:
    start = time.monotonic()
    try:
        with connect(target) as session:
            try:
                gathered = gather_facts(session)
            finally:
                commands = session.commands_run
    except Unreachable as exc:
        return HostReport(target.name, UNREACHABLE, error=exc, seconds=time.monotonic() - start)
    except HostError as exc:  # reached, but sudo refused or the facts command hung
        code = "BECOME" if isinstance(exc, BecomeError) else "TIMEOUT"
        finding = Finding(code, checks.ERROR, exc.message, exc.hint)
        return HostReport(target.name, FAIL, [finding], error=exc, seconds=time.monotonic() - start)
    findings = checks.run_checks(gathered, wanted)
    status = PASS if checks.passed(findings) else FAIL
    return HostReport(target.name, status, findings, gathered, commands=commands, seconds=time.monotonic() - start)


def run(
    hosts: Sequence[tuple[Target, Wanted]],
    forks: int = FORKS,
    connect: Connect = connection.connect,
) -> list[HostReport]:
    """Check every host, ``forks`` at a time; reports come back in inventory order."""
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts)))) as pool:
        return list(pool.map(lambda item: check_host(item[0], item[1], connect), hosts))
