# PYTHON_ARGCOMPLETE_OK
"""Command line entry point: the only code that prints to the terminal or exits.

argv ─▶ parser.build_parser() ─▶ context.settle() ─▶ one handler: config.py (config, inventory),
        runs.py (runs), bundle.py (bundle), hosts.py (facts, check, provision, remove, info, verify)
     ─▶ an ExitStatus
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

# Only what every command needs is imported here: `--help` answers from the parser alone, and `inventory`,
# `config` and `runs` never load the SSH libraries. Each command imports its modules where it starts.
from installer import interrupts, terminal
from installer.cli.context import ExitStatus, settle
from installer.cli.parser import build_parser
from installer.errors import BrokenTests, PyinstallError, UsageError

if TYPE_CHECKING:  # annotations only
    from rich.console import Console

__all__ = ["ExitStatus", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    restore = interrupts.install()  # before any thread or worker process starts
    stdout, sys.stdout = sys.stdout, terminal.Unbroken(sys.stdout)  # type: ignore[assignment]
    stderr, sys.stderr = sys.stderr, terminal.Unbroken(sys.stderr)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        restore()


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions: answered, and exits
        import argcomplete

        argcomplete.autocomplete(parser)
    args = None
    err: Console | None = None
    try:
        given = list(sys.argv[1:] if argv is None else argv)
        words, remote = _remote_command(given)
        args = parser.parse_args(words)  # --help prints and exits here, before the terminal layer loads
        args.argv = given
        if args.command == "exec":
            if not remote:
                raise UsageError("exec: give the command after --", "e.g. pyinstall exec INV --limit all -- docker ps")
            args.remote_command = remote
        if args.command is None:
            parser.print_help()
            return ExitStatus.OK
        out, err = terminal.console(sys.stdout), terminal.console(sys.stderr)
        if args.command == "config":
            from installer.cli import config

            return config.cmd_config(args)
        if args.command != "bundle":
            settle(args)
            for warning in args.warnings:
                err.print(terminal.text(("warning", "yellow"), f": {warning}"), soft_wrap=True)
        if getattr(args, "database", None):
            from installer import events

            events.redact(*_url_passwords(args.database))
        if args.command == "inventory":
            from installer.cli import config

            return config.cmd_inventory(args, out)
        if args.command == "bundle":
            from installer.cli import bundle

            return bundle.cmd_bundle(args, out)
        if args.command == "runs":
            from installer.cli import runs

            return runs.cmd_runs(args, out, err)
        from installer import kept
        from installer.cli import hosts
        from installer.cli.watch import watched

        if args.list_hosts:
            return hosts.cmd_list_hosts(args)
        args.started, args.started_at = time.monotonic(), time.time()
        if args.command != "facts":  # facts changes nothing and reports nothing to keep
            kept.start(args, err)
        with watched(args, out, err):
            return hosts.COMMANDS[args.command](args, out, err)
    except PyinstallError as exc:
        err = err or terminal.console(sys.stderr)
        _print_error(exc, err)
        status = ExitStatus.USAGE if isinstance(exc, UsageError) else ExitStatus.ERROR
        if isinstance(exc, BrokenTests):  # a test that cannot run is a failed test
            status = ExitStatus.FAILED
        if args is not None:  # a run that stopped on bad input is kept with the error it printed
            from installer import kept

            kept.finish(args, {"hosts": {}}, functools.partial(_print_error, exc), status, err)
        return status
    except KeyboardInterrupt:
        print(f"interrupted ({interrupts.by()})", file=sys.stderr)
        return ExitStatus(interrupts.exit_status())


def _remote_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """`exec`'s command: everything after its first `--`, never read as pyinstall's options."""
    if "exec" in argv and "--" in argv[argv.index("exec") :]:
        cut = argv.index("--", argv.index("exec"))
        return argv[:cut], argv[cut + 1 :]
    return argv, []


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
