"""The run as it happens: plain lines when stdout is not a terminal, live progress when it is, every
command under -vv, and the debug log (--log-file)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from installer import __version__, events, terminal

if TYPE_CHECKING:  # annotations only
    from rich.console import Console

    from installer import provision


@contextlib.contextmanager
def watched(args: argparse.Namespace, out: Console, err: Console) -> Iterator[None]:
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
