"""A rolling upgrade on lab hosts: docker_version raised to the newer docker-ce the lab's repository
carries (a newer engine, from Debian unstable's docker.io), one host at a time under --serial 1, each
validated (docker info, a container run) before the next; a container started before keeps running
across the daemon's restart (live-restore): the same id and PID. Going back is refused unless asked."""

from __future__ import annotations

import base64
import json
import shlex
from pathlib import Path

import pytest

from installer import probe
from tests.lab import build
from tests.lab.testing import Fleet, pyinstall, pyinstall_json

pytestmark = pytest.mark.lab

KEEPER = "docker inspect -f '{{.Id}} {{.State.Pid}} {{.State.Running}}' keeper"


def test_a_rolling_upgrade_keeps_running_containers_alive(make_fleet, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet("upg", "el7+tmpfs:2")
    newer, _ = build.next_engine()
    rc, _ = pyinstall_json("provision", "-i", str(fleet.inventory), home=tmp_path)
    assert rc == 0
    encoded = base64.b64encode(probe.PROBE.read_bytes()).decode()
    load = f"printf %s {shlex.quote(encoded)} | base64 -d | docker import - keep:1"
    before = {}
    for h in fleet.hosts:
        root = fleet.testinfra(h)
        root.run_test(f"{load} && docker run -d --net=none --name keeper keep:1 /pause")
        before[h.name] = root.check_output(KEEPER)
        assert before[h.name].endswith(" true")

    upgrade = tmp_path / "upgrade.ini"
    upgrade.write_text(fleet.inventory.read_text().replace("docker_version=20.10.24", f"docker_version={newer}"))
    proc = pyinstall("provision", "-i", str(upgrade), "--serial", "1", home=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert proc.stdout.count("batch ") >= 2, "one host per batch"
    assert proc.stdout.count("run a container") >= 2, "each host proved it runs containers before the next"
    rc, hosts = pyinstall_json("provision", "-i", str(upgrade), home=tmp_path)  # converged: nothing left to do
    assert rc == 0 and all(h["changed"] == 0 for h in hosts.values())
    for h in fleet.hosts:
        root = fleet.testinfra(h)
        assert root.check_output(KEEPER) == before[h.name], "the same container, the same process, running"
        info = root.check_output("docker info --format '{{json .}}'")
        assert json.loads(info)["ServerVersion"].startswith(newer), h.name

    back = pyinstall("provision", "-i", str(fleet.inventory), home=tmp_path)
    assert back.returncode == 2 and "DOWNGRADE" in back.stdout, back.stdout[-2000:]
