"""Four shards of one rollout, four processes at once against one PostgreSQL: a failure in shard 1 beyond
the rollout's budget stops shards 2-4 from starting their next batch, and `runs show ROLLOUT` merges the
four runs into one report."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from installer import records
from installer.rollout import shard_of
from tests import postgres
from tests.lab.testing import PYINSTALL, Fleet, pyinstall

pytestmark = pytest.mark.lab

ROLLOUT = "lab-rollout-1"
SPENT = f"rollout {ROLLOUT} has 1 failed or unreachable host(s) across its shards, more than --rollout-max-fail 0"


def _names_by_shard(count: int, per_shard: int) -> dict[int, list[str]]:
    """Host names for the inventory, ``per_shard`` of them in each shard (a shard depends on the name)."""
    found: dict[int, list[str]] = {k: [] for k in range(1, count + 1)}
    for i in itertools.count():
        name = f"node{i:03d}"
        k = shard_of(name, count)
        if len(found[k]) < per_shard:
            found[k].append(name)
        if all(len(v) == per_shard for v in found.values()):
            return found
    raise AssertionError("unreachable")


def test_four_shards_share_one_rollout_and_its_failure_budget(make_fleet, postgresql: str, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet("shards", "el7+tmpfs:3")
    names = _names_by_shard(4, 2)
    # Shard 1 starts with a host that refuses at once; shards 2-4 start with a lab host each (a fresh
    # provision: seconds). Every second host refuses too: attempted, it would be unreachable, not skipped.
    text = fleet.inventory.read_text()
    for host, alias in zip(fleet.hosts, (names[k][0] for k in (2, 3, 4))):
        text = text.replace(f"\n{host.name} ansible_host=", f"\n{alias} ansible_host=")
    refusing = [names[1][0], *(names[k][1] for k in (1, 2, 3, 4))]
    text += "\n[refusing]\n" + "".join(f"{n} ansible_host=127.0.0.1 ansible_port=1\n" for n in refusing)
    text += "[lab:children]\nrefusing\n"  # beside the lab's group, after it: Ansible's order puts its hosts last
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(text)
    url = postgres.database(postgresql, "rollout")

    def shard(k: int) -> subprocess.Popen:
        # --max-fail-percentage 100: only the rollout's budget stops a shard (a batch failing whole would)
        argv = [*PYINSTALL, "provision", "-i", str(inventory), "--shard", f"{k}/4", "--rollout", ROLLOUT,
                "--rollout-max-fail", "0", "--serial", "1", "--max-fail-percentage", "100", "--database", url,
                "--retry-file", "", "--json"]  # fmt: skip
        env = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "200"}
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    others = {k: shard(k) for k in (2, 3, 4)}
    deadline = time.monotonic() + 60
    while len(records.rollout(url, ROLLOUT)) < 3:  # shards 2-4 are kept, and into their first batch
        assert time.monotonic() < deadline, [p.communicate() for p in others.values() if p.poll() is not None]
        time.sleep(0.2)
    first = shard(1)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 4, out[-3000:] + err
    hosts = json.loads(out)["hosts"]
    assert [hosts[n]["status"] for n in names[1]] == ["unreachable", "skipped"]
    assert SPENT in hosts[names[1][1]]["error"]
    for k, proc in others.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 2, err  # a host not attempted is a failed run
        hosts = json.loads(out)["hosts"]
        assert [hosts[n]["status"] for n in names[k]] == ["changed", "skipped"], (k, hosts)
        assert SPENT in hosts[names[k][1]]["error"], "the next batch was not started: the rollout's budget"

    proc = pyinstall("runs", "show", ROLLOUT, "--json", "--database", url, home=tmp_path)
    merged = json.loads(proc.stdout)
    assert sorted(r["shard"] for r in merged["runs"]) == ["1/4", "2/4", "3/4", "4/4"]
    kept = merged["hosts"]["provision"]
    assert sorted(kept) == sorted(n for v in names.values() for n in v)
    assert sorted(h["status"] for h in kept.values()) == ["changed"] * 3 + ["skipped"] * 4 + ["unreachable"]
    assert all(kept[n]["shard"] == f"{k}/4" for k, v in names.items() for n in v)
    shown = pyinstall("runs", "show", ROLLOUT, "--database", url, home=tmp_path).stdout
    assert f"Rollout {ROLLOUT}: 4 run(s)" in shown and "3 changed, 4 skipped, 1 unreachable" in shown
