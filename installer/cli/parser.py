"""The command line's grammar: every command, its options and their help (argparse)."""

from __future__ import annotations

import argparse
import functools
import math
import re
import shutil
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any, NoReturn

from installer import __version__, package_path
from installer.errors import PyinstallError, UsageError
from installer.vocabulary import (
    CONNECT_TIMEOUT,
    FORKS,
    FORKS_MAX,
    KEPT_COMMANDS,
    RUN_STATUS_WORDS,
    TAGS,
    TIMEOUT_MAX,
)

DEFAULT_REPORT = "pyinstall-report.json"
RETRY_FILE = "pyinstall.retry"

DESCRIPTION = """\
Roll a container runtime out across CentOS/RHEL 6 to 9 machines (Rocky, AlmaLinux, ...) over plain SSH.
The targets need nothing but a POSIX shell: no Python, no agent."""

EPILOG = """\
exit status:
  0  every host passed (or the command succeeded)
  1  unexpected internal error
  2  one or more hosts failed their checks (info: a daemon not as asked)
  4  one or more hosts were unreachable (takes precedence over 2)
  5  bad usage: options, inventory or host pattern
  130  interrupted (Ctrl-C): every wait ended, hosts in flight stopped after their step; the report (saved to
       pyinstall-report.json) says which hosts are done, interrupted and not attempted, and the retry
       file lists what to run again; a second Ctrl-C stops waiting for the hosts in flight
  143  terminated (SIGTERM: a CI job cancelled, `timeout`, Kubernetes): as 130
"""


@functools.cache
def _columns() -> int:
    return shutil.get_terminal_size().columns - 2


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's help, the terminal's width read once: argparse makes a formatter at every add_argument
    (to check its metavar), and each asked the terminal again (a tenth of `--help`'s time)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position, width or _columns())


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", f"see `{self.prog} --help`")


class _Version(argparse.Action):
    """--version, worked out when asked (where the package is installed takes importlib.resources)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(version())
        parser.exit()


def _inventory_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inventory_pos", nargs="?", metavar="INVENTORY", help="inventory file (or -i)")
    p.add_argument(
        "-i", "--inventory", dest="inventory_opt", action="append", default=[], metavar="INVENTORY",
        help="inventory file (INI or YAML) or directory of them; repeat to merge several in order "
        "(default: $PYINSTALL_INVENTORY, else $ANSIBLE_INVENTORY: comma-separated)",
    )  # fmt: skip
    vault = p.add_argument_group("vault (values and files encrypted by ansible-vault)")
    vault.add_argument("--vault-id", dest="vault_ids", action="append", default=[], metavar="LABEL@SOURCE",
                       help="a vault password: SOURCE is a file, an executable that prints it, or 'prompt' "
                       "(repeatable; after vault_identity_list)")  # fmt: skip
    vault.add_argument("--vault-password-file", "--vault-pass-file", dest="vault_password_files", action="append",
                       default=[], metavar="FILE", help="the default vault id's password: a file, or an executable "
                       "that prints it (default: $ANSIBLE_VAULT_PASSWORD_FILE, vault_password_file)")  # fmt: skip
    vault.add_argument("-J", "--ask-vault-pass", "--ask-vault-password", dest="ask_vault_pass", action="store_true",
                       help="ask for the vault password (on a terminal)")  # fmt: skip


def _number(kind: type, low: float, high: float) -> Callable[[str], Any]:
    """An argparse type: a finite number of ``kind`` from ``low`` to ``high``, or a usage error that says so."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range: from {low:g} to {high:g}")
        return value

    return parse


def _complete_hosts(prefix: str, parsed_args: argparse.Namespace, **_: object) -> list[str]:
    """--limit completion: the inventory's groups and hosts (the inventory given so far, or the default)."""
    from installer.cli.context import load_inventory, settle

    try:
        settle(parsed_args)
        inv = load_inventory(parsed_args)
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


def _migration_args(command: argparse.ArgumentParser) -> None:
    """A change of storage driver over existing images: check's (its refusals) and provision's."""
    command.add_argument(
        "--migrate-storage",
        action="store_true",
        help="move hosts whose images are in another driver than docker_storage_driver asks (devicemapper to "
        "overlay2): images saved and loaded, volumes kept, the old store moved aside; undone if a step fails",
    )
    command.add_argument(
        "--stop-containers",
        action="store_true",
        help="with --migrate-storage: stop running containers first (refused otherwise: MIGRATE_RUNNING)",
    )
    command.add_argument(
        "--purge-old-storage",
        action="store_true",
        help="delete what a finished migration kept: the old driver's store (a direct-lvm thin pool too) and "
        "the saved images",
    )


def _host_command(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    """A command that works on the inventory's hosts, its help ending with the exit statuses."""
    command = sub.add_parser(name, help=help, epilog=EPILOG)
    _host_args(command)
    command.add_argument(
        "--junit-xml",
        metavar="FILE",
        help="also write the result as JUnit XML: a test case per host (a failing host counts once), its checks, "
        "tasks or tests and their warnings in its output",
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


def _runs_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--limit",
        type=_number(int, 1, 10**9),
        default=50,
        metavar="N",
        help="the newest N runs that pass the filters (default 50); a last line says how many more",
    )
    p.add_argument(
        "--command",
        dest="of_command",
        choices=KEPT_COMMANDS,
        help="only runs of this command",
    )
    p.add_argument(
        "--status",
        choices=RUN_STATUS_WORDS,
        help="only runs that ended so (exit 0 ok, 2 failed, "
        "4 unreachable, 1 or 5 error, 130 or 143 interrupted), or have not ended",
    )
    p.add_argument("--host", metavar="NAME", help="only runs that worked on this host")
    p.add_argument(
        "--since",
        type=since,
        metavar="WHEN",
        help="only runs started since WHEN: a date (2026-12-01), a time (2026-12-01T14:30) or an age (30m, 12h, 7d)",
    )
    p.add_argument("--rollout", metavar="ID", help="only the runs of this rollout")  # fmt: skip


def _complete_tags(**_: object) -> tuple[str, ...]:
    """--tags and --skip-tags completed by the shell: the tags there are."""
    return tuple(TAGS)


def since(text: str) -> float:
    """--since: a local date or time, or an age back from now, in seconds since the epoch."""
    age = re.fullmatch(r"(\d+(?:\.\d+)?)([mhdw])", text.strip())
    if age:
        return time.time() - float(age[1]) * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[age[2]]
    import datetime

    try:
        return datetime.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a date (2026-12-01), a time (2026-12-01T14:30) nor an age (30m, 12h, 7d)"
        ) from None


def _ignore_errors_arg(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--ignore-preflight-errors",
        metavar="CODE[,CODE|all]",
        default="",
        help="turn these error codes into warnings, reported as ignored (as does pyinstall_ignore_preflight_errors)",
    )


def _bundle_arg(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--bundle",
        action="append",
        default=[],
        metavar="FILE",
        help="install from this offline bundle, every other repository disabled (one per platform; repeatable): "
        "check looks for the versions in it, and refuses a host whose platform no bundle covers",
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
        type=_number(int, 1, FORKS_MAX),
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
    conn.add_argument("-k", "--ask-pass", action="store_true", default=None,
                      help="ask for the SSH password (on a terminal)")  # fmt: skip
    conn.add_argument("--connection-password-file", metavar="FILE", help="the SSH password: this file's first line")
    conn.add_argument("-b", "--become", action="store_true", default=None, help="run as root through sudo (or su)")
    conn.add_argument("--become-user", help="the user to become (default root)")
    conn.add_argument("--become-method", choices=("sudo", "su"), help="sudo (the default) or su")
    conn.add_argument("-K", "--ask-become-pass", action="store_true", default=None,
                      help="ask for the become password (on a terminal)")  # fmt: skip
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
        type=_number(float, 0.1, TIMEOUT_MAX),
        default=None,
        help=f"connect timeout in seconds (default {CONNECT_TIMEOUT:g}, or timeout in the config file)",
    )


def version() -> str:
    """What --version prints: pyinstall's version, and the Python it runs on (a bug report needs both)."""
    import platform

    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"pyinstall {__version__}\n  python {python} ({sys.executable})\n  installed in {package_path()}"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pyinstall", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action=_Version, help="show pyinstall's version, the Python it runs on, and "
                        "where it is installed")  # fmt: skip
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
    _bundle_arg(check)
    _migration_args(check)
    check.add_argument(
        "--upgrade-to",
        metavar="PLATFORM",
        help="also report what an in-place OS upgrade to PLATFORM (el8: ELevate, Leapp) meets on each host: what "
        "must change first (OS_UPGRADE_BLOCKED, an error) and what the upgrade changes for Docker (OS_UPGRADE)",
    )

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
    tags.completer = skip.completer = _complete_tags  # type: ignore[attr-defined]  # argcomplete calls it, when it runs
    _rollout_args(prov)
    _bundle_arg(prov)
    _migration_args(prov)
    prov.add_argument("--pre-host", metavar="CMD", help="run CMD on this machine before each host's work (drain it "
                      "first); PYINSTALL_HOST and PYINSTALL_ADDRESS in its environment; failing leaves the host "
                      "untouched")  # fmt: skip
    prov.add_argument("--post-host", metavar="CMD", help="run CMD on this machine after each host that ended ok "
                      "(put it back in service)")  # fmt: skip

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
    verify_cmd.description = textwrap.fill(
        "Runs the bundled testinfra suite, and your own files (--tests), on each host. Choose tests with --keyword "
        "EXPR, pytest's -k: here, as in every pyinstall and Ansible command, -k is --ask-pass (the SSH password). "
        "Test ids name their file: test_docker.py::test_a_container_runs. A test file that cannot be imported is "
        "named by FILE:LINE before any host is touched (exit 2).",
        width=79,
    )
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
    _bundle_arg(verify_cmd)

    run = _host_command(sub, "exec", "one command on the hosts --limit names, e.g. `pyinstall exec INV --limit "
                        "all -- docker ps` (exit 0 every command exited 0, 2 one did not, 4 unreachable)")  # fmt: skip
    run.add_argument("--stream", action="store_true",
                     help="print each line as it comes, prefixed with its host ([HOST] LINE), instead of each "
                     "host's output in one block when it is done")  # fmt: skip
    run.add_argument("--command-timeout", type=_number(float, 1, 86400), default=600.0, metavar="SECONDS",
                     help="stop waiting after this long (default 600); its host then fails")  # fmt: skip

    config_cmd = sub.add_parser("config", help="each setting in effect and where it comes from (option, "
                                "environment, config file, default)")  # fmt: skip
    config_cmd.add_argument("--json", action="store_true", help="print JSON instead of text")
    config_cmd.add_argument("-v", "--verbose", action="count", default=0,
                            help="also the keys of the config file pyinstall does not use")  # fmt: skip

    runs_cmd = sub.add_parser("runs", help="the runs kept (check, provision, info, verify): list them, or show one")
    _runs_args(runs_cmd)
    _runs_filters(runs_cmd)
    runs_sub = runs_cmd.add_subparsers(dest="runs_command", metavar="ACTION", parser_class=_Parser)
    show = runs_sub.add_parser("show", help="a run's report as it was printed, or a rollout's runs merged")
    show.add_argument("id", metavar="ID|ROLLOUT", help="a run's number, or a rollout id (--rollout)")
    show.add_argument("--html", metavar="FILE", help="also write the report as a self-contained HTML page")
    _runs_args(show, nested=True)
    history = runs_sub.add_parser("host", help="one host's history: when it changed, what, which version and driver")
    history.add_argument("name", metavar="NAME")
    history.add_argument("--limit", dest="host_limit", type=_number(int, 1, 10**9), default=50, metavar="N",
                         help="the newest N of its runs (default 50)")  # fmt: skip
    _runs_args(history, nested=True)
    diff = runs_sub.add_parser("diff", help="what changed on the fleet between two runs: hosts added and gone, "
                               "status, Docker version and driver, findings and drift")  # fmt: skip
    diff.add_argument("old", metavar="A", help="the earlier run's number")
    diff.add_argument("new", metavar="B", help="the later run's number")
    _runs_args(diff, nested=True)
    serve = runs_sub.add_parser("serve", help="browse the runs in a browser: a read-only web view of the database "
                                "(127.0.0.1 unless --bind; elsewhere a token and TLS are required)")  # fmt: skip
    serve.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="ADDR",
        help="the address to listen on (default 127.0.0.1: this machine only)",
    )
    serve.add_argument("--port", type=_number(int, 1, 65535), default=8077, metavar="PORT", help="default 8077")
    serve.add_argument(
        "--token-file",
        metavar="FILE",
        help="a file (mode 0600) holding the token every request then needs: required off loopback",
    )
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="serve HTTPS with this PEM certificate (with --tls-key): required off loopback",
    )
    serve.add_argument("--tls-key", metavar="FILE", help="the certificate's unencrypted PEM key")  # fmt: skip
    _database_arg(serve, nested=True)
    prune = runs_sub.add_parser("prune", help="forget the runs older than --older-than days (the keep_runs setting "
                                "does it after every run)")  # fmt: skip
    prune.add_argument("--older-than", required=True, type=_number(float, 0, 36500), metavar="DAYS",
                       help="runs started more than DAYS days ago (0: every run)")  # fmt: skip
    _runs_args(prune, nested=True)

    bundle_cmd = sub.add_parser("bundle", help="offline bundles for air-gapped fleets")
    bundle_sub = bundle_cmd.add_subparsers(dest="bundle_command", metavar="ACTION", parser_class=_Parser)
    create = bundle_sub.add_parser("create", help="pack a directory of RPMs with a manifest and yum repodata")
    create.add_argument("--platform", required=True, metavar="ID", help="el6, el7: a platform of runtime/")
    create.add_argument("--from", dest="source", required=True, metavar="DIR", help="directory of RPMs")
    create.add_argument("-o", "--output", required=True, metavar="FILE", help="the bundle to write")
    create.add_argument("--image", action="append", default=[], metavar="ARCHIVE",
                        help="an archive `docker save` wrote (repeatable): provision loads the images a host lacks "
                        "once its daemon runs")  # fmt: skip
    return parser
