"""Preflight: connect, gather facts in one round trip (two when a version must be resolved), run the
checks, per host and in parallel.

Target ─▶ connect ─▶ gather_facts (FACTS_SCRIPT, once) ─▶ Facts ─▶ resolve the version ─▶ run_checks ─▶ HostReport

``examine`` is shared with provision: `check` answers exactly what `provision` would refuse.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from installer import checks, connection, events, facts, runtime
from installer.asked import Asked
from installer.connection import Session, Target
from installer.errors import HostDiskFull, HostError, Unreachable
from installer.fleet import FORKS, Fleet
from installer.outcome import Finding, HostResult, Level, Status, passed

FACTS_TIMEOUT = 60.0
RESOLVE_TIMEOUT = 600.0  # yum may fetch repository metadata over a slow link

Connect = Callable[[Target], Session]
# The versions listed, or None and why yum could not say. Optional: an alias is evaluated at import, and
# Python 3.9 has no `|` between types.
Available = tuple[Optional[list[str]], str]

__all__ = ["FORKS", "Answers", "Connect", "HostReport", "check_host", "examine", "gather_facts", "run"]


@dataclass
class HostReport(HostResult):
    """A host's preflight: ok | failed | unreachable | skipped | interrupted."""

    facts: facts.Facts | None = None
    exception: dict[str, str] | None = None  # the HostError that stopped it: type, message, hint
    commands: int = 0  # remote commands run after connecting
    seconds: float = 0.0

    @classmethod
    def stopped(cls, name: str, exc: HostError, seconds: float, finding: Finding | None = None) -> HostReport:
        """Unreachable, or failed with ``finding`` (sudo refused, a command hung), which then says why."""
        said = {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}
        if finding is not None:
            return cls(name, Status.FAILED, [finding], exception=said, seconds=seconds)
        return cls(name, Status.UNREACHABLE, error=exc.message, hint=exc.hint, exception=said, seconds=seconds)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "facts": self.facts.to_dict() if self.facts else None,
            "commands": self.commands,
        }
        if self.exception:
            out["error"] = self.exception
        elif self.error:  # not attempted
            out["note"] = self.error
        return out


def facts_script(asked: Asked, provision: bool = False) -> str:
    """The facts script for this host: what its own variables ask to look at too (docker_users, docker_sysctls)."""
    images = any(b.images for b in asked.bundles.values() if b is not None)
    return facts.script(provision, asked.day_two.users, tuple(asked.day_two.sysctls), images)


def gather_facts(session: Session, timeout: float = FACTS_TIMEOUT, script: str | None = None) -> facts.Facts:
    """Run the facts script once; the clock skew is measured against the middle of the round trip."""
    before = time.time()
    result = session.run(script or facts.script(), timeout=timeout, what="the facts script")
    after = time.time()
    gathered = facts.parse(result.stdout)
    if gathered.remote_time is not None:
        gathered.clock_skew = gathered.remote_time - (before + after) / 2
    return gathered


class Answers:
    """The version queries of one run, shared: hosts whose yum would read the same configuration and
    repositories (the same digest, release, architecture and repository files to be written) get the
    same answer, so one host of each kind is asked while the others wait for it. An answer that failed is
    not shared: each of those hosts then asks its own yum."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._asked: dict[tuple, _Answer] = {}

    def get(self, key: tuple, host: str, ask: Callable[[], Available]) -> tuple[list[str] | None, str, str]:
        """(versions, error, the host that answered): ``ask`` runs on ``host`` unless another answered."""
        with self._lock:
            answer = self._asked.get(key)
            mine = answer is None
            if mine:
                answer = self._asked[key] = _Answer(host)
        if not mine:
            answer.done.wait()
            if answer.versions is not None:
                return answer.versions, "", answer.host
            return (*ask(), host)
        try:
            versions, error = ask()
            answer.versions = versions
        finally:
            answer.done.set()
        return versions, error, host


@dataclass
class _Answer:
    host: str
    versions: list[str] | None = None
    done: threading.Event = field(default_factory=threading.Event)


def resolve(session: Session, s: checks.Subject, answers: Answers | None = None) -> None:
    """Which versions of the runtime the host can install, when it does not run the pin already: from
    the offline bundle's manifest, or from its repositories as provision would configure them (one
    command, or the answer of a host with the same yum configuration). Sets ``available`` (or
    ``available_error``) and ``available_from`` in the host's facts."""
    gathered, asked, platform, channel = s.facts, s.asked, s.platform, s.channel
    if platform is None or channel is None or s.runs_pin:
        return
    if gathered.yum_lock and gathered.yum_lock.get("alive"):
        return  # the query would wait on the lock: check_version says the pin went unchecked
    bundle = asked.bundles.get(platform.id)
    if bundle is not None:
        gathered.available = sorted(
            f"{p.get('epoch') or 0}:{p['version']}-{p['release']}"
            for p in bundle.packages
            if p["name"] == channel.package
        )
        return
    repo_files = runtime.repo_files(platform, channel, asked, gathered.distro_id)
    # The script carries each file base64-encoded: a file holding a password never reaches a log.
    events.redact(*(base64.b64encode(f.content.encode()).decode() for f in repo_files if f.secret))
    files = {f.path.rsplit("/", 1)[1]: f.content for f in repo_files}

    def ask() -> Available:
        script = facts.available_script(channel.package, files, asked.yum_lock_timeout, platform.lock_files)
        result = session.run(
            script, timeout=RESOLVE_TIMEOUT + asked.yum_lock_timeout, what="the version query (yum list)"
        )
        full = connection.disk_full(session.target.name, result)
        if full is not None:
            raise full
        return facts.parse_available(result.stdout + result.stderr, channel.package)

    if answers is None or not gathered.yum_config:
        gathered.available, gathered.available_error = ask()
        return
    key = (gathered.yum_config, gathered.release_text, gathered.distro_version, gathered.arch, platform.id,
           channel.package, tuple(sorted(files.items())))  # fmt: skip
    name = session.target.name
    gathered.available, gathered.available_error, answered = answers.get(key, name, ask)
    gathered.available_from = answered if answered != name else ""


def examine(
    session: Session, asked: Asked, script: str | None = None, answers: Answers | None = None
) -> tuple[facts.Facts, list[Finding]]:
    """Facts and findings, as both check and provision see them. The version is resolved only for a
    host that passes everything else: a refused or locked host costs no yum run."""
    gathered = gather_facts(session, script=script or facts_script(asked))
    wanted = asked.migration
    if wanted.migrate or wanted.purge_old:  # the store's images, containers and space: one more round trip
        from installer import migration, platforms

        drivers = tuple(platforms.storage().drivers)
        said = session.run(migration.script(wanted.staging, drivers), timeout=FACTS_TIMEOUT * 2,
                           what="the migration's facts")  # fmt: skip
        gathered.migration = migration.parse(said.stdout)
    findings = checks.run_checks(gathered, asked)
    if passed(findings):
        try:
            resolve(session, checks.subject(gathered, asked), answers)
        except HostDiskFull as exc:  # the facts stand: the host is shown as it is, with why it stopped
            return gathered, [*findings, Finding(exc.code, Level.ERROR, exc.message, exc.hint)]
        if gathered.available is not None or gathered.available_error:
            findings = checks.run_checks(gathered, asked)
    return gathered, findings


def check_host(
    target: Target,
    asked: Asked,
    connect: Connect = connection.connect,
    facts_only: bool = False,
    answers: Answers | None = None,
) -> HostReport:
    """``facts_only``: gather the facts and stop (`pyinstall facts`)."""
    start = time.monotonic()
    try:
        with connect(target) as session:
            try:
                if facts_only:
                    gathered, findings = gather_facts(session), []
                else:
                    gathered, findings = examine(session, asked, answers=answers)
            finally:
                commands = session.commands_run
    except Unreachable as exc:
        return HostReport.stopped(target.name, exc, time.monotonic() - start)
    except HostError as exc:  # reached, but sudo refused, a command hung, the disk is full...
        finding = Finding(exc.code, Level.ERROR, exc.message, exc.hint)
        return HostReport.stopped(target.name, exc, time.monotonic() - start, finding)
    status = Status.OK if passed(findings) else Status.FAILED
    return HostReport(target.name, status, findings, facts=gathered, commands=commands,
                      seconds=time.monotonic() - start)  # fmt: skip


def run(
    hosts: Sequence[tuple[Target, Asked]],
    forks: int = FORKS,
    connect: Connect = connection.connect,
    facts_only: bool = False,
) -> list[HostReport]:
    """Check every host, ``forks`` at a time; reports come back in inventory order."""
    answers = Answers()
    fleet: Fleet[tuple[Target, Asked], HostReport] = Fleet(
        work=lambda host, stop: check_host(host[0], host[1], connect, facts_only, answers),
        not_attempted=lambda host, why: HostReport(host[0].name, Status.SKIPPED, error=why),
        interrupted=lambda host: HostReport(host[0].name, Status.INTERRUPTED, error="interrupted twice"),
        name=lambda host: host[0].name,
    )
    return fleet.run(hosts, forks)
