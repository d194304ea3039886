"""Rollout control (Ansible's --serial and max_fail_percentage), with an injected connection factory."""

from __future__ import annotations

import _thread
import collections
import time
from pathlib import Path

import pytest

from installer import asked, provision
from installer.connection import CommandResult, Target
from installer.errors import Unreachable, UsageError
from installer.fleet import NOT_ATTEMPTED_INTERRUPTED
from installer.rollout import (
    batches,
    budget_exceeded,
    parse_budget,
    parse_rollout,
    parse_serial,
    parse_shard,
    rollout_budget_exceeded,
    shard,
    shard_of,
)
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

    def run(
        self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
    ) -> CommandResult:
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

    def run(
        self, command: str, timeout: float = 0, become: bool | None = None, what: str | None = None
    ) -> CommandResult:
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
    assert all(r.error == NOT_ATTEMPTED_INTERRUPTED for r in runs[3:])


NAMES = [f"web{i:04d}.example.com" for i in range(2000)]


def test_shards_partition_the_hosts_in_order_and_about_evenly() -> None:
    parts = [shard(NAMES, (k, 4)) for k in range(1, 5)]
    assert sorted(name for part in parts for name in part) == sorted(NAMES), "each host in exactly one shard"
    assert all(part == [n for n in NAMES if n in set(part)] for part in parts), "inventory order kept"
    assert all(400 < len(part) < 600 for part in parts), [len(p) for p in parts]
    assert shard(NAMES, None) == NAMES


def test_a_hosts_shard_depends_on_its_name_alone() -> None:
    before = {name: shard_of(name, 4) for name in NAMES[:1000]}
    assert {name: shard_of(name, 4) for name in NAMES[:1000]} == before, "stable across runs"
    assert all(shard_of(name, 4) == k for name, k in before.items()), "adding hosts moves none"


def test_one_more_shard_moves_only_the_hosts_it_takes() -> None:
    moved = [name for name in NAMES if shard_of(name, 4) != shard_of(name, 5)]
    assert all(shard_of(name, 5) == 5 for name in moved), "a host moves only to the new shard"
    assert 300 < len(moved) < 500, len(moved)  # about 1/5 (a hash modulo N would move about 4/5)


@pytest.mark.parametrize("text, expected", [("1/1", (1, 1)), ("2/4", (2, 4)), (" 4 / 4 ", (4, 4))])
def test_parse_shard(text: str, expected: tuple[int, int]) -> None:
    assert parse_shard(text) == expected


def test_shards_of_a_large_count_stay_even_and_stable() -> None:
    counts = collections.Counter(shard_of(name, 2000) for name in NAMES)
    assert set(counts) <= set(range(1, 2001)) and 1150 < len(counts) < 1400, (
        "as uniform: 2000 names fill about 1-1/e of 2000 shards"
    )
    moved = [name for name in NAMES if shard_of(name, 2000) != shard_of(name, 2001)]
    assert all(shard_of(name, 2001) == 2001 for name in moved) and len(moved) < 10


@pytest.mark.parametrize(
    "bad",
    ["0/4", "5/4", "1/0", "1", "a/b", "-1/4", "1/4/2", "", "1/10001", "1/99999999999999999999", "\u0661/\u0664"],
)
def test_bad_shard(bad: str) -> None:
    with pytest.raises(UsageError, match="is not K/N"):
        parse_shard(bad)


@pytest.mark.parametrize("good", ["ci-1234", "deploy.2026-12-01", "job:rollout@a+b", "x"])
def test_rollout_ids(good: str) -> None:
    assert parse_rollout(good) == good


@pytest.mark.parametrize("bad", ["1234", "", "-x", "a b", "a;rm -rf /", "x" * 129, "caf\u00e9"])
def test_bad_rollout_ids(bad: str) -> None:
    with pytest.raises(UsageError, match="is not a rollout id"):
        parse_rollout(bad)


def test_rollout_budget() -> None:
    assert parse_budget("0") == 0 and parse_budget("3") == 3 and parse_budget("5%") == 0.05
    assert rollout_budget_exceeded(1, 0, 100) and not rollout_budget_exceeded(0, 0, 100)
    assert not rollout_budget_exceeded(5, 0.05, 100) and rollout_budget_exceeded(6, 0.05, 100)
    assert rollout_budget_exceeded(1, 0.05, 10), "5% of 10 hosts allows none"
    for bad in ("-1", "x", "101%", "1.5"):
        with pytest.raises(UsageError, match="is not a budget"):
            parse_budget(bad)


def test_a_gate_stops_the_batches_it_has_not_started() -> None:
    hosts, connect = fleet(set())
    seen: list[int] = []

    def gate(results: list) -> str | None:
        seen.append(len(results))
        return "not attempted: the rollout's budget is spent" if len(results) >= 3 else None

    runs = provision.run(hosts, connect=connect, serial=parse_serial("1,2"), gate=gate)
    assert seen == [0, 1, 3], "asked before every batch, with the results so far"
    assert [r.status for r in runs] == ["ok"] * 3 + ["skipped"] * 7
    assert runs[3].error == "not attempted: the rollout's budget is spent"
