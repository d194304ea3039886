"""One vocabulary of failures: each condition of installer/outcome.py's CONDITIONS, met on the first command
sent to the host, comes to the same status in every command (check, provision, remove, info, verify), and
the host's report names its code."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from installer import connection, errors
from installer.asked import Asked
from installer.connection import OutputTooLarge, Target
from installer.info import inspect_host
from installer.outcome import CONDITIONS, HostResult, Status
from installer.preflight import check_host
from installer.provision import provision_host
from installer.remove import remove_host
from installer.verify import Job
from installer.verify.worker import verify_host

RAISED = {
    "UNREACHABLE": errors.Unreachable,
    "TIMEOUT": errors.CommandTimeout,
    "BECOME": errors.BecomeError,
    "OUTPUT_TOO_LARGE": OutputTooLarge,
    "HOST_DISK_FULL": errors.HostDiskFull,
    "HOST_ERROR": errors.HostError,
}
TARGET, ASKED = Target("h1", "192.0.2.1"), Asked("h1", storage_driver="vfs")


def _subclasses(cls: type) -> set[type]:
    return {cls} | {s for sub in cls.__subclasses__() for s in _subclasses(sub)}


def test_every_host_error_has_a_row() -> None:
    assert set(RAISED) == set(CONDITIONS)
    assert {cls.code for cls in _subclasses(errors.HostError)} <= set(CONDITIONS), "a new error, a new row"


class Failing:
    """A session whose first command meets the condition."""

    commands_run, noise, stop = 0, [], None

    def __init__(self, error: errors.HostError) -> None:
        self.target, self.error = TARGET, error

    def __enter__(self) -> Failing:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, *args: object, **kwargs: object) -> None:
        raise self.error


COMMANDS: dict[str, Callable[[Callable[[Target], Failing]], HostResult]] = {
    "check": lambda connect: check_host(TARGET, ASKED, connect=connect),
    "provision": lambda connect: provision_host(TARGET, ASKED, connect=connect),
    "remove": lambda connect: remove_host(TARGET, ASKED, connect=connect),
    "info": lambda connect: inspect_host(TARGET, ASKED, ("all",), connect),
    "verify": lambda connect: verify_host(Job(TARGET, ASKED)),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("code", sorted(CONDITIONS))
def test_each_condition_comes_to_one_status_in_every_command(
    code: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = RAISED[code]("h1", f"what the host said ({code})", "what to do")
    monkeypatch.setattr(connection, "connect", lambda target: Failing(error))  # verify connects on its own
    result = COMMANDS[command](lambda target: Failing(error))
    status = CONDITIONS[code][1]
    assert result.status == status, (code, command, result)
    said = result.reason
    assert f"what the host said ({code})" in said, said
    if status != Status.UNREACHABLE:
        assert code in said or code in [f.code for f in result.findings], f"{command} does not name {code}: {said}"
