"""The commands that work on hosts: facts, check, provision, remove, info, verify (and --list-hosts for
each). Each handler runs its command's module on the selected hosts and hands the results to the report;
the modules that reach hosts are imported where a command starts (`--help` loads no SSH library)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer import kept, localfiles, terminal
from installer.cli.context import DEFAULT_REPORT, ExitStatus, exit_status, load_inventory, selected, targets
from installer.errors import UsageError
from installer.outcome import Status

if TYPE_CHECKING:  # annotations only
    from rich.console import Console

    from installer import bundle, junit, provision


def cmd_list_hosts(args: argparse.Namespace) -> ExitStatus:
    """What a command would work on, as `ansible --list-hosts` prints it; no host is contacted."""
    selection = selected(args, load_inventory(args))
    # Nothing to work on is the same refusal as the command's (exit 5), as Ansible's --list-hosts fails too.
    status = ExitStatus.OK if selection.hosts else ExitStatus.USAGE
    if args.json:
        print(json.dumps({"hosts": selection.hosts, "unmatched": selection.unmatched}, indent=2))
        return status
    print(f"  hosts ({len(selection.hosts)}):")
    for name in selection.hosts:
        print(f"    {terminal.visible(name)}")
    for term in selection.unmatched:
        print(f"warning: host pattern {terminal.visible(term)!r} matched no host", file=sys.stderr)
    if not selection.hosts:
        print("error: no hosts matched: check the pattern", file=sys.stderr)
    return status


def cmd_facts(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import preflight, report

    reports = preflight.run(targets(args, err), forks=args.forks, facts_only=True)
    if args.json:
        hosts = {r.name: r.facts.to_dict() if r.facts else {"error": r.reason or None} for r in reports}
        print(json.dumps({"hosts": hosts}, indent=2))
    else:
        report.render_facts(reports, out)
    return exit_status(r.status for r in reports if r.status == Status.UNREACHABLE)  # facts: only reach matters


@contextlib.contextmanager
def _bundles(args: argparse.Namespace) -> Iterator[dict[str, bundle.Bundle]]:
    """The offline bundles given (--bundle), one per platform, unpacked for the run's length."""
    if not args.bundle:
        yield {}
        return
    from installer import bundle

    with tempfile.TemporaryDirectory(prefix="pyinstall-bundles-") as tmp:
        bundles: dict[str, bundle.Bundle] = {}
        for i, path in enumerate(args.bundle):
            loaded = bundle.load(Path(path), Path(tmp) / str(i))
            if loaded.platform in bundles:
                raise UsageError(f"two bundles for {loaded.platform}", "give at most one per platform")
            bundles[loaded.platform] = loaded
        yield bundles


def cmd_check(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import junit, preflight, report

    with _bundles(args) as bundles:
        reports = preflight.run(targets(args, err, bundles=bundles), forks=args.forks)
    render = functools.partial(report.render, reports)
    return _reported(args, out, err, junit.check_cases(reports), report.check_report(reports), render, reports)


def _reported(
    args: argparse.Namespace,
    out: Console,
    err: Console,
    cases: list[junit.Case],
    data: dict[str, Any],
    render: Callable[[Console], None],
    results: Iterable[Any],
) -> ExitStatus:
    """The end of a command's run: JUnit if asked, JSON or the rendered report, the run kept; the exit
    status from its hosts' outcomes."""
    from installer import report

    _junit(args, cases, err)
    printed = None
    if args.json:
        print(report.dumps(data, pretty=True))
    else:
        printed = _printed(render, out)
    status = exit_status(r.status for r in results)
    kept.finish(args, data, printed, status, err)
    return status


def _printed(render: Callable[[Console], None], out: Console) -> str:
    """Render to ``out`` and return what it printed, as plain text: the report rendered once, for the
    terminal and for the run's record alike."""
    out.record = True
    try:
        render(out)
        return out.export_text(clear=True)
    finally:
        out.record = False


def cmd_provision(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import provision, rollout

    if args.check and (args.pre_host or args.post_host):  # said, not silently skipped
        err.print(terminal.text(("note", "cyan"), ": --pre-host and --post-host do not run under --check (it changes "
                                "nothing, so there is nothing to drain for)"), soft_wrap=True)  # fmt: skip
    with _bundles(args) as bundles:
        serial = rollout.parse_serial(args.serial) if args.serial else None
        runs = provision.run(
            targets(args, err, bundles=bundles),
            check=args.check,
            forks=args.forks,
            serial=serial,
            max_fail_percentage=args.max_fail_percentage,
            tags=args.tags,
            skip_tags=args.skip_tags or frozenset(),
            gate=kept.rollout_gate(args),
            pre_host=args.pre_host,
            post_host=args.post_host,
        )
    return _rolled_out(args, out, err, runs)


def cmd_remove(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import remove, rollout

    hosts = targets(args, err)
    if args.purge_data and not args.check and not args.yes:
        _confirm_purge(len(hosts))
    serial = rollout.parse_serial(args.serial) if args.serial else None
    runs = remove.run(hosts, check=args.check, purge_data=args.purge_data, forks=args.forks, serial=serial,
                      max_fail_percentage=args.max_fail_percentage, gate=kept.rollout_gate(args))  # fmt: skip
    return _rolled_out(args, out, err, runs)


def _confirm_purge(count: int) -> None:
    """--purge-data deletes every image, container and volume: said yes to on a terminal, or with --yes."""
    hint = "add --yes to confirm without a terminal, or leave out --purge-data"
    if not sys.stdin.isatty():
        raise UsageError("--purge-data deletes Docker's data and there is no terminal to confirm it on", hint)
    try:
        answer = input(f"Delete /var/lib/docker (every image, container and volume) on {count} host(s)? [yes/NO] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() != "yes":
        raise UsageError("not confirmed: nothing was removed", hint)


def _rolled_out(args: argparse.Namespace, out: Console, err: Console, runs: list[provision.HostRun]) -> ExitStatus:
    """The end of a provision or a removal: JUnit, the retry file and the saved report when hosts are left
    to retry, the report, the run kept; the exit status."""
    from installer import junit, report
    from installer.fleet import NOT_ATTEMPTED_INTERRUPTED

    _junit(args, junit.provision_cases(runs), err)
    retry = [
        r.name for r in runs if r.status in (Status.FAILED, Status.UNREACHABLE, Status.SKIPPED, Status.INTERRUPTED)
    ]
    data = report.provision_report(runs)
    # Files are written after the hosts are done: one that cannot be written is a warning, never a lost report.
    retry_file = args.retry_file if retry and args.retry_file else None
    if retry_file and not localfiles.save(retry_file, "".join(f"{name}\n" for name in retry), err):
        retry_file = None
    saved = args.report_file or (DEFAULT_REPORT if retry else None)
    # the record of which host is where
    if saved and not localfiles.save(saved, report.dumps(data, pretty=True) + "\n", err):
        saved = None
    if args.json:
        print(report.dumps(data, pretty=True))
    else:
        printed = getattr(args, "printed", ())  # the blocks the live display printed as hosts finished
        report.render_provision(runs, out, verbose=args.verbose, diff=args.diff, printed=printed)
        if retry_file:
            resume = _resume_command(args.argv, retry_file)
            out.print(terminal.text(f"\n{len(retry)} host(s) to retry, listed in {retry_file}: {resume}"),
                      soft_wrap=True)  # fmt: skip
        if saved:
            out.print(terminal.text(f"Report saved to {saved}"))
    # Hosts not started because of Ctrl-C count as interrupted, even when none was in flight.
    status = exit_status(Status.INTERRUPTED if r.error == NOT_ATTEMPTED_INTERRUPTED else r.status for r in runs)
    drawn = None if args.json else lambda console: report.render_provision(runs, console, args.verbose, args.diff)
    kept.finish(args, data, drawn, status, err)
    return status


def _junit(args: argparse.Namespace, cases: list[junit.Case], err: Console) -> None:
    from installer import junit

    if args.junit_xml:
        document = junit.document(args.command, cases, time.monotonic() - args.started)
        localfiles.save(args.junit_xml, document.decode(), err)


def _resume_command(argv: Sequence[str], retry_file: str) -> str:
    """The command line as given (no secret is ever an option), limited to the hosts left to retry."""
    words: list[str] = []
    value_follows = False
    for word in argv:
        if value_follows:
            value_follows = False
        elif word in ("-l", "--limit"):
            value_follows = True
        elif not (word.startswith("--limit=") or (word.startswith("-l") and not word.startswith("--"))):
            words.append(word)
    return shlex.join(["pyinstall", *words, "--limit", f"@{retry_file}"])


def cmd_info(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import info, junit, report

    inv = load_inventory(args)
    hosts = [(t, a, inv.host_groups(t.name)) for t, a in targets(args, err, inv)]
    results = info.run(hosts, forks=args.forks)
    summary, outliers = info.summary(results), info.outliers(results)
    _junit(args, junit.info_cases(results), err)
    if args.html:
        generated = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        if not localfiles.save(args.html, report.info_html(results, summary, outliers, generated), err):
            args.html = None
    data = report.info_report(results, summary, outliers)
    render = functools.partial(report.render_info, results, summary, outliers)
    printed = None
    if args.json:
        print(report.dumps(data, pretty=True))
    else:
        printed = _printed(render, out)
        if args.html:
            out.print(terminal.text(f"HTML report: {args.html}"))
    status = exit_status(h.status for h in results)
    kept.finish(args, data, printed, status, err)
    return status


def cmd_verify(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import junit, report, verify

    missing = [path for path in args.tests if not Path(path).exists()]
    if missing:
        raise UsageError(f"--tests: no such file or directory: {', '.join(missing)}",
                         "give testinfra files (test_*.py) or directories holding them")  # fmt: skip
    verify.collection_errors(args.tests)
    with _bundles(args) as bundles:
        hosts = targets(args, err, bundles=bundles)
    results = verify.run(hosts, tests=args.tests, keyword=args.keyword, forks=args.forks)
    render = functools.partial(report.render_verify, results)
    return _reported(args, out, err, junit.verify_cases(results), report.verify_report(results), render, results)


def cmd_exec(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    """One command on the selected hosts (`pyinstall exec INV --limit PATTERN -- COMMAND`)."""
    import threading

    from installer import adhoc, junit, report

    if not args.limit:  # as Ansible's ad hoc commands name their hosts: never every host by default
        raise UsageError("exec runs on the hosts --limit names, and none were named",
                         "say which: --limit all, a group, or a pattern (--list-hosts shows them first)")  # fmt: skip
    if args.stream and args.json:  # never one silently dropped
        raise UsageError("exec: --stream prints lines as they come, --json one document at the end",
                         "choose one")  # fmt: skip
    command = shlex.join(args.remote_command) if len(args.remote_command) > 1 else args.remote_command[0]
    lock = threading.Lock()

    def line(host: str, stream: str, said: str) -> None:
        with lock:  # one line at a time: hosts' lines never interleave within a line
            style = "red" if stream == "stderr" else ""
            out.print(terminal.text(f"[{host}{' stderr' if stream == 'stderr' else ''}] ", (said, style)),
                      soft_wrap=True)  # fmt: skip

    hosts = [t for t, _ in targets(args, err)]
    results = adhoc.run(hosts, command, forks=args.forks, timeout=args.command_timeout,
                        lines=line if args.stream else None)  # fmt: skip
    _junit(args, junit.exec_cases(results), err)
    data = {"command": command, **report.exec_report(results)}
    render = functools.partial(report.render_exec, results)
    printed = None
    if args.json:
        print(report.dumps(data, pretty=True))
    elif args.stream:
        render(out, output=False)  # the output was printed as it came; the record keeps it whole, drawn again
    else:
        printed = _printed(render, out)
    status = exit_status(r.status for r in results)
    kept.finish(args, data, render if args.stream else printed, status, err)
    return status


# The handler of each command that works on hosts.
COMMANDS: dict[str, Callable[[argparse.Namespace, Console, Console], ExitStatus]] = {
    "facts": cmd_facts, "check": cmd_check, "provision": cmd_provision, "remove": cmd_remove, "info": cmd_info,
    "verify": cmd_verify, "exec": cmd_exec,
}  # fmt: skip
