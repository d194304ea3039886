"""The run as it happens: plain lines when stdout is not a terminal, live progress when it is, every
command under -vv, and the debug log (--log-file)."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING

from installer import __version__, events, localfiles, terminal

if TYPE_CHECKING:  # annotations only
    from rich.console import Console

    from installer import provision


@contextlib.contextmanager
def watched(args: argparse.Namespace, out: Console, err: Console) -> Iterator[None]:
    """The run as it happens: one plain line per event on stdout when it is not a terminal (CI, pipes;
    never with --json), every command and its output on stderr under -vv, everything in --log-file."""
    from installer import progress, report

    said: Callable[[str], None] = lambda line: _print_now(sys.stderr, line)  # noqa: E731
    with contextlib.ExitStack() as stack:
        streamed = getattr(args, "stream", False)  # exec: stdout is the commands' output, line by line
        if args.command == "exec" and not args.json and (streamed or not out.is_terminal):
            # the hosts' progress beside the output, never in it (`pyinstall exec ... | grep` sees output alone)
            stack.enter_context(events.subscribed(lambda e: _print_now(sys.stderr, events.line(e))))
        elif not args.json and not out.is_terminal:
            stack.enter_context(events.subscribed(lambda e: _print_now(sys.stdout, events.line(e))))
        elif not args.json:  # a terminal: live progress; provision prints each host's block when it is done
            block = None
            if args.command == "provision":
                args.printed = set()

                def block(r: provision.HostRun, console: Console) -> None:
                    report.render_host_run(r, console, args.verbose, args.diff)
                    args.printed.add(r.name)

            live = stack.enter_context(progress.Progress(out, block))
            stack.enter_context(events.subscribed(live))
            if err.is_terminal:  # -vv's lines on the same terminal: above the region, never through it
                said = live.say
        if args.verbose > 1:
            stack.enter_context(events.subscribed(lambda e: _print_command(e, said), commands=True))
        if args.log_file:
            log = _Log(args.log_file, err)
            stack.callback(log.close)
            log.write(f"{_iso(time.time())} pyinstall {__version__}: {events.clean(shlex.join(args.argv))}\n")
            stack.enter_context(events.subscribed(log.event, commands=True))
        yield


def _print_now(stream: IO[str], line: str) -> None:
    stream.write(terminal.visible(line) + "\n")
    stream.flush()


def _print_command(event: events.Event, say: Callable[[str], None]) -> None:
    if event.kind == events.COMMAND:
        say(f"{event.host}: {event.status}\n{event.detail}")


class _Log:
    """--log-file: a log that cannot be opened or written (a full disk, a FIFO's reader gone) is one warning
    and no more log; it never stops the run nor changes its result."""

    def __init__(self, path: str, err: Console) -> None:
        self.path, self.err = path, err
        self.file: IO[str] | None = None
        try:
            self.file = localfiles.open_private(path, append=True)
        except localfiles.LocalFileError as exc:
            self._warn(exc.message)

    def write(self, text: str) -> None:
        if self.file is None:
            return
        try:
            self.file.write(text)
            self.file.flush()
        except OSError as exc:
            self.close()
            self._warn(f"stopped writing {self.path}: {exc.strerror or exc}")

    def event(self, event: events.Event) -> None:
        head = f"{_iso(event.at)} {event.host or '-'} {event.kind}"
        head += f" {event.name}" if event.name else ""
        head += f": {event.status}" if event.status else ""
        body = "".join(f"    {line}\n" for line in event.detail.splitlines())
        self.write(terminal.visible(head) + "\n" + terminal.visible(body))

    def close(self) -> None:
        if self.file is not None:
            file, self.file = self.file, None
            with contextlib.suppress(OSError):  # what was buffered is lost with the disk that refused it
                file.close()

    def _warn(self, why: str) -> None:
        self.err.print(terminal.text(("warning", "yellow"), f": no log: {why}"), soft_wrap=True)


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(at)) + f".{int(at % 1 * 1000):03d}"
