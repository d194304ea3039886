"""JUnit XML for CI (Jenkins, GitLab): one test suite per command, a test case per host and per preflight
check or task. Failed is a <failure>, unreachable or an unknown outcome an <error>, not attempted
<skipped>; messages carry the hint.

    check / provision / info results ─▶ Case ─▶ document() ─▶ bytes (JUnit XML)
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from xml.etree import ElementTree as ET

from installer.outcome import Level, Status
from installer.terminal import visible

FAILURE, ERROR, SKIPPED = "failure", "error", "skipped"


@dataclass(frozen=True)
class Case:
    host: str
    name: str
    outcome: str = ""  # "", failure, error or skipped
    message: str = ""
    detail: str = ""
    seconds: float | None = None


def _host_case(name: str, status: Status, message: str, hint: str, seconds: float | None = None) -> Case:
    outcome = {Status.FAILED: FAILURE, Status.NOT_INSTALLED: FAILURE, Status.UNREACHABLE: ERROR,
               Status.INTERRUPTED: ERROR, Status.SKIPPED: SKIPPED}.get(status, "")  # fmt: skip
    return Case(name, "host", outcome, message or str(status), f"hint: {hint}" if hint else "", seconds)


def _finding_cases(host: str, findings: Iterable[Any], prefix: str) -> list[Case]:
    cases = []
    for f in findings:
        outcome = FAILURE if f.level == Level.ERROR and not f.ignored else ""
        cases.append(Case(host, f"{prefix} {f.code}", outcome, f.message, f"hint: {f.hint}" if f.hint else ""))
    return cases


def check_cases(reports: Sequence[Any]) -> list[Case]:
    cases = []
    for r in reports:
        cases.append(_host_case(r.name, r.status, r.reason, r.advice, r.seconds))
        cases += _finding_cases(r.name, r.findings, "preflight")
    return cases


def provision_cases(runs: Sequence[Any]) -> list[Case]:
    cases = []
    for r in runs:
        cases.append(_host_case(r.name, r.status, r.error, r.hint))
        cases += _finding_cases(r.name, r.findings, "preflight")
        for t in r.tasks:
            outcome = {Status.FAILED: FAILURE, Status.UNKNOWN: ERROR, Status.SKIPPED: SKIPPED}.get(t.status, "")
            detail = "\n".join(part for part in (f"hint: {t.hint}" if t.hint else "", t.stderr or t.stdout) if part)
            cases.append(Case(r.name, f"task {t.name}", outcome, t.msg or str(t.status), detail if outcome else ""))
    return cases


def info_cases(hosts: Sequence[Any]) -> list[Case]:
    cases = []
    for h in hosts:
        cases.append(_host_case(h.name, h.status, h.error, h.hint))
        cases += _finding_cases(h.name, h.findings, "validate")
    return cases


def verify_cases(hosts: Sequence[Any]) -> list[Case]:
    """A case per host, and per test that ran on it (named by its pytest node id)."""
    outcomes = {"failed": FAILURE, "error": ERROR, "skipped": SKIPPED}
    cases = []
    for h in hosts:
        cases.append(_host_case(h.name, h.status, h.reason, h.hint))
        cases += [Case(h.name, f"test {t.name}", outcomes.get(t.outcome, ""), t.message, "", t.duration)
                  for t in h.tests]  # fmt: skip
    return cases


def exec_cases(results: Sequence[Any]) -> list[Case]:
    """A case per host: failed when its command exited non-zero, its output as the detail."""
    return [
        replace(_host_case(r.name, r.status, r.reason, r.hint, r.seconds), detail="\n".join(
            part for part in (f"hint: {r.hint}" if r.hint and r.rc is None else "", r.stdout, r.stderr) if part))
        for r in results
    ]  # fmt: skip


def document(command: str, cases: Sequence[Case], seconds: float) -> bytes:
    """One suite named ``pyinstall COMMAND`` inside <testsuites>. Host text is made visible first: XML 1.0
    cannot carry most control characters at all."""
    counts = {kind: sum(c.outcome == kind for c in cases) for kind in (FAILURE, ERROR, SKIPPED)}
    totals = {"tests": str(len(cases)), "failures": str(counts[FAILURE]), "errors": str(counts[ERROR])}
    name = f"pyinstall {command}"
    root = ET.Element("testsuites", name=name, time=f"{seconds:.3f}", **totals)
    suite = ET.SubElement(
        root, "testsuite", name=name, skipped=str(counts[SKIPPED]), time=f"{seconds:.3f}",
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"), hostname=socket.gethostname(), **totals,
    )  # fmt: skip
    for c in cases:
        case = ET.SubElement(suite, "testcase", classname=visible(c.host), name=visible(c.name))
        if c.seconds is not None:
            case.set("time", f"{c.seconds:.3f}")
        if c.outcome:
            element = ET.SubElement(case, c.outcome, message=visible(c.message))
            if c.outcome != SKIPPED:
                element.set("type", c.name.split(" ", 1)[0])
            element.text = visible(c.detail) or None
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
