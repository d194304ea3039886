"""Shards of one rollout (--shard, --rollout, --rollout-max-fail) through the command line, on hosts that
refuse at once (port 1) and the runs kept in SQLite; tests/test_shards_lab.py runs them on lab hosts, as
processes at once, against PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from installer import records, rollout
from installer.cli import ExitStatus, main

NAMES = [f"web{i:02d}" for i in range(1, 13)]


@pytest.fixture
def refusing(tmp_path: Path) -> Path:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("".join(f"{name} ansible_host=127.0.0.1 ansible_port=1\n" for name in NAMES))
    return inventory


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_list_hosts_shows_a_shard(refusing: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shards = []
    for k in (1, 2, 3):
        assert main(["check", str(refusing), "--shard", f"{k}/3", "--list-hosts", "--json"]) == ExitStatus.OK
        shards.append(_json(capsys)["hosts"])
    assert sorted(name for hosts in shards for name in hosts) == NAMES
    assert shards == [[n for n in NAMES if rollout.shard_of(n, 3) == k] for k in (1, 2, 3)]


def test_a_limit_is_applied_before_the_shard(refusing: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(refusing), "--limit", "web0*", "--shard", "1/2", "--list-hosts", "--json"]) == 0
    assert _json(capsys)["hosts"] == [n for n in NAMES[:9] if rollout.shard_of(n, 2) == 1]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--shard", "3/2"], "--shard '3/2' is not K/N"),
        (["--rollout-max-fail", "1"], "--rollout-max-fail needs --rollout ID"),
        (["--rollout", "42", "--rollout-max-fail", "1"], "--rollout '42' is not a rollout id"),
        (["--rollout", "r1", "--rollout-max-fail", "x"], "--rollout-max-fail 'x' is not a budget"),
    ],
)
def test_bad_shard_options_change_nothing(
    refusing: Path, options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["provision", str(refusing), "--retry-file", "", *options]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert message in err and "hint:" in err
    assert "unreachable" not in err, "no host was contacted"


def test_a_rollout_budget_spent_in_one_shard_stops_the_others(
    refusing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --max-fail-percentage 100: a batch that fails whole does not stop the shard by itself
    common = ["provision", str(refusing), "--serial", "1", "--max-fail-percentage", "100", "--rollout", "ci-7",
              "--rollout-max-fail", "1", "--retry-file", "", "--json"]  # fmt: skip
    first = [n for n in NAMES if rollout.shard_of(n, 2) == 1]
    assert main([*common, "--shard", "1/2"]) == ExitStatus.UNREACHABLE
    hosts = _json(capsys)["hosts"]
    assert [hosts[n]["status"] for n in first] == ["unreachable", "unreachable"] + ["skipped"] * (len(first) - 2)
    spent = "rollout ci-7 has 2 failed or unreachable host(s) across its shards, more than --rollout-max-fail 1"
    assert spent in hosts[first[2]]["error"]
    assert main([*common, "--shard", "2/2"]) == ExitStatus.FAILED, "nothing reached, every host skipped"
    second = _json(capsys)["hosts"]
    assert {h["status"] for h in second.values()} == {"skipped"}, "the budget was spent before its first batch"

    assert main(["runs", "show", "ci-7", "--json"]) == ExitStatus.OK
    merged = _json(capsys)
    assert [(r["command"], r["shard"], r["failed"]) for r in merged["runs"]] == [("provision", "1/2", 2),
                                                                                ("provision", "2/2", 0)]  # fmt: skip
    assert sorted(merged["hosts"]["provision"]) == NAMES
    assert sum(h["status"] == "unreachable" for h in merged["hosts"]["provision"].values()) == 2
    assert main(["runs", "show", "ci-7"]) == ExitStatus.OK
    shown = capsys.readouterr().out
    assert "Rollout ci-7: 2 run(s)" in shown and "provision: 12 host(s)" in shown and "2 unreachable" in shown
    assert main(["runs"]) == ExitStatus.OK
    assert "rollout ci-7 shard 1/2" in capsys.readouterr().out


def test_a_shard_run_again_replaces_its_earlier_run_in_the_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"

    def started(command: str, shard: str) -> int:
        return records.start(url, records.Start(1.0, command, command, "0", "hosts.ini", "", rollout="r", shard=shard))

    one, two = started("provision", "1/2"), started("provision", "2/2")
    assert records.rollout_failed(url, one, "r", 3) == 3
    assert records.rollout_failed(url, two, "r", 1) == 4
    again = started("provision", "1/2")
    assert records.rollout_failed(url, again, "r", 0) == 1, "shard 1's earlier failures no longer count"
    check = started("check", "1/2")
    assert records.rollout_failed(url, check, "r", 5) == 5, "a check's failures are not provision's budget"
    assert records.rollout_failed(url, again, "r", 0) == 1


def test_a_rollout_started_under_the_earlier_shard_function_is_refused(
    refusing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    records.start(url, records.Start(1.0, "provision", "provision", "0", "hosts.ini", "", rollout="old", shard="1/2"))
    argv = ["provision", str(refusing), "--retry-file", "", "--database", url, "--shard", "2/2"]
    assert main([*argv, "--rollout", "old"]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "rollout old was started by a pyinstall that put hosts in shards another way" in err
    assert "unreachable" not in err, "no host was contacted"
    assert main([*argv, "--rollout", "new"]) == ExitStatus.UNREACHABLE
    assert main([*argv, "--rollout", "new"]) == ExitStatus.UNREACHABLE, "a rollout of this pyinstall goes on"
    assert {r["shard_function"] for r in records.rollout(url, "new")} == {rollout.SHARD_FUNCTION}


def test_an_unknown_rollout_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "show", "nope"]) == ExitStatus.USAGE
    assert "no run of rollout 'nope'" in capsys.readouterr().err
