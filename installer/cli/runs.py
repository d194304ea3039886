"""`pyinstall runs`: the runs kept (installer/records.py), listed and filtered; one shown as it was printed,
or a rollout's runs merged; one host's history; two runs compared (installer/rundiff.py); old runs
pruned. Plain records in, text or JSON out: no SSH library loads."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from installer import localfiles, terminal
from installer.cli.context import ExitStatus
from installer.errors import UsageError

if TYPE_CHECKING:  # annotations only
    from rich.console import Console

LISTED = "pyinstall runs lists the runs kept"
LIMIT = 50  # runs listed unless --limit says


def cmd_runs(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    """`pyinstall runs`: the runs kept; `runs show ID|ROLLOUT`; `runs host NAME`; `runs diff A B`; `runs serve`;
    `runs prune`."""
    from installer import records

    url = args.database or records.default_url()
    action = args.runs_command
    filters = records.Filters(args.of_command, args.status, args.host, args.since, args.rollout)
    if action and (filters != records.Filters() or args.limit != LIMIT):
        raise UsageError(
            f"runs {action}: --limit, --command, --status, --host, --since and --rollout choose the runs listed, "
            "not the ones shown",
            "give them without an action: pyinstall runs --host NAME",
        )
    if action == "show":
        _show(url, args, out, err)
    elif action == "host":
        _host(url, args, out)
    elif action == "diff":
        from installer import rundiff

        d = rundiff.diff(_run(url, args.old, "A"), _run(url, args.new, "B"))
        if args.json:
            print(json.dumps(d, indent=2))
        else:
            rundiff.render(d, out)
    elif action == "serve":
        from installer import web

        guard = web.access(args.bind, args.token_file, args.tls_cert, args.tls_key)
        tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
        web.serve(url, args.bind, args.port, guard, tls, lambda said: err.print(terminal.text(said), soft_wrap=True))
    elif action == "prune":
        gone = records.prune(url, time.time() - args.older_than * 86400)
        said = f"{gone} run(s) started more than {args.older_than:g} day(s) ago forgotten from {records.shown(url)}"
        print(json.dumps({"pruned": gone}) if args.json else said)
    else:
        kept, total = records.runs(url, args.limit, filters)
        _list(kept, total, args.json, out, err)
    return ExitStatus.OK


def _run(url: str, given: str, label: str) -> dict[str, Any]:
    from installer import records

    if not given.isdigit():
        raise UsageError(f"{label}: {given!r} is not a run's number", LISTED)
    found = records.run(url, int(given))
    if found is None:
        raise UsageError(f"{label}: no run {given} in {records.shown(url)}", LISTED)
    return found


def _show(url: str, args: argparse.Namespace, out: Console, err: Console) -> None:
    from installer import records, report

    if not args.id.isdigit():
        merged = report.rollout_json(args.id, records.rollout(url, args.id))
        if not merged["runs"]:
            raise UsageError(f"no run of rollout {args.id!r} in {records.shown(url)}",
                             "pyinstall runs lists the runs kept, with their rollout")  # fmt: skip
        if args.json:
            print(json.dumps(merged, indent=2))
        else:
            report.render_rollout(merged, out)
        return
    found = _run(url, args.id, "show")
    if args.html:
        localfiles.save(args.html, report.run_html(found), err)
    if args.json:
        metadata = {k: v for k, v in found.items() if k not in ("report", "report_json")}
        print(json.dumps({"run": metadata, **found["report_json"]}, indent=2))
    elif found["ended"] is None:
        out.print(terminal.text(f"run {args.id} is unfinished: still running, or stopped before its end "
                                f"({found['controller']}, {found['argv']})"), soft_wrap=True)  # fmt: skip
    elif found["report"] is None:  # the run printed JSON (--json): its document, as printed
        print(report.dumps(found["report_json"], pretty=True))
    else:
        if found["check_mode"] and "changed" in found["report"] and "would change" not in found["report"]:
            # printed before --check runs said so
            out.print(terminal.text(("--check: nothing was changed; 'changed' below means would change", "yellow")))
        out.print(terminal.text(found["report"].rstrip("\n")), soft_wrap=True)


def _host(url: str, args: argparse.Namespace, out: Console) -> None:
    from installer import records

    history = records.host_history(url, args.name, args.host_limit)
    if not history:
        raise UsageError(f"no run kept in {records.shown(url)} worked on a host named {args.name!r}",
                         "pyinstall runs --json lists the runs and their hosts; names are the inventory's")  # fmt: skip
    if args.json:
        print(json.dumps(history, indent=2))
        return
    for h in history:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h["started"]))
        ran = f"  Docker {h['version']}, {h['storage_driver']}" if h["version"] else ""
        changed = f"  changed: {', '.join(h['changed'])}" if h["changed"] else ""
        would = f"  would change: {', '.join(h['would_change'])}" if h["would_change"] else ""
        out.print(terminal.text(f"{h['run']:>5}  {when}  {h['command']:<9}  {h['status']}{ran}{changed}{would}"),
                  soft_wrap=True)  # fmt: skip


def _list(kept: list[dict], total: int, as_json: bool, out: Console, err: Console) -> None:
    more = terminal.text((f"{total - len(kept)} more (--limit N to see more)", "dim"))
    if as_json:  # the list alone on stdout, as before: how many more is said on stderr
        print(json.dumps(kept, indent=2))
        if total > len(kept):
            err.print(more)
        return
    for r in kept:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["started"]))
        hosts = ", ".join(f"{n} {status}" for status, n in sorted(r["hosts"].items()))
        ended = "unfinished" if r["ended"] is None else f"exit {r['exit_status']}"
        command = f"{r['command']} -C" if r["check_mode"] else r["command"]
        part = f"  rollout {r['rollout']}{' shard ' + r['shard'] if r['shard'] else ''}" if r["rollout"] else ""
        by = f"{r['username']}@{r['controller']}"
        out.print(terminal.text(f"{r['id']:>5}  {when}  {command:<12}  {ended}  {hosts}  {by}  {r['inventory']}"
                                f"{part}"), soft_wrap=True)  # fmt: skip
    if total > len(kept):
        out.print(more)
