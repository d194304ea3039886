"""Preflight reports: a terminal table and details (rich), or JSON. Renders; never decides."""

from __future__ import annotations

import collections
import json
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from installer.docker_info import size_bytes
from installer.outcome import ALWAYS_SAID, Finding, HostResult, Level, Status
from installer.platforms import TEMPLATES_DIR
from installer.terminal import text, visible

if TYPE_CHECKING:
    from pathlib import Path

    import jinja2

ERROR, WARNING, INFO = Level.ERROR, Level.WARNING, Level.INFO
UNREACHABLE = Status.UNREACHABLE
_RUN_STYLE = {
    Status.OK: "green",
    Status.CHANGED: "yellow",
    Status.WOULD_CHANGE: "yellow",
    Status.FAILED: "red",
    Status.UNREACHABLE: "magenta",
    Status.SKIPPED: "cyan",
    Status.INTERRUPTED: "cyan",
    Status.UNKNOWN: "magenta",
    Status.NOT_INSTALLED: "red",
}
_STYLE = {ERROR: "red", WARNING: "yellow", INFO: "cyan", **_RUN_STYLE}
# What each command calls a host's outcome: the statuses are one vocabulary, the verdicts read naturally.
CHECK_VERDICT = {Status.OK: "passed", Status.FAILED: "failed"}
INFO_VERDICT = {Status.OK: "valid", Status.FAILED: "invalid"}  # not installed, unreachable: as they are
VERIFY_VERDICT = {Status.OK: "passed", Status.FAILED: "failed"}


def _verdict(status: Status, words: dict[Status, str]) -> Text:
    return text((words.get(status, str(status)), _RUN_STYLE.get(status, "")))


def _add_row(table: Table, *cells: object) -> None:
    """A table row whose text cells are plain text made visible (a host's words are never markup)."""
    table.add_row(*(cell if isinstance(cell, Text) else text(str(cell)) for cell in cells))


def dumps(data: dict[str, Any], pretty: bool = False) -> str:
    """A report as JSON: indented for a person (``--json``, the saved report), compact for the run records,
    where the C encoder serialises a fleet's facts many times faster (indent takes the pure-Python one)."""
    return json.dumps(data, indent=2) if pretty else json.dumps(data, separators=(",", ":"))


def check_report(reports: Sequence[Any], include_facts: bool = True) -> dict[str, Any]:
    hosts: dict[str, Any] = {}
    for r in reports:
        entry = r.to_dict()
        if not include_facts:
            entry.pop("facts")
        hosts[r.name] = entry
    return {"hosts": hosts}


def render(reports: Sequence[Any], console: Console) -> None:
    table = Table(title="Preflight", title_justify="left", show_lines=False)
    for column in ("host", "distro", "kernel", "arch", "verdict", "first failing reason"):
        table.add_column(column, overflow="fold")
    for r in reports:
        f = r.facts
        _add_row(
            table,
            r.name,
            (f.release_text if f else "") or "-",
            (f.kernel_release if f else "") or "-",
            (f.arch if f else "") or "-",
            _verdict(r.status, CHECK_VERDICT),
            r.reason if r.status in (UNREACHABLE, Status.FAILED) else "",
        )
    console.print(table)
    for r in reports:
        lines = []
        if r.status == UNREACHABLE and r.exception:
            lines.append((UNREACHABLE, r.exception["type"], r.error, r.hint))
        lines += [(f.level, f.code + (" (ignored)" if f.ignored else ""), f.message, f.hint) for f in r.findings]
        if not lines:
            continue
        console.print(text((f"\n{r.name}", "bold")))
        for level, code, message, hint in lines:
            console.print(text("  ", (f"{level:<8}", _STYLE[level]), f" {code}: {message}"))
            if hint:
                console.print(text((f"           hint: {hint}", "dim")))
    counts = {s: sum(r.status == s for r in reports) for s in Status}
    line = f"\n{len(reports)} host(s): {counts[Status.OK]} passed, {counts[Status.FAILED]} failed, "
    line += f"{counts[Status.UNREACHABLE]} unreachable"
    if counts[Status.SKIPPED] or counts[Status.INTERRUPTED]:
        line += f", {counts[Status.SKIPPED] + counts[Status.INTERRUPTED]} not checked (interrupted)"
    console.print(text(line))


def render_facts(reports: Sequence[Any], console: Console) -> None:
    table = Table(title="Facts", title_justify="left")
    for column in ("host", "release", "kernel", "arch", "init", "docker store", "free", "packages"):
        table.add_column(column, overflow="fold")
    for r in reports:
        f = r.facts
        if f is None:
            _add_row(table, r.name, text((r.reason or "no facts", "magenta")))
            continue
        fs = f.docker_fs
        free = f"{fs['avail_kb'] / (1 << 20):.1f} GiB" if fs.get("avail_kb") is not None else "-"
        _add_row(
            table,
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


def provision_report(runs: Sequence[Any]) -> dict[str, Any]:
    return {"hosts": {r.name: r.to_dict() for r in runs}}


def render_provision(
    runs: Sequence[Any], console: Console, verbose: int = 0, diff: bool = False, printed: Collection[str] = ()
) -> None:
    """Per host: each task with its status (but for the hosts ``printed`` as they finished), then one recap
    line per host (Ansible's shape)."""
    for r in runs:
        if r.name not in printed:
            render_host_run(r, console, verbose, diff)
    _recap(runs, console)


def render_host_run(r: Any, console: Console, verbose: int = 0, diff: bool = False) -> None:
    """One host's block: its status, error, findings and tasks."""
    console.print(text(("\n" + r.name, "bold"), "  ", (r.status, _RUN_STYLE.get(r.status, ""))))
    if r.error:
        console.print(text((f"  {r.error}", _RUN_STYLE.get(r.status, ""))))
        if r.hint:
            console.print(text((f"  hint: {r.hint}", "dim")))
    if verbose > 1 and r.noise:
        console.print(text(("  host noise (printed outside pyinstall's commands, ignored):", "dim")))
        for line in "\n".join(r.noise).splitlines()[:20]:
            console.print(text(f"           | {line}"), soft_wrap=True)
    for f in r.findings:
        if f is r.failed_finding:
            continue  # already said, as the reason the host failed
        if f.level == ERROR or f.ignored or verbose or f.code in ALWAYS_SAID:
            label = f"{f.code} (ignored)" if f.ignored else f.code
            console.print(text((f"  preflight {f.level}: {label}: {f.message}", _STYLE[f.level])))
    for t in r.tasks:
        took = f"  {t.seconds:.1f} s" if t.seconds is not None and t.seconds >= 1 else ""  # the steps that take time
        console.print(text("  ", (f"{t.status:<8}", _RUN_STYLE.get(t.status, "")), f" {t.name}",
                           (f"  ({t.msg})" if t.msg else "", "dim"), (took, "dim")))  # fmt: skip
        if verbose:
            for c in t.commands:
                console.print(text((f"           $ {c}", "dim")), soft_wrap=True)
        if verbose > 1 or (t.status == Status.FAILED and (t.stderr or t.stdout)):
            for line in (t.stdout + t.stderr).strip().splitlines()[-20:]:
                console.print(text(f"           | {line}"), soft_wrap=True)
        if verbose and t.log:
            console.print(text(("           the daemon's log:", "dim")))
            for line in t.log.splitlines():
                console.print(text(f"           | {line}"), soft_wrap=True)
        if diff and t.diff:
            console.print(text(t.diff.rstrip("\n")), soft_wrap=True)
    if r.migration:
        _render_migration(r.migration, console)


def _render_migration(m: dict[str, Any], console: Console) -> None:
    """What a storage migration kept and what it leaves to the operator."""
    console.print(text(("  migration kept:", "bold")))
    for image in m["images"]:
        console.print(text(f"    image {image['id'][7:19]} {' '.join(image['tags']) or '(untagged)'}"), soft_wrap=True)
    for c in m["containers"]:
        console.print(text(("    to recreate: ", "yellow"), f"{c['name']} (docker inspect in {c['inspect_path']})"),
                      soft_wrap=True)  # fmt: skip
    for path, held in m["old"].items():
        console.print(text(f"    old store {path}: {held / 1e9:.2f} GB on disk, kept until --purge-old-storage"))
    if m.get("thin_pool"):
        console.print(text(f"    thin pool {m['thin_pool']}: kept, unused by the new daemon, until "
                           "--purge-old-storage"))  # fmt: skip
    digests = [d for image in m["images"] for d in image["digests"]]
    if digests:
        console.print(text(("    not restored by docker load (pull by digest again if needed): ", "dim"),
                           ", ".join(digests)), soft_wrap=True)  # fmt: skip


def _recap(runs: Sequence[Any], console: Console) -> None:
    console.print(text(("\nRECAP", "bold")))
    width = max((len(r.name) for r in runs), default=4)
    for r in runs:
        console.print(text(
            (f"{r.name:<{width}}", _RUN_STYLE.get(r.status, "")),
            f"  ok={r.count('ok')} {_changed(r)} failed={r.count('failed')}",
            f"  {r.status}",
        ))  # fmt: skip


def _changed(r: Any) -> str:
    """changed=N, or under --check would_change=N (nothing changed)."""
    would = r.count(Status.WOULD_CHANGE)
    return f"would_change={would}" if would else f"changed={r.count(Status.CHANGED)}"


def info_report(hosts: Sequence[Any], summary: dict[str, Any], outliers: Sequence[Any]) -> dict[str, Any]:
    """Each host's drift is in its record; ``drift`` repeats it fleet-wide, one entry per difference."""
    drift = [{"host": h.name, **d.to_dict()} for h in hosts for d in h.drift]
    outlying = [o.__dict__ for o in outliers]
    return {"hosts": {h.name: h.to_dict() for h in hosts}, "summary": summary, "drift": drift, "outliers": outlying}


def render_info(hosts: Sequence[Any], summary: dict[str, Any], outliers: Sequence[Any], console: Console) -> None:
    table = Table(title="Docker on the fleet", title_justify="left")
    for column in ("host", "version", "driver", "data space", "containers", "images", "warnings", "verdict", "why"):
        table.add_column(column, overflow="fold")
    for h in hosts:
        d = h.info.to_dict() if h.info and h.info.reachable else {}
        space = f"{d['data_space_used']} / {d['data_space_total']}" if d.get("data_space_total") else "-"
        _add_row(
            table,
            h.name,
            d.get("server_version") or "-",
            d.get("storage_driver") or "-",
            space,
            str(d.get("containers") if d.get("containers") is not None else "-"),
            str(d.get("images") if d.get("images") is not None else "-"),
            str(sum(f.level in (WARNING, INFO) for f in h.findings)),
            _verdict(h.status, INFO_VERDICT),
            h.reason,
        )
    console.print(table)
    for h in hosts:
        shown = [f for f in h.findings if f.level in (ERROR, WARNING) and f.code != "DRIFT"]
        if not shown and not h.drift:
            continue
        console.print(text((f"\n{h.name}", "bold")))
        for f in shown:
            console.print(text("  ", (f"{f.level:<8}", _STYLE[f.level]), f" {f}"))
            if f.hint:
                console.print(text((f"           hint: {f.hint}", "dim")))
        for d in h.drift:
            console.print(text("  ", ("drift   ", "yellow"), f" {d}"))
        for f in (f for f in h.findings if f.code == "DRIFT"):
            console.print(text((f"           hint: {f.hint}", "dim")))
    status = summary["status"]
    console.print(
        text(
            f"\n{summary['hosts']} host(s): {status.get(Status.OK, 0)} valid, {status.get(Status.FAILED, 0)} "
            f"invalid, {status.get(Status.NOT_INSTALLED, 0)} not installed, {status.get(Status.UNREACHABLE, 0)} "
            "unreachable"
        )
    )
    versions = ", ".join(f"{v} x{n}" for v, n in sorted(summary["versions"].items()))
    drivers = ", ".join(f"{v} x{n}" for v, n in sorted(summary["storage_drivers"].items()))
    console.print(text(f"versions: {versions or '-'}"))
    console.print(text(f"storage drivers: {drivers or '-'}"))
    for o in outliers:
        console.print(text((f"outlier: {o.host} runs {o.field} {o.value}; most of the {o.peers} hosts asked the "
                            f"same run {o.majority}", "yellow")))  # fmt: skip


def verify_report(hosts: Sequence[Any]) -> dict[str, Any]:
    return {"hosts": {h.name: h.to_dict() for h in hosts}}


def render_verify(hosts: Sequence[Any], console: Console) -> None:
    """A row per host: its tests' counts and the first failure; then every failed test by host."""
    table = Table(title="Verified on each host", title_justify="left")
    for column in ("host", "passed", "failed", "errors", "skipped", "verdict", "why"):
        table.add_column(column, overflow="fold")
    for h in hosts:
        _add_row(table, h.name, str(h.count("passed")), str(h.count("failed")), str(h.count("error")),
                 str(h.count("skipped")), _verdict(h.status, VERIFY_VERDICT), h.reason)  # fmt: skip
    console.print(table)
    for h in hosts:
        failed = [t for t in h.tests if t.outcome in ("failed", "error")]
        if failed:
            console.print(text((f"\n{h.name}", "bold")))
            for t in failed:
                console.print(text("  ", (f"{t.outcome:<7}", "red"), f" {t.name}: {t.message}"))
        if h.hint:
            console.print(text((f"\n{h.name}: hint: {h.hint}", "dim")))
    counts = {status: sum(h.status == status for h in hosts) for status in Status}
    console.print(text(f"\n{len(hosts)} host(s): {counts[Status.OK]} passed, {counts[Status.FAILED]} failed, "
                       f"{counts[Status.NOT_INSTALLED]} not installed, "
                       f"{counts[Status.UNREACHABLE]} unreachable"))  # fmt: skip


_PALETTE = ("#0969da", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#57606a")


def _chart(title: str, items: list[tuple[str, float, str]], width: int = 260) -> dict[str, Any]:
    """A horizontal bar chart as plain numbers for the template's inline SVG."""
    label_width, peak = 150, max((v for _, v, _ in items), default=0) or 1
    bars = [
        {"label": label[:24], "y": i * 22, "width": max(2, int(value / peak * width)), "text": text,
         "color": _PALETTE[i % len(_PALETTE)]}
        for i, (label, value, text) in enumerate(items)
    ]  # fmt: skip
    return {"title": title, "bars": bars, "label_width": label_width, "width": label_width + width + 90,
            "height": max(22, 22 * len(bars))}  # fmt: skip


def info_html(hosts: Sequence[Any], summary: dict[str, Any], outliers: Sequence[Any], generated: str) -> str:
    """A self-contained page: inline CSS and SVG, no script, no external asset; opens offline."""
    rows, space = [], []
    for h in hosts:
        d = h.info.to_dict() if h.info and h.info.reachable else {}
        used, total = size_bytes(d.get("data_space_used")), size_bytes(d.get("data_space_total"))
        if used is not None and total:
            space.append((h.name, used / total * 100, f"{d['data_space_used']} of {d['data_space_total']}"))
        rows.append({
            "name": h.name, "status": INFO_VERDICT.get(h.status, str(h.status)), "error": h.error,
            "findings": [f for f in h.findings if f.code != "DRIFT"], "drift": [str(d) for d in h.drift],
            "version": d.get("server_version") or "-", "driver": d.get("storage_driver") or "-",
            "space": f"{d['data_space_used']} / {d['data_space_total']}" if d.get("data_space_total") else "-",
            "containers": d.get("containers") if d.get("containers") is not None else "-",
            "images": d.get("images") if d.get("images") is not None else "-",
        })  # fmt: skip
    charts = [
        _chart("Versions", [(v, n, str(n)) for v, n in sorted(summary["versions"].items())]),
        _chart("Storage drivers", [(v, n, str(n)) for v, n in sorted(summary["storage_drivers"].items())]),
    ]
    if space:
        charts.append(_chart("devicemapper data space used (%)", [(n, p, t) for n, p, t in space]))
    return _html("info.html.j2", hosts=rows, summary=summary, outliers=outliers, charts=charts, generated=generated)


def rollout_json(rollout_id: str, runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A rollout's kept runs (records.rollout(), oldest first) as one report: its runs, and each host's
    latest record by command, marked with the run and shard it came from."""
    merged: dict[str, Any] = {"rollout": rollout_id, "runs": [], "hosts": {}}
    for run in runs:
        merged["runs"].append({k: run[k] for k in ("id", "command", "shard", "controller", "username", "started",
                                                    "ended", "exit_status", "failed")})  # fmt: skip
        for name, record in run["report_json"].get("hosts", {}).items():
            merged["hosts"].setdefault(run["command"], {})[name] = {**record, "run": run["id"], "shard": run["shard"]}
    return merged


def render_rollout(merged: dict[str, Any], console: Console) -> None:
    console.print(text((f"Rollout {merged['rollout']}", "bold"), f": {len(merged['runs'])} run(s)"))
    runs = Table(title_justify="left", box=None)
    for column in ("run", "command", "shard", "by", "exit"):
        runs.add_column(column)
    for r in merged["runs"]:
        ended = "unfinished" if r["ended"] is None else f"exit {r['exit_status']}"
        _add_row(runs, r["id"], r["command"], r["shard"] or "-", f"{r['username']}@{r['controller']}", ended)
    console.print(runs)
    for command, hosts in merged["hosts"].items():
        table = Table(title=f"{command}: {len(hosts)} host(s)", title_justify="left")
        for column in ("host", "shard", "run", "status", "why"):
            table.add_column(column, overflow="fold")
        for name, record in hosts.items():
            _add_row(table, name, record["shard"] or "-", record["run"], record["status"], record_why(record))
        console.print(table)
        counts = collections.Counter(record["status"] for record in hosts.values())
        console.print(text(", ".join(f"{n} {status}" for status, n in sorted(counts.items()))))


def record_why(record: dict[str, Any]) -> str:
    """Why a kept host record is what it is, as its command said it (HostResult.reason)."""
    error = record.get("error")
    if isinstance(error, dict):  # check's: the SSH or host error that stopped it
        error = error.get("message")
    findings = [Finding.from_dict(f) for f in record.get("findings") or []]
    return HostResult("", Status(record["status"]), findings, str(error or record.get("note") or "")).reason


def run_html(run: dict[str, Any]) -> str:
    """A kept run (installer/records.py) as a self-contained page: runs serve's run page, offline."""
    from installer import web

    return web.run_page(run)


def html_environment(directory: Path) -> jinja2.Environment:
    """Pages from untrusted text: every value escaped, and its control characters made visible (``\\x1b``),
    as on the terminal (the reports here, runs serve's pages)."""
    import jinja2
    import markupsafe

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        finalize=lambda v: v if isinstance(v, markupsafe.Markup) or not isinstance(v, str) else visible(v),
    )


def _html(template: str, **values: Any) -> str:
    return html_environment(TEMPLATES_DIR).get_template(template).render(**values)


# ---------------------------------------------------------------- exec


def exec_report(results: Sequence[Any]) -> dict[str, Any]:
    return {"hosts": {r.name: r.to_dict() for r in results}}


def render_exec(results: Sequence[Any], console: Console, output: bool = True) -> None:
    """Each host's outcome, then (``output``) what its command printed, stderr in red; a recap last. Streamed
    runs printed the output as it came: they pass ``output=False``."""
    for r in results:
        said = f"rc={r.rc}" if r.rc is not None else r.reason
        console.print(text((r.name, "bold"), " | ", (str(r.status), _RUN_STYLE.get(r.status, "")), f" | {said}",
                           f" ({r.seconds:.2f} s)" if r.rc is not None else ""), soft_wrap=True)  # fmt: skip
        if r.rc is None and r.hint:
            console.print(text(f"  hint: {r.hint}"), soft_wrap=True)
        if output:
            if r.stdout:
                console.print(text(r.stdout.rstrip("\n")), soft_wrap=True)
            if r.stderr:
                console.print(text((r.stderr.rstrip("\n"), "red")), soft_wrap=True)
    counts = collections.Counter(str(r.status) for r in results)
    console.print(text("RECAP ", ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
                       f" of {len(results)} host(s)"), soft_wrap=True)  # fmt: skip
