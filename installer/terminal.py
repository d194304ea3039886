"""Text on the operator's terminal. Whatever a host said (release files, `docker info`, stderr, logs) is
untrusted: it is printed as plain text, never as markup, with control characters and escape sequences
made visible (``\\x1b``), so no host can clear the screen, retitle the window or plant a link.

    str | (str, style) parts ─▶ text() ─▶ rich Text      console(stream) ─▶ a Console that reads no markup
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Union

if TYPE_CHECKING:  # rich loads with the first text printed: `pyinstall --help` does without it
    from rich.console import Console
    from rich.text import Text

Part = Union[str, "tuple[str, str]"]


def visible(value: object) -> str:
    """``value`` as text with every non-printable character but newline and tab shown escaped."""
    return "".join(
        ch if ch.isprintable() or ch in "\n\t" else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        for ch in str(value)
    )


def text(*parts: Part) -> Text:
    """Plain text made of parts, each a string or (string, style); every string made visible."""
    from rich.text import Text

    out = Text()
    for part in parts:
        content, style = (part, "") if isinstance(part, str) else part
        out.append(visible(content), style=style)
    return out


def console(stream: IO[str]) -> Console:
    """A console that never reads markup; piped output keeps long lines whole instead of wrapping at 80."""
    from rich.console import Console

    out = Console(file=stream, highlight=False, markup=False, emoji=False)
    if not out.is_terminal:
        out = Console(file=stream, highlight=False, markup=False, emoji=False,
                      width=int(os.environ.get("COLUMNS", "200")))  # fmt: skip
    return out


def plain_console(stream: IO[str], width: int = 160) -> Console:
    """A console that renders into a file as plain text (no colours, no escape sequences), 160 wide unless
    told (a run's record: as wide as the run printed, so that it wraps where the run's output did)."""
    from rich.console import Console

    return Console(file=stream, width=width, highlight=False, markup=False, emoji=False, color_system=None,
                   force_terminal=False)  # fmt: skip


class Unbroken:
    """A stream that outlives its reader: once the pipe is closed (`pyinstall check hosts | head -1`),
    writes are dropped, so the run still finishes, is kept, and exits with its hosts' status. What it
    writes is masked of every secret registered (installer.events.redact): the last guard of the terminal."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.broken = False

    def write(self, s: str) -> int:
        events = sys.modules.get("installer.events")  # not loaded yet (`--help`): no secret was registered
        self._guarded(self._stream.write, events.clean(s) if events else s)
        return len(s)

    def flush(self) -> None:
        self._guarded(self._stream.flush)

    def _guarded(self, call: Callable[..., object], *args: str) -> None:
        if self.broken:
            return
        try:
            call(*args)
        except BrokenPipeError:
            self.broken = True
            with contextlib.suppress(OSError, ValueError):  # the interpreter's last flush at exit stays quiet
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._stream.fileno())
                os.close(devnull)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)
