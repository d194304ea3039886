"""JUnit XML for CI (Jenkins, GitLab): one test suite per command, one test case per host, so a CI server
counts hosts: a failing host is one failure, whatever failed on it. Failed is a <failure>, unreachable or an
unknown outcome an <error>, not attempted <skipped>. What the host went through (each preflight check,
task or test, warnings included) is its case's <system-out>; what failed, with the hints, the failure's text.

    check / provision / info / verify / exec results ─▶ Case (host) + [Item] ─▶ document() ─▶ bytes
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from installer.outcome import Level, Status
from installer.terminal import visible

FAILURE, ERROR, SKIPPED = "failure", "error", "skipped"
WARNING = "warning"
_HOST_OUTCOMES = {Status.FAILED: FAILURE, Status.NOT_INSTALLED: FAILURE, Status.UNREACHABLE: ERROR,
                  Status.INTERRUPTED: ERROR, Status.SKIPPED: SKIPPED}  # fmt: skip


@dataclass(frozen=True)
class Item:
    """One thing a host went through: a preflight check, a validation, a task or a test."""

    kind: str  # preflight | validate | task | test
    name: str
    state: str  # ok, changed, warning, failed, error, skipped, ... as the command words it
    message: str = ""
    hint: str = ""
    detail: str = ""  # a failed task's output

    @property
    def failed(self) -> bool:
        return self.state in ("failed", "error", "unknown")

    def line(self) -> str:
        said = f": {self.message}" if self.message else ""
        return f"{self.state}: {self.kind} {self.name}{said}" + (f" (hint: {self.hint})" if self.hint else "")


@dataclass(frozen=True)
class Case:
    """A host: its outcome ("", failure, error or skipped), why, and what it went through."""

    host: str
    outcome: str = ""
    message: str = ""
    hint: str = ""
    items: tuple[Item, ...] = ()
    seconds: float | None = None
    out: str = ""  # exec: the command's output
    err: str = ""

    @property
    def warnings(self) -> list[Item]:
        return [i for i in self.items if i.state == WARNING]


def _case(r: Any, items: Iterable[Item], seconds: float | None = None, out: str = "", err: str = "") -> Case:
    listed = tuple(items)
    first = next((i for i in listed if i.failed), None)
    message = r.reason or (f"{first.kind} {first.name}: {first.message}" if first else str(r.status))
    return Case(r.name, _HOST_OUTCOMES.get(r.status, ""), message, r.advice, listed, seconds, out, err)


def _findings(findings: Iterable[Any], kind: str) -> list[Item]:
    def state(f: Any) -> str:
        if f.level == Level.ERROR:
            return "ignored" if f.ignored else "failed"
        return WARNING if f.level == Level.WARNING else "info"

    return [Item(kind, f.code, state(f), f.message, f.hint) for f in findings]


def check_cases(reports: Sequence[Any]) -> list[Case]:
    return [_case(r, _findings(r.findings, "preflight"), r.seconds) for r in reports]


def provision_cases(runs: Sequence[Any]) -> list[Case]:
    """Under --check the tasks' own status says "would change" (executor.execute), never "changed"."""

    def task(t: Any) -> Item:
        failed = t.status in (Status.FAILED, Status.UNKNOWN)
        return Item(
            "task", t.name, str(t.status), t.msg, t.hint if failed else "", (t.stderr or t.stdout) if failed else ""
        )

    return [
        _case(
            r, [*_findings(r.findings, "preflight"), *map(task, r.tasks)], sum(t.seconds or 0 for t in r.tasks) or None
        )
        for r in runs
    ]


def info_cases(hosts: Sequence[Any]) -> list[Case]:
    return [_case(h, _findings(h.findings, "validate")) for h in hosts]


def verify_cases(hosts: Sequence[Any]) -> list[Case]:
    """Each test that ran on the host an item (named by its pytest node id, its file's name first)."""
    return [
        _case(h, [Item("test", t.name, t.outcome, t.message) for t in h.tests], sum(t.duration for t in h.tests))
        for h in hosts
    ]


def exec_cases(results: Sequence[Any]) -> list[Case]:
    """Failed when its command exited non-zero; its output as the case's system-out and system-err."""
    return [_case(r, (), r.seconds, r.stdout, r.stderr) for r in results]


def _failure_text(case: Case) -> str:
    parts = [line for i in case.items if i.failed for line in (i.line(), i.detail) if line]
    if case.hint and case.hint not in (i.hint for i in case.items if i.failed):
        parts.append(f"hint: {case.hint}")
    if case.out or case.err:
        parts.append("\n".join(p for p in (case.out, case.err) if p))
    return "\n".join(parts)


def document(command: str, cases: Sequence[Case], seconds: float) -> bytes:
    """One suite named ``pyinstall COMMAND`` inside <testsuites>. Host text is made visible first: XML 1.0
    cannot carry most control characters at all."""
    from xml.etree import ElementTree as ET  # loaded when a document is asked for (--junit-xml)

    counts = {kind: sum(c.outcome == kind for c in cases) for kind in (FAILURE, ERROR, SKIPPED)}
    totals = {"tests": str(len(cases)), "failures": str(counts[FAILURE]), "errors": str(counts[ERROR])}
    name = f"pyinstall {command}"
    root = ET.Element("testsuites", name=name, time=f"{seconds:.3f}", **totals)
    suite = ET.SubElement(
        root, "testsuite", name=name, skipped=str(counts[SKIPPED]), time=f"{seconds:.3f}",
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"), hostname=socket.gethostname(), **totals,
    )  # fmt: skip
    warned = [(c.host, w) for c in cases for w in c.warnings]
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="warnings", value=str(len(warned)))
    ET.SubElement(properties, "property", name="hosts with warnings", value=str(len({h for h, _ in warned})))
    for c in cases:
        case = ET.SubElement(suite, "testcase", classname=name, name=visible(c.host))
        if c.seconds is not None:
            case.set("time", f"{c.seconds:.3f}")
        if c.outcome:
            element = ET.SubElement(case, c.outcome, message=visible(c.message))
            first = next((i for i in c.items if i.failed), None)
            if c.outcome != SKIPPED:
                element.set("type", f"{first.kind} {first.name}" if first else "host")
                element.text = visible(_failure_text(c)) or None
        said = [i.line() for i in c.items] + ([c.out] if c.out else [])
        if said:
            ET.SubElement(case, "system-out").text = visible("\n".join(said))
        if c.err:
            ET.SubElement(case, "system-err").text = visible(c.err)
    if warned:  # a warning in the suite's output too: CI pages show it without opening each host
        ET.SubElement(suite, "system-out").text = visible("\n".join(f"{h}: {w.line()}" for h, w in warned))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
