"""Rollout control (Ansible's --serial and max_fail_percentage), with an injected connection factory."""

from __future__ import annotations

import _thread
import time
from pathlib import Path

import pytest

from installer import asked, provision
from installer.connection import CommandResult, Target
from installer.errors import Unreachable, UsageError
from installer.rollout import batches, budget_exceeded, parse_serial
from tests.lab import spec as lab_spec

PROVISIONED = (Path(__file__).parent / "facts/lab-el6-provisioned.txt").read_text()
LAB_VARS = {**lab_spec.LAB_VARS, "docker_storage_driver": "vfs"}


@pytest.mark.parametrize(
    "serial, sizes",
    [
        (None, [10]),
        ("3", [3, 3, 3, 1]),
        ("50%", [5, 5]),
        ("1,5,25%", [1, 5, 2, 2]),
        ("1,100%", [1, 9]),
        ("30%", [3, 3, 3, 1]),
    ],
)
def test_batches(serial: str | None, sizes: list[int]) -> None:
    hosts = list(range(10))
    got = batches(hosts, parse_serial(serial) if serial else None)
    assert [len(b) for b in got] == sizes
    assert [h for b in got for h in b] == hosts


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "150%", "0%", "1,,2"])
def test_bad_serial(bad: str) -> None:
    with pytest.raises(UsageError, match="not a batch size"):
        parse_serial(bad)


def test_budget_must_be_exceeded() -> None:
    assert not budget_exceeded(1, 5, 20)  # 20% is not more than 20%
    assert budget_exceeded(2, 5, 20)
    assert budget_exceeded(1, 5, 0)
    assert not budget_exceeded(4, 5, None) and budget_exceeded(5, 5, None)  # default: a whole batch failed


class FakeSession:
    """Answers every command with a provisioned host's facts: nothing to change."""

    def __init__(self, target: Target) -> None:
        self.target, self.commands_run, self.target_user = target, 0, "root"
        self.noise: list[str] = []

    def run(self, command: str, timeout: float = 0, become: bool | None = None) -> CommandResult:
        self.commands_run += 1
        return CommandResult(command, 0, PROVISIONED, "", 0.0)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def fleet(dead: set[str]) -> tuple[list, object]:
    hosts = [(Target(f"h{i:02d}", f"192.0.2.{i}"), asked.parse(f"h{i:02d}", LAB_VARS)) for i in range(1, 11)]

    def connect(target: Target):
        if target.name in dead:
            raise Unreachable(target.name, "connection refused", "")
        return FakeSession(target)

    return hosts, connect


def test_ten_hosts_three_down_max_fail_20_percent_stops_after_the_first_batch() -> None:
    hosts, connect = fleet({"h02", "h03", "h04"})
    runs = provision.run(hosts, connect=connect, serial=parse_serial("5"), max_fail_percentage=20)
    status = {r.name: r.status for r in runs}
    assert [r.name for r in runs] == [h.name for h, _ in hosts]
    assert status == {"h01": "ok", "h02": "unreachable", "h03": "unreachable", "h04": "unreachable", "h05": "ok",
                      **{f"h{i:02d}": "skipped" for i in range(6, 11)}}  # fmt: skip
    skipped = next(r for r in runs if r.name == "h06")
    assert "batch 1 of 2 had 3 of 5 hosts fail, more than --max-fail-percentage 20" in skipped.error


def test_within_budget_every_batch_runs() -> None:
    hosts, connect = fleet({"h02"})
    runs = provision.run(hosts, connect=connect, serial=parse_serial("1,5,25%"), max_fail_percentage=20)
    assert sum(r.status == "skipped" for r in runs) == 0
    assert sum(r.status == "ok" for r in runs) == 9
    assert all(r.commands == 1 for r in runs if r.status == "ok")


def test_canary_failing_alone_stops_the_rollout() -> None:
    hosts, connect = fleet({"h01"})
    runs = provision.run(hosts, connect=connect, serial=parse_serial("1,5,25%"))
    assert [r.status for r in runs] == ["unreachable"] + ["skipped"] * 9


class InterruptingSession(FakeSession):
    """The host h03 presses Ctrl-C (a KeyboardInterrupt in the main thread) while its facts come back."""

    def run(self, command: str, timeout: float = 0, become: bool | None = None) -> CommandResult:
        if self.target.name == "h03":
            _thread.interrupt_main()
            time.sleep(0.2)  # the main thread takes it while this host is still in flight
        return super().run(command, timeout, become)


def test_ctrl_c_stops_scheduling_lets_in_flight_hosts_finish_and_reports_every_host() -> None:
    hosts, _ = fleet(set())
    runs = provision.run(hosts, connect=InterruptingSession, forks=1)
    status = {r.name: r.status for r in runs}
    assert [r.name for r in runs] == [h.name for h, _ in hosts], "every host is in the report, in order"
    assert status["h01"] == status["h02"] == "ok"
    assert status["h03"] == "ok", "the host in flight finished its step"
    assert all(status[f"h{i:02d}"] == "skipped" for i in range(4, 11))
    assert all(r.error == provision.NOT_ATTEMPTED_INTERRUPTED for r in runs[3:])
