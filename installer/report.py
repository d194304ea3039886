"""Preflight reports: a terminal table and details (rich), or JSON. Renders; never decides."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from installer.checks import ERROR, INFO, WARNING
from installer.preflight import FAIL, PASS, UNREACHABLE, HostReport

_STYLE = {PASS: "green", FAIL: "red", UNREACHABLE: "magenta", ERROR: "red", WARNING: "yellow", INFO: "cyan"}


def to_json(reports: Sequence[HostReport], include_facts: bool = True) -> str:
    hosts: dict[str, Any] = {}
    for r in reports:
        entry = r.to_dict()
        if not include_facts:
            entry.pop("facts")
        hosts[r.name] = entry
    return json.dumps({"hosts": hosts}, indent=2, sort_keys=False)


def _reason(report: HostReport) -> str:
    if report.status == UNREACHABLE and report.error:
        return report.error.message
    first = report.first_error
    return f"{first.code}: {first.message}" if first else ""


def render(reports: Sequence[HostReport], console: Console) -> None:
    table = Table(title="Preflight", title_justify="left", show_lines=False)
    for column in ("host", "distro", "kernel", "arch", "verdict", "first failing reason"):
        table.add_column(column, overflow="fold")
    for r in reports:
        f = r.facts
        table.add_row(
            r.name,
            (f.release_text if f else "") or "-",
            (f.kernel_release if f else "") or "-",
            (f.arch if f else "") or "-",
            Text(r.status, style=_STYLE[r.status]),
            _reason(r),
        )
    console.print(table)
    for r in reports:
        lines = []
        if r.status == UNREACHABLE and r.error:
            lines.append((UNREACHABLE, type(r.error).__name__, r.error.message, r.error.hint))
        lines += [(f.level, f.code + (" (ignored)" if f.ignored else ""), f.message, f.hint) for f in r.findings]
        if not lines:
            continue
        console.print(Text(f"\n{r.name}", style="bold"))
        for level, code, message, hint in lines:
            console.print(Text.assemble("  ", (f"{level:<8}", _STYLE[level]), f" {code}: {message}"))
            if hint:
                console.print(Text(f"           hint: {hint}", style="dim"))
    counts = {s: sum(r.status == s for r in reports) for s in (PASS, FAIL, UNREACHABLE)}
    console.print(
        f"\n{len(reports)} host(s): {counts[PASS]} passed, {counts[FAIL]} failed, {counts[UNREACHABLE]} unreachable"
    )


def render_facts(reports: Sequence[HostReport], console: Console) -> None:
    table = Table(title="Facts", title_justify="left")
    for column in ("host", "release", "kernel", "arch", "init", "docker store", "free", "packages"):
        table.add_column(column, overflow="fold")
    for r in reports:
        f = r.facts
        if f is None:
            table.add_row(r.name, Text(r.error.message if r.error else "no facts", style="magenta"))
            continue
        fs = f.docker_fs
        free = f"{fs['avail_kb'] / (1 << 20):.1f} GiB" if fs.get("avail_kb") is not None else "-"
        table.add_row(
            r.name,
            f.release_text or "-",
            f.kernel_release or "-",
            f.arch or "-",
            f.service_manager,
            f"{fs.get('path')} ({fs.get('fstype')})",
            free,
            ", ".join(f"{name}-{evr}" for name, evr in f.packages.items()) or "-",
        )
    console.print(table)
