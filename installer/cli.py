# PYTHON_ARGCOMPLETE_OK
"""Command line entry point: the only code that prints to the terminal or exits."""

from __future__ import annotations

import argparse
import contextlib
import enum
import functools
import getpass
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import argcomplete

# Only what every command needs is imported here: `--help`, `inventory`, `config` and `runs` never load
# the SSH libraries. The commands that reach hosts import their modules where they start.
from installer import __version__, events, inventory, kept, patterns, settings, terminal
from installer.errors import PyinstallError, UsageError
from installer.outcome import TAGS, Status
from installer.settings import CONNECT_TIMEOUT, FORKS

if TYPE_CHECKING:  # annotations only
    from rich.console import Console

    from installer import asked, bundle, junit, provision
    from installer.connection import Target

DEFAULT_REPORT = "pyinstall-report.json"
RETRY_FILE = "pyinstall.retry"

DESCRIPTION = """\
Roll a container runtime out across CentOS/RHEL 6 and 7 machines over plain SSH.
The targets need nothing but a POSIX shell: no Python, no agent."""

EPILOG = """\
exit status:
  0  every host passed (or the command succeeded)
  1  unexpected internal error
  2  one or more hosts failed their checks (info: a daemon not as asked)
  4  one or more hosts were unreachable (takes precedence over 2)
  5  bad usage: options, inventory or host pattern
  130  interrupted (Ctrl-C): hosts in flight finished their step; the report (printed, and saved to
       pyinstall-report.json) says which hosts are done, interrupted and not attempted, and the retry
       file lists what to run again
"""


class ExitStatus(enum.IntEnum):
    OK = 0
    ERROR = 1
    FAILED = 2
    UNREACHABLE = 4
    USAGE = 5
    INTERRUPTED = 130  # Ctrl-C: a report of every host's state was printed


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", f"see `{self.prog} --help`")


def _inventory_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inventory_pos", nargs="?", metavar="INVENTORY", help="inventory file (or -i)")
    p.add_argument(
        "-i", "--inventory", dest="inventory_opt", action="append", default=[], metavar="INVENTORY",
        help="inventory file (INI or YAML) or directory of them; repeat to merge several in order "
        "(default: $PYINSTALL_INVENTORY, else $ANSIBLE_INVENTORY: comma-separated)",
    )  # fmt: skip


def _number(kind: type, low: float, high: float | None = None) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` from ``low`` (to ``high``), or a usage error that says so."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: from {low:g}" + (f" to {high:g}" if high else "")
            )
        return value

    return parse


def _complete_hosts(prefix: str, parsed_args: argparse.Namespace, **_: object) -> list[str]:
    """--limit completion: the inventory's groups and hosts (the inventory given so far, or the default)."""
    try:
        _settle(parsed_args)
        inv = _load_inventory(parsed_args)
    except PyinstallError:
        return []
    return [*inv.groups, *inv.host_names]


def _rollout_args(command: argparse.ArgumentParser) -> None:
    """Batches, the failure budget, the retry file and the saved report: provision's and remove's."""
    command.add_argument("--serial", metavar="N|N%|LIST", help="batches: 5, 25%%, or 1,5,25%% (canary first)")
    command.add_argument(
        "--max-fail-percentage",
        type=_number(float, 0, 100),
        metavar="P",
        help="stop starting batches once more than P%% of a batch failed (default: when a whole batch failed)",
    )
    command.add_argument(
        "--retry-file",
        default=None,
        metavar="FILE",
        help=f"where to list failed, unreachable and not attempted hosts (default {RETRY_FILE}; '' for none; "
        "none when the config file says retry_files_enabled = false)",
    )
    command.add_argument(
        "--report-file",
        metavar="FILE",
        help=f"save the JSON report here after every run (default: to {DEFAULT_REPORT} when hosts are left to retry)",
    )
    command.add_argument(
        "--rollout-max-fail",
        metavar="N|P%",
        help="with --rollout: stop starting batches, in every shard, once more than N hosts (or P%% of the "
        "rollout's) failed across the rollout's shards (read from --database between batches)",
    )


def _tags(text: str) -> frozenset[str]:
    """--tags / --skip-tags: names of TAGS, comma-separated; a misspelt one is refused (it would select
    nothing, silently)."""
    names = frozenset(t.strip() for t in text.split(",") if t.strip())
    unknown = sorted(names - set(TAGS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown tag(s) {', '.join(unknown) or repr(text)}; known: {', '.join(TAGS)}")
    return names


def _host_command(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    """A command that works on the inventory's hosts, its help ending with the exit statuses."""
    command = sub.add_parser(name, help=help, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _host_args(command)
    command.add_argument(
        "--junit-xml", metavar="FILE", help="also write the result as JUnit XML (a test case per host, check and task)"
    )
    _database_arg(command)
    command.add_argument(
        "--rollout",
        metavar="ID",
        help="the rollout this run belongs to (its shards share it: e.g. ci-$CI_PIPELINE_ID); "
        "`pyinstall runs show ID` merges its runs",
    )
    return command


def _database_arg(p: argparse.ArgumentParser, nested: bool = False) -> None:
    p.add_argument(
        "--database",
        metavar="URL",
        default=argparse.SUPPRESS if nested else None,
        help="where runs are kept: sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE "
        "(default: $PYINSTALL_DATABASE, the config file's database, else SQLite in $XDG_STATE_HOME/pyinstall)",
    )


def _runs_args(p: argparse.ArgumentParser, nested: bool = False) -> None:
    """``runs`` options, also accepted after its action (`runs show 3 --json`); there they have no default
    of their own, so that argparse keeps what was given before the action."""
    _database_arg(p, nested)
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS if nested else False,
                   help="print JSON instead of text")  # fmt: skip


def _ignore_errors_arg(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--ignore-preflight-errors",
        metavar="CODE[,CODE|all]",
        default="",
        help="turn these error codes into warnings, reported as ignored (as does pyinstall_ignore_preflight_errors)",
    )


def _host_args(p: argparse.ArgumentParser) -> None:
    _inventory_args(p)
    limit = p.add_argument(
        "-l", "--limit", metavar="PATTERN", help="only hosts matching PATTERN (Ansible syntax, @FILE)"
    )
    limit.completer = _complete_hosts  # type: ignore[attr-defined]
    p.add_argument(
        "--shard",
        metavar="K/N",
        help="only shard K of N of the selected hosts (stable: a host's shard depends on its name alone), "
        "one controller or CI job per shard",
    )
    p.add_argument(
        "-f",
        "--forks",
        type=_number(int, 1),
        default=None,
        help=f"hosts at once (default {FORKS}, or forks in the config file)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument(
        "--list-hosts", action="store_true", help="list the hosts this would work on, and stop (no connection)"
    )
    p.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="-v: each step's commands in the report; -vv: also every command and its output as it runs (stderr)",
    )  # fmt: skip
    p.add_argument(
        "--log-file",
        metavar="FILE",
        default=None,
        help="append a timestamped debug log of the run (every command and its output, secrets masked) "
        "to FILE (default: $PYINSTALL_LOG_FILE, or log_path in the config file)",
    )
    conn = p.add_argument_group("connection")
    conn.add_argument("-u", "--user", help="SSH user (default: ansible_user, ~/.ssh/config, then yours)")
    conn.add_argument("--private-key", dest="key_file", metavar="FILE", help="SSH private key file")
    conn.add_argument("-k", "--ask-pass", action="store_true", help="ask for the SSH password (on a terminal)")
    conn.add_argument("--connection-password-file", metavar="FILE", help="the SSH password: this file's first line")
    conn.add_argument("-b", "--become", action="store_true", default=None, help="run as root through sudo")
    conn.add_argument("--become-user", help="the user sudo runs as (default root)")
    conn.add_argument("-K", "--ask-become-pass", action="store_true", help="ask for the sudo password (on a terminal)")
    conn.add_argument("--become-password-file", metavar="FILE", help="the sudo password: this file's first line")
    conn.add_argument(
        "--known-hosts", action="append", default=[], metavar="FILE", help="more known_hosts (repeatable)"
    )
    conn.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="record unknown host keys (like OpenSSH accept-new); a changed key is still refused",
    )
    conn.add_argument(
        "-T",
        "--timeout",
        type=_number(float, 0.1),
        default=None,
        help=f"connect timeout in seconds (default {CONNECT_TIMEOUT:g}, or timeout in the config file)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pyinstall", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"pyinstall {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    inv = sub.add_parser("inventory", help="show the inventory as pyinstall reads it (ansible-inventory's views)")
    _inventory_args(inv)
    view = inv.add_mutually_exclusive_group(required=True)
    view.add_argument("--list", action="store_true", help="JSON: groups and _meta.hostvars")
    view.add_argument("--graph", nargs="?", const="all", metavar="GROUP", help="the group tree")
    view.add_argument("--host", metavar="NAME", help="JSON: one host's merged variables")

    facts = sub.add_parser("facts", help="gather and show each host's facts (one command per host)")
    _host_args(facts)

    check = _host_command(sub, "check", "preflight: can each host run the runtime? (exit 0 all pass, 2 failed, "
                          "4 unreachable)")  # fmt: skip
    _ignore_errors_arg(check)

    prov = _host_command(sub, "provision", "install, configure, enable and start the runtime; idempotent (exit 0 ok, "
                         "2 failed, 4 unreachable)")  # fmt: skip
    prov.add_argument("-C", "--check", action="store_true", help="change nothing; show what would change")
    prov.add_argument("-D", "--diff", action="store_true", help="show the changes to configuration files")
    _ignore_errors_arg(prov)
    prov.add_argument(
        "--allow-downgrade",
        action="store_true",
        help="install a docker_version older than the one installed (refused otherwise: DOWNGRADE)",
    )
    tags = prov.add_argument(
        "-t", "--tags", type=_tags, metavar="TAG[,TAG]", help=f"only these parts of the work: {', '.join(TAGS)}"
    )
    skip = prov.add_argument("--skip-tags", type=_tags, metavar="TAG[,TAG]", help="all but these parts")
    tags.completer = skip.completer = argcomplete.completers.ChoicesCompleter(TAGS)  # type: ignore[attr-defined]
    _rollout_args(prov)
    prov.add_argument(
        "--bundle",
        action="append",
        default=[],
        metavar="FILE",
        help="install from this offline bundle, every other repository disabled (one per platform; repeatable)",
    )

    rm = _host_command(sub, "remove", "take the runtime off: stop, disable, remove its packages, repositories and "
                       "configuration (backups kept); idempotent (exit 0 ok, 2 failed, 4 unreachable)")  # fmt: skip
    rm.add_argument("-C", "--check", action="store_true", help="change nothing; show what would be removed")
    rm.add_argument("-D", "--diff", action="store_true", help="show the configuration files removed")
    rm.add_argument(
        "--purge-data", action="store_true", help="also delete /var/lib/docker: images, containers, volumes"
    )
    rm.add_argument("--yes", action="store_true", help="confirm --purge-data without a terminal prompt")
    _rollout_args(rm)

    info_cmd = _host_command(sub, "info", "`docker info` on every host, validated against what was asked, with "
                             "drift and outliers (exit 0 valid, 2 invalid or not installed, 4 unreachable)",
                             )  # fmt: skip
    info_cmd.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report (opens offline)")

    verify_cmd = _host_command(sub, "verify", "prove each host runs the runtime as asked: testinfra tests, a "
                               "container run (exit 0 passed, 2 failed or not installed, 4 unreachable)")  # fmt: skip
    verify_cmd.add_argument(
        "--tests",
        action="append",
        default=[],
        metavar="PATH",
        help="also run these testinfra files or directories (their tests get `host`; repeatable)",
    )
    verify_cmd.add_argument(
        "--keyword",
        metavar="EXPR",
        help="only tests matching EXPR, as pytest's -k (here -k is --ask-pass, as in Ansible)",
    )

    config_cmd = sub.add_parser("config", help="each setting in effect and where it comes from (option, "
                                "environment, config file, default)")  # fmt: skip
    config_cmd.add_argument("--json", action="store_true", help="print JSON instead of text")

    runs_cmd = sub.add_parser("runs", help="the runs kept (check, provision, info, verify): list them, or show one")
    _runs_args(runs_cmd)
    runs_sub = runs_cmd.add_subparsers(dest="runs_command", metavar="ACTION", parser_class=_Parser)
    show = runs_sub.add_parser("show", help="a run's report as it was printed, or a rollout's runs merged")
    show.add_argument("id", metavar="ID|ROLLOUT", help="a run's number, or a rollout id (--rollout)")
    show.add_argument("--html", metavar="FILE", help="also write the report as a self-contained HTML page")
    _runs_args(show, nested=True)
    history = runs_sub.add_parser("host", help="one host's history: when it changed, what, which version and driver")
    history.add_argument("name", metavar="NAME")
    _runs_args(history, nested=True)

    bundle_cmd = sub.add_parser("bundle", help="offline bundles for air-gapped fleets")
    bundle_sub = bundle_cmd.add_subparsers(dest="bundle_command", metavar="ACTION", parser_class=_Parser)
    create = bundle_sub.add_parser("create", help="pack a directory of RPMs with a manifest and yum repodata")
    create.add_argument("--platform", required=True, metavar="ID", help="el6, el7: a platform of runtime/")
    create.add_argument("--from", dest="source", required=True, metavar="DIR", help="directory of RPMs")
    create.add_argument("-o", "--output", required=True, metavar="FILE", help="the bundle to write")
    return parser


# ---------------------------------------------------------------- commands


def _settle(args: argparse.Namespace) -> None:
    """Fill what the command line left out from the environment, the config file and the defaults
    (installer/settings.py), so that every later step reads args alone."""
    given = dict(vars(args))
    if hasattr(args, "inventory_opt"):  # INVENTORY and every -i, in the order they merge
        given["inventory_opt"] = ([args.inventory_pos] if args.inventory_pos else []) + args.inventory_opt
    given["host_key_checking"] = False if getattr(args, "accept_new_host_keys", False) else None
    resolved = settings.resolve(given)
    args.settings = resolved
    for s in settings.SETTINGS:
        if hasattr(args, s.dest):
            setattr(args, s.dest, resolved[s.name].value)
    if hasattr(args, "accept_new_host_keys"):
        args.accept_new_host_keys = not resolved["host_key_checking"].value
    if hasattr(args, "retry_file") and args.retry_file is None:
        args.retry_file = RETRY_FILE if resolved["retry_files_enabled"].value else ""


def _inventory_sources(args: argparse.Namespace) -> list[str]:
    """The inventories, in the order they merge (settled: the command line's, else the environment's or
    the config file's)."""
    return list(args.inventory_opt)


def _load_inventory(args: argparse.Namespace) -> inventory.Inventory:
    sources = _inventory_sources(args)
    if not sources:
        raise UsageError(
            "no inventory given", f"pyinstall {args.command} -i inventory.ini (or set PYINSTALL_INVENTORY)"
        )
    return inventory.load(*sources)


def _ignored_codes(args: argparse.Namespace) -> list[str]:
    from installer import asked

    codes = [c for c in getattr(args, "ignore_preflight_errors", "").split(",") if c.strip()]
    if getattr(args, "allow_downgrade", False):
        codes.append("DOWNGRADE")
    unknown = asked.unknown_codes(codes)
    if unknown:
        raise UsageError(f"unknown check code(s) for --ignore-preflight-errors: {', '.join(unknown)}", asked.CODES_HINT)
    return codes


def _hosts(
    args: argparse.Namespace,
    err: Console,
    inv: inventory.Inventory | None = None,
    bundles: dict[str, bundle.Bundle] | None = None,
) -> list[tuple[Target, asked.Asked]]:
    """The selected hosts: how to reach each, and what is asked of it, every variable validated before
    any host is contacted."""
    from installer import asked
    from installer.connection import target_from_vars

    inv = inv or _load_inventory(args)
    selection = _selected(args, inv)
    for term in selection.unmatched:
        err.print(terminal.text(("warning", "yellow"), f": host pattern {term!r} matched no host"))
    if not selection.hosts:
        raise UsageError(f"no hosts matched{' --limit ' + repr(args.limit) if args.limit else ''}"
                         f"{' in --shard ' + args.shard if args.shard else ''}", "check the pattern")  # fmt: skip
    ignore = _ignored_codes(args)  # refuse a typo before asking for passwords
    models = []
    for host in inv.hosts(selection.hosts):
        models.append(
            (host, asked.parse(host.name, host.vars, lambda v, h=host.name: inv.origin(h, v), ignore, bundles))
        )
    password = _password(args.ask_pass, "-k", "SSH password: ", args.connection_password_file,
                         "--connection-password-file", "ansible_password")  # fmt: skip
    become_password = _password(args.ask_become_pass, "-K", "BECOME password: ", args.become_password_file,
                                "--become-password-file", "ansible_become_password")  # fmt: skip
    # An option beats the inventory; the same setting from the environment or a config file only fills
    # what the inventory leaves unset (Ansible's remote_user, become...).
    picked = {"user": "remote_user", "key_file": "private_key_file", "become": "become", "become_user": "become_user"}
    chosen = {field: args.settings[name] for field, name in picked.items()}
    overrides = {field: v.value for field, v in chosen.items() if v.source == settings.COMMAND_LINE}
    defaults = {field: v.value for field, v in chosen.items() if v.source != settings.COMMAND_LINE}
    overrides.update({
        "password": password,
        "become_password": become_password,
        "known_hosts": tuple(args.known_hosts) or None,
        "accept_new": args.accept_new_host_keys or None,
        "connect_timeout": args.timeout,
    })  # fmt: skip
    # asked.parse validated the connection variables too.
    hosts = [(target_from_vars(host.name, host.vars, defaults, **overrides), model) for host, model in models]
    events.redact(*(secret for target, _ in hosts for secret in (target.password, target.become_password)))
    return hosts


def _selected(args: argparse.Namespace, inv: inventory.Inventory) -> patterns.Selection:
    """--limit, then --shard. ``args.rollout_hosts``: the hosts of every shard (a budget's percentage)."""
    from installer import rollout

    selection = patterns.select(inv, args.limit)
    args.rollout_hosts = len(selection.hosts)
    if args.shard:
        selection.hosts = rollout.shard(selection.hosts, rollout.parse_shard(args.shard))
    return selection


def _password(ask: bool, flag: str, prompt: str, path: str | None, file_flag: str, variable: str) -> str | None:
    """A password asked on the terminal, or read from a file (its first line); never from the command line."""
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n")
        except OSError as exc:
            raise UsageError(f"{file_flag}: cannot read {path}: {exc.strerror or exc}") from None
    if not ask:
        return None
    hint = f"give it in a file with {file_flag} FILE, or as {variable} in the inventory"
    if not sys.stdin.isatty():
        raise UsageError(f"{flag} asks for a password on a terminal, and there is none (cron, CI, < /dev/null)", hint)
    try:
        return getpass.getpass(prompt)
    except EOFError:  # Ctrl-D at the prompt
        raise UsageError(f"{flag}: no password given", hint) from None


def _exit_status(statuses: Iterable[Status]) -> ExitStatus:
    """The one mapping from hosts' outcomes to the exit status (see EPILOG)."""
    seen = set(statuses)
    if Status.INTERRUPTED in seen:
        return ExitStatus.INTERRUPTED
    if Status.UNREACHABLE in seen:
        return ExitStatus.UNREACHABLE
    if seen & {Status.FAILED, Status.SKIPPED, Status.NOT_INSTALLED}:
        return ExitStatus.FAILED
    return ExitStatus.OK


def cmd_inventory(args: argparse.Namespace, out: Console) -> ExitStatus:
    inv = _load_inventory(args)
    if args.list:
        print(json.dumps(inv.to_ansible_list(), indent=4, sort_keys=True))
    elif args.graph:
        if args.graph not in inv.groups:
            raise UsageError(f"no group {args.graph!r} in {inv.source}")
        print(inv.graph(args.graph))
    else:
        if args.host not in inv.inline_vars:
            raise UsageError(f"no host {args.host!r} in {inv.source}")
        print(json.dumps(inv.host(args.host).vars, indent=4, sort_keys=True))
    return ExitStatus.OK


def cmd_config(args: argparse.Namespace) -> ExitStatus:
    """Every setting in effect and where it comes from, as `ansible-config dump` shows them."""
    path = settings.config_file()
    resolved = settings.resolve({})
    if args.json:
        print(json.dumps({"config_file": str(path) if path else None,
                          "settings": {k: {"value": v.value, "source": v.source} for k, v in resolved.items()}},
                         indent=2))  # fmt: skip
        return ExitStatus.OK
    searched = ", ".join((f"${settings.CONFIG_ENV}", *settings.SEARCH))
    print(terminal.visible(f"config file: {path or 'none found'} (searched: {searched})"))
    for name, v in resolved.items():
        print(terminal.visible(f"{name} = {_config_value(v.value)}  ({v.source})"))
    return ExitStatus.OK


def _config_value(value: object) -> str:
    """A value as a config file would hold it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return ",".join(value) if isinstance(value, list) else str(value)


def cmd_list_hosts(args: argparse.Namespace) -> ExitStatus:
    """What a command would work on, as `ansible --list-hosts` prints it; no host is contacted."""
    selection = _selected(args, _load_inventory(args))
    if args.json:
        print(json.dumps({"hosts": selection.hosts, "unmatched": selection.unmatched}, indent=2))
        return ExitStatus.OK
    print(f"  hosts ({len(selection.hosts)}):")
    for name in selection.hosts:
        print(f"    {terminal.visible(name)}")
    for term in selection.unmatched:
        print(f"warning: host pattern {terminal.visible(term)!r} matched no host", file=sys.stderr)
    return ExitStatus.OK


def cmd_check(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import junit, preflight, report

    reports = preflight.run(_hosts(args, err), forks=args.forks)
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
    if args.json:
        print(report.dumps(data, pretty=True))
    else:
        render(out)
    status = _exit_status(r.status for r in results)
    kept.finish(args, data, render, status, err)
    return status


def cmd_provision(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import bundle, provision, rollout

    with contextlib.ExitStack() as stack:
        # Only runs that push a bundle need somewhere to unpack it.
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="pyinstall-bundles-")) if args.bundle else ""
        bundles = {}
        for i, path in enumerate(args.bundle):
            loaded = bundle.load(Path(path), Path(tmp) / str(i))
            if loaded.platform in bundles:
                raise UsageError(f"two bundles for {loaded.platform}", "give at most one per platform")
            bundles[loaded.platform] = loaded
        serial = rollout.parse_serial(args.serial) if args.serial else None
        runs = provision.run(
            _hosts(args, err, bundles=bundles),
            check=args.check,
            forks=args.forks,
            serial=serial,
            max_fail_percentage=args.max_fail_percentage,
            tags=args.tags,
            skip_tags=args.skip_tags or frozenset(),
            gate=kept.rollout_gate(args),
        )
    return _rolled_out(args, out, err, runs)


def cmd_remove(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import remove, rollout

    hosts = _hosts(args, err)
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
    if retry_file and not terminal.save(retry_file, "".join(f"{name}\n" for name in retry), 0o644, err):
        retry_file = None
    saved = args.report_file or (DEFAULT_REPORT if retry else None)
    # the record of which host is where
    if saved and not terminal.save(saved, report.dumps(data, pretty=True) + "\n", 0o600, err):
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
    status = _exit_status(Status.INTERRUPTED if r.error == NOT_ATTEMPTED_INTERRUPTED else r.status for r in runs)
    kept.finish(
        args, data, lambda console: report.render_provision(runs, console, args.verbose, args.diff), status, err
    )
    return status


def _junit(args: argparse.Namespace, cases: list[junit.Case], err: Console) -> None:
    from installer import junit

    if args.junit_xml:
        document = junit.document(args.command, cases, time.monotonic() - args.started)
        terminal.save(args.junit_xml, document.decode(), 0o644, err)


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


def cmd_facts(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import preflight, report

    reports = preflight.run(_hosts(args, err), forks=args.forks, facts_only=True)
    if args.json:
        hosts = {r.name: r.facts.to_dict() if r.facts else {"error": r.reason or None} for r in reports}
        print(json.dumps({"hosts": hosts}, indent=2))
    else:
        report.render_facts(reports, out)
    return _exit_status(r.status for r in reports if r.status == Status.UNREACHABLE)  # facts: only reach matters


def cmd_info(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import info, junit, report

    inv = _load_inventory(args)
    hosts = [(t, a, inv.host_groups(t.name)) for t, a in _hosts(args, err, inv)]
    results = info.run(hosts, forks=args.forks)
    summary, outliers = info.summary(results), info.outliers(results)
    _junit(args, junit.info_cases(results), err)
    if args.html:
        generated = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        if not terminal.save(args.html, report.info_html(results, summary, outliers, generated), 0o644, err):
            args.html = None
    data = report.info_report(results, summary, outliers)
    if args.json:
        print(report.dumps(data, pretty=True))
    else:
        report.render_info(results, summary, outliers, out)
        if args.html:
            out.print(terminal.text(f"HTML report: {args.html}"))
    status = _exit_status(h.status for h in results)
    kept.finish(args, data, lambda console: report.render_info(results, summary, outliers, console), status, err)
    return status


def cmd_verify(args: argparse.Namespace, out: Console, err: Console) -> ExitStatus:
    from installer import junit, report, verify

    missing = [path for path in args.tests if not Path(path).exists()]
    if missing:
        raise UsageError(f"--tests: no such file or directory: {', '.join(missing)}",
                         "give testinfra files (test_*.py) or directories holding them")  # fmt: skip
    results = verify.run(_hosts(args, err), tests=args.tests, keyword=args.keyword, forks=args.forks)
    render = functools.partial(report.render_verify, results)
    return _reported(args, out, err, junit.verify_cases(results), report.verify_report(results), render, results)


def cmd_bundle(args: argparse.Namespace, out: Console) -> ExitStatus:
    from installer import bundle

    if args.bundle_command != "create":
        raise UsageError(
            "pyinstall bundle: say what to do", "pyinstall bundle create --platform el6 --from DIR -o FILE"
        )
    manifest = bundle.create(args.platform, Path(args.source), Path(args.output))
    for package in manifest["packages"]:
        name = f"{package['name']}-{package['version']}-{package['release']}.{package['arch']}"
        out.print(terminal.text(f"  {name}  {package['sha256'][:12]}"))
    out.print(
        terminal.text(f"{args.output}: {len(manifest['packages'])} packages for {args.platform}, with yum repodata")
    )
    return ExitStatus.OK


@contextlib.contextmanager
def _watched(args: argparse.Namespace, out: Console, err: Console) -> Iterator[None]:
    """The run as it happens: one plain line per event on stdout when it is not a terminal (CI, pipes;
    never with --json), every command and its output on stderr under -vv, everything in --log-file."""
    from installer import progress, report

    with contextlib.ExitStack() as stack:
        if not args.json and not out.is_terminal:
            stack.enter_context(events.subscribed(lambda e: _print_now(sys.stdout, events.line(e))))
        elif not args.json:  # a terminal: live progress; provision prints each host's block when it is done
            block = None
            if args.command == "provision":
                args.printed = set()

                def block(r: provision.HostRun, console: Console) -> None:
                    report.render_host_run(r, console, args.verbose, args.diff)
                    args.printed.add(r.name)

            stack.enter_context(events.subscribed(stack.enter_context(progress.Progress(out, block))))
        if args.verbose > 1:
            stack.enter_context(events.subscribed(lambda e: _print_command(e), commands=True))
        if args.log_file:
            log = _open_log(args.log_file, err)
            if log is not None:
                stack.enter_context(log)
                log.write(f"{_iso(time.time())} pyinstall {__version__}: {events.clean(shlex.join(args.argv))}\n")
                stack.enter_context(events.subscribed(lambda e: _log(log, e), commands=True))
        yield


def _print_now(stream: IO[str], line: str) -> None:
    stream.write(terminal.visible(line) + "\n")
    stream.flush()


def _print_command(event: events.Event) -> None:
    if event.kind == events.COMMAND:
        _print_now(sys.stderr, f"{event.host}: {event.status}\n{event.detail}")


def _open_log(path: str, err: Console) -> IO[str] | None:
    try:
        return open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a", encoding="utf-8")
    except OSError as exc:  # a log that cannot be written never stops the run
        err.print(terminal.text(("warning", "yellow"), f": no log: cannot write {path}: {exc.strerror or exc}"))
        return None


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(at)) + f".{int(at % 1 * 1000):03d}"


def _log(log: IO[str], event: events.Event) -> None:
    head = f"{_iso(event.at)} {event.host or '-'} {event.kind}"
    head += f" {event.name}" if event.name else ""
    head += f": {event.status}" if event.status else ""
    body = "".join(f"    {line}\n" for line in event.detail.splitlines())
    log.write(terminal.visible(head) + "\n" + terminal.visible(body))
    log.flush()


def main(argv: Sequence[str] | None = None) -> int:
    stdout, sys.stdout = sys.stdout, terminal.Unbroken(sys.stdout)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stdout = stdout


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    argcomplete.autocomplete(parser)  # answers the shell's completion request and exits; nothing otherwise
    args = None
    err: Console | None = None
    try:
        args = parser.parse_args(argv)  # --help prints and exits here, before the terminal layer loads
        args.argv = list(sys.argv[1:] if argv is None else argv)
        if args.command is None:
            parser.print_help()
            return ExitStatus.OK
        out, err = terminal.console(sys.stdout), terminal.console(sys.stderr)
        if args.command == "config":
            return cmd_config(args)
        if args.command != "bundle":
            _settle(args)
        if getattr(args, "database", None):
            events.redact(*_url_passwords(args.database))
        if args.command == "inventory":
            return cmd_inventory(args, out)
        if args.command == "bundle":
            return cmd_bundle(args, out)
        if args.command == "runs":
            kept.show(args, out, err)
            return ExitStatus.OK
        if args.list_hosts:
            return cmd_list_hosts(args)
        command = {"check": cmd_check, "provision": cmd_provision, "remove": cmd_remove, "info": cmd_info,
                   "verify": cmd_verify, "facts": cmd_facts}  # fmt: skip
        args.started, args.started_at = time.monotonic(), time.time()
        if args.command != "facts":  # facts changes nothing and reports nothing to keep
            kept.start(args, err)
        with _watched(args, out, err):
            return command[args.command](args, out, err)
    except PyinstallError as exc:
        err = err or terminal.console(sys.stderr)
        _print_error(exc, err)
        status = ExitStatus.USAGE if isinstance(exc, UsageError) else ExitStatus.ERROR
        if args is not None:  # a run that stopped on bad input is kept with the error it printed
            kept.finish(args, {"hosts": {}}, functools.partial(_print_error, exc), status, err)
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED


def _print_error(exc: PyinstallError, console: Console) -> None:
    console.print(terminal.text(("error", "red"), f": {exc.message}"), soft_wrap=True)
    if exc.hint:
        console.print(terminal.text(f"hint: {exc.hint}"), soft_wrap=True)


def _url_passwords(url: str) -> list[str]:
    """A database URL's password as written (percent-encoded) and as meant: neither is ever shown."""
    from urllib.parse import unquote, urlsplit

    try:
        written = urlsplit(url).password
    except ValueError:
        return []
    return [written, unquote(written)] if written else []


if __name__ == "__main__":
    sys.exit(main())
