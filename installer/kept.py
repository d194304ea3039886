"""What the controller keeps of each run, from the command line's side (installer/records.py is the database).

    start() ─▶ runlog.start         the run, kept from its start (one killed on the way is still listed)
    rollout_gate() ─▶ records.rollout_failed   before each batch: this shard's failures out, the rollout's in
    finish() ─▶ runlog.finish       the report as printed, each host's record

A database that cannot be written is a warning, never a failed run, except for a rollout's failure
budget: the budget is what makes it safe to go on, so a run with one changes nothing without it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import shlex
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer import __version__, events, terminal
from installer.errors import UsageError
from installer.outcome import failures

if TYPE_CHECKING:  # annotations only
    from rich.console import Console

    from installer import provision


def start(args: argparse.Namespace, err: Console) -> None:
    """Keep the run from its start; ``args.run_id`` is its id, or None when it is not kept. The database
    layer loads and writes on a thread of its own (SQLAlchemy's import and the first write are a third of
    a second of CPU the hosts need not wait for; finish() waits for it), unless the rollout's state must be
    read before any host is touched: a sharded rollout's shard function, a rollout's failure budget."""
    from installer import rollout

    if args.rollout:
        rollout.parse_rollout(args.rollout)
    if getattr(args, "rollout_max_fail", None):
        if not args.rollout:
            raise UsageError("--rollout-max-fail needs --rollout ID: the runs that share the budget",
                             "give every shard the same --rollout (e.g. ci-$CI_PIPELINE_ID)")  # fmt: skip
        rollout.parse_budget(args.rollout_max_fail)
    sources = [Path(p) for p in args.inventory_opt]
    digest = hashlib.sha256()
    for source in sources:
        for f in sorted(source.iterdir()) if source.is_dir() else [source]:
            with contextlib.suppress(OSError):  # the inventory's own error comes next, from the command
                digest.update(f.read_bytes() if f.is_file() else b"")
    begun = {
        "started": args.started_at,
        "command": args.command,
        "argv": events.clean(shlex.join(args.argv)),
        "version": __version__,
        "inventory": ", ".join(str(p.resolve()) for p in sources),
        "inventory_sha256": digest.hexdigest() if sources else "",
        "rollout": args.rollout,
        "shard": args.shard and "{}/{}".format(*rollout.parse_shard(args.shard)),
        "shard_function": args.shard and rollout.SHARD_FUNCTION,
        "check_mode": bool(getattr(args, "check", False)),
    }
    args.run_id, args.kept_warning = None, None
    if args.rollout and (args.shard or getattr(args, "rollout_max_fail", None)):
        _begin(args, begun, err)
        return
    args.kept_thread = threading.Thread(target=_begin, args=(args, begun, None), name="run-record")
    args.kept_thread.start()
    args.kept_release = events.hold_changes(args.kept_thread.join)


def _begin(args: argparse.Namespace, begun: dict[str, Any], err: Console | None) -> None:
    """The run's first row. ``err`` None (on the record's thread): a warning waits for finish() to say it,
    as the hosts' progress may hold the terminal by then."""
    from installer import rollout, runlog

    args.database = args.database or runlog.default_url()
    try:
        other = args.rollout and args.shard and _shard_functions(args.database, args.rollout)
        if other and other != {rollout.SHARD_FUNCTION}:
            raise _ShardFunctionChanged(
                f"--shard: rollout {args.rollout} was started by a pyinstall that put hosts in shards another way "
                "(rendezvous hashing): under this one its shards would miss some hosts and do others twice",
                "finish the rollout with the pyinstall that started it, or start a new one (another --rollout id)",
            )
        args.run_id = runlog.start(args.database, runlog.Start(**begun))
    except _ShardFunctionChanged:
        raise
    except Exception as exc:  # any driver's error, or none installed
        args.run_id = None
        if getattr(args, "rollout_max_fail", None):  # no budget without the database: change nothing
            from installer import records

            raise UsageError(
                f"--rollout-max-fail: the rollout's failure budget is kept in {records.shown(args.database)}, "
                f"which cannot be written: {records.cause(exc)}",
                "give a --database every shard can reach, or leave out --rollout-max-fail",
            ) from None
        if err is None:
            args.kept_warning = exc
        else:
            _warning(args.database, exc, err)


def _shard_functions(url: str, rollout_id: str) -> set[str | None]:
    from installer import records  # SQLAlchemy: only a sharded rollout reads before it writes

    return records.shard_functions(url, rollout_id)


class _ShardFunctionChanged(UsageError):
    pass


def rollout_gate(args: argparse.Namespace) -> Callable[[list[provision.HostRun]], str | None] | None:
    """--rollout-max-fail: before each batch, this shard's failures go to the database and the rollout's
    come back; over the budget (or unreadable), the reason no batch starts."""
    if not args.rollout_max_fail:
        return None
    from installer import records, rollout

    budget, written = rollout.parse_budget(args.rollout_max_fail), args.rollout_max_fail

    def gate(results: list[provision.HostRun]) -> str | None:
        failed = failures(r.status for r in results)
        try:
            total = records.rollout_failed(args.database, args.run_id, args.rollout, failed)
        except Exception as exc:
            where = records.shown(args.database)
            return f"not attempted: the rollout's failure budget could not be read from {where}: {records.cause(exc)}"
        if rollout.rollout_budget_exceeded(total, budget, args.rollout_hosts):
            return (f"not attempted: rollout {args.rollout} has {total} failed or unreachable host(s) across its "
                    f"shards, more than --rollout-max-fail {written}")  # fmt: skip
        return None

    return gate


def finish(
    args: argparse.Namespace,
    data: dict[str, Any],
    report: str | Callable[[Console], None] | None,
    status: int,
    err: Console,
) -> None:
    """Complete the run's record: the report as printed (``report``: its text as the terminal got it, or how
    to draw it again, as wide as the terminal; None when the run printed its JSON document, report_json:
    no text is drawn that nobody saw), each host's record. Secrets are cleaned as for every other view."""
    thread = getattr(args, "kept_thread", None)
    if thread is not None:
        thread.join()
        args.kept_release()
    if getattr(args, "kept_warning", None) is not None:
        _warning(args.database, args.kept_warning, err)
    if getattr(args, "run_id", None) is None:
        return
    from installer import runlog

    if callable(report):
        drawn = io.StringIO()
        report(terminal.plain_console(drawn, terminal.console(sys.stdout).width))
        report = drawn.getvalue()
    from installer.report import dumps

    hosts = data["hosts"]
    end = runlog.End(
        ended=time.time(),
        exit_status=int(status),
        report=None if report is None else events.clean(report),
        report_json=events.clean(dumps(data)),
        hosts=[(name, str(h["status"]), events.clean(dumps(h))) for name, h in hosts.items()],
        failed=failures(str(h["status"]) for h in hosts.values()),
        argv=events.clean(shlex.join(args.argv)),
    )
    try:
        runlog.finish(args.database, args.run_id, end)
        keep = args.settings["keep_runs"].value if hasattr(args, "settings") else None
        if keep is not None:
            runlog.prune(args.database, end.ended - keep * 86400)
    except Exception as exc:
        _warning(args.database, exc, err)


def _warning(url: str, exc: Exception, err: Console) -> None:
    from installer import records

    said = f": the run is not kept in {records.shown(url)}: {records.cause(exc)}"
    err.print(terminal.text(("warning", "yellow"), said), soft_wrap=True)
