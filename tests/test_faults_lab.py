"""Faults on the lab, each with the exact behaviour expected and nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lab.testing import Fleet

pytestmark = pytest.mark.lab


def test_sigint_mid_run_reports_every_host_then_a_rerun_converges(make_fleet, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet("sigint", "el6:3")
    env = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "200"}
    retry = tmp_path / "provision.retry"
    argv = [sys.executable, "-m", "installer.cli", "provision", "--json", "-i", str(fleet.inventory), "--forks", "1",
            "--retry-file", str(retry)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = fleet.testinfra(fleet["el6-01"])
    deadline = time.monotonic() + 60
    while first.run("rpm -q libcgroup").rc != 0:  # the first host is half way through its play
        assert time.monotonic() < deadline, "provisioning never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    hosts = json.loads(out)["hosts"]
    assert list(hosts) == [h.name for h in fleet.hosts]
    assert hosts[fleet["el6-01"].name]["status"] in ("interrupted", "changed")
    for name in ("el6-02", "el6-03"):
        assert hosts[fleet[name].name]["status"] == "skipped"
        assert "interrupted" in hosts[fleet[name].name]["error"]
        assert fleet.testinfra(fleet[name]).run("rpm -q docker-io").rc != 0, "a host not started is untouched"
    to_retry = [name for name, h in hosts.items() if h["status"] in ("interrupted", "skipped")]
    assert retry.read_text().split() == to_retry

    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:]
    final = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert all(h["changed"] == 0 for h in json.loads(final.stdout)["hosts"].values())
