"""Every error pyinstall raises on purpose. Imports nothing from the package, so any module can use it.

Each error carries a ``hint``: what the operator can do about it. The CLI maps the classes to exit
codes in one place (cli.ExitStatus).
"""

from __future__ import annotations


class PyinstallError(Exception):
    """Base of the project's errors: a message and a hint, never a secret."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(PyinstallError):
    """The command line or an input file cannot be used as given."""


class InventoryError(UsageError):
    """An inventory that cannot be read: names the file and line."""

    def __init__(self, path: str, line: int | None, message: str, hint: str = "") -> None:
        self.path, self.line = path, line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}", hint)


class BrokenTests(PyinstallError):
    """Test files given to verify that pytest cannot import: no host is touched (exit 2, as a failed test)."""


class PatternError(UsageError):
    """A host pattern (--limit) that cannot be understood."""


class HostError(PyinstallError):
    """Something went wrong with one host; the others carry on. ``code``: the finding it is reported as
    (installer/outcome.py's CONDITIONS says what each command makes of it)."""

    code = "HOST_ERROR"

    def __init__(self, host: str, message: str, hint: str = "") -> None:
        self.host = host
        super().__init__(message, hint)


class Unreachable(HostError):
    """No SSH session could be established (DNS, refused, timeout, dropped)."""

    code = "UNREACHABLE"


class HostHung(Unreachable):
    """The connection is up, but the host no longer serves it (no session opens): not a reboot."""


class AuthenticationFailed(Unreachable):
    """The server refused every credential offered."""


class HostKeyError(Unreachable):
    """The server's host key could not be verified; nothing was sent to it."""


class HostKeyUnknown(HostKeyError):
    """No known_hosts entry for the server."""


class HostKeyChanged(HostKeyError):
    """The server's key differs from the known_hosts entry: possible man-in-the-middle."""


class CommandTimeout(HostError):
    """A remote command did not finish in time; its outcome is unknown."""

    code = "TIMEOUT"


class HostDiskFull(HostError):
    """No space left on the host where pyinstall writes (a temporary directory, its job directory)."""

    code = "HOST_DISK_FULL"


# The host stopped answering in the middle of something: what was under way may or may not have happened.
OUTCOME_UNKNOWN = (Unreachable, CommandTimeout)


class BecomeError(HostError):
    """Privilege escalation (sudo) failed: wrong password, not allowed, or requiretty without a pty."""

    code = "BECOME"
