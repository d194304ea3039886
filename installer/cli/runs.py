"""`pyinstall runs`: the runs kept (installer/records.py), listed; one shown as it was printed, or a
rollout's runs merged; one host's history. Plain records in, text or JSON out: no SSH library loads."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

from installer import localfiles, terminal
from installer.cli.context import ExitStatus
from installer.errors import UsageError

if TYPE_CHECKING:  # annotations only
    from rich.console import Console


def cmd_runs(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    """`pyinstall runs`: the runs kept; `runs show ID|ROLLOUT`; `runs host NAME`."""
    from installer import records, report

    url = args.database or records.default_url()
    if args.runs_command == "show" and not args.id.isdigit():
        merged = report.rollout_json(args.id, records.rollout(url, args.id))
        if not merged["runs"]:
            raise UsageError(f"no run of rollout {args.id!r} in {records.shown(url)}",
                             "pyinstall runs lists the runs kept, with their rollout")  # fmt: skip
        if args.json:
            print(json.dumps(merged, indent=2))
        else:
            report.render_rollout(merged, out)
    elif args.runs_command == "show":
        found = records.run(url, int(args.id))
        if found is None:
            raise UsageError(f"no run {args.id} in {records.shown(url)}", "pyinstall runs lists the runs kept")
        if args.html:
            localfiles.save(args.html, report.run_html(found), err)
        if args.json:
            print(json.dumps(found["report_json"], indent=2))
        elif found["ended"] is None:
            out.print(terminal.text(f"run {args.id} is unfinished: still running, or stopped before its end "
                                    f"({found['controller']}, {found['argv']})"), soft_wrap=True)  # fmt: skip
        else:
            out.print(terminal.text(found["report"].rstrip("\n")), soft_wrap=True)
    elif args.runs_command == "host":
        history = records.host_history(url, args.name)
        if args.json:
            print(json.dumps(history, indent=2))
            return ExitStatus.OK
        for h in history:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h["started"]))
            ran = f"  Docker {h['version']}, {h['storage_driver']}" if h["version"] else ""
            changed = f"  changed: {', '.join(h['changed'])}" if h["changed"] else ""
            out.print(terminal.text(f"{h['run']:>5}  {when}  {h['command']:<9}  {h['status']}{ran}{changed}"),
                      soft_wrap=True)  # fmt: skip
    else:
        _list(records.runs(url), args.json, out)
    return ExitStatus.OK


def _list(kept: list[dict], as_json: bool, out: Console) -> None:
    if as_json:
        print(json.dumps(kept, indent=2))
        return
    for r in kept:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["started"]))
        hosts = ", ".join(f"{n} {status}" for status, n in sorted(r["hosts"].items()))
        ended = "unfinished" if r["ended"] is None else f"exit {r['exit_status']}"
        part = f"  rollout {r['rollout']}{' shard ' + r['shard'] if r['shard'] else ''}" if r["rollout"] else ""
        by = f"{r['username']}@{r['controller']}"
        out.print(terminal.text(f"{r['id']:>5}  {when}  {r['command']:<9}  {ended}  {hosts}  {by}  {r['inventory']}"
                                f"{part}"), soft_wrap=True)  # fmt: skip
