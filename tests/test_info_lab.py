"""`pyinstall info` on a provisioned lab fleet: every host reported, drift from what was asked, a host
without Docker, a stopped daemon, an unreachable host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lab.testing import Fleet, daemon_json_edited, pyinstall

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def fleet(make_fleet, tmp_path_factory) -> tuple[Fleet, Path]:
    """Four provisioned hosts (one el7 host asked for vfs where the others run overlay2) and one left bare."""
    fleet = make_fleet("inf", "el7+tmpfs:3,el6+tmpfs:1,el7:1")
    root = tmp_path_factory.mktemp("inventory")
    inventory = root / "hosts.ini"
    inventory.write_text(fleet.inventory.read_text())
    (root / "host_vars").mkdir()
    (root / "host_vars" / f"{fleet['el7-tmpfs-03'].name}.yml").write_text("docker_storage_driver: vfs\n")
    proc = pyinstall("provision", "-i", str(inventory), "--limit", f"!{fleet['el7-01'].name}", home=root)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return fleet, inventory


def _provisioned(fleet: Fleet) -> str:
    return f"!{fleet['el7-01'].name}"


def test_info_reports_every_host_and_asked_for_is_not_drift(fleet, tmp_path: Path) -> None:
    fleet, inventory = fleet
    proc = pyinstall("info", "--json", "-i", str(inventory), "--limit", _provisioned(fleet), home=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = json.loads(proc.stdout)
    assert set(report["hosts"]) == {h.name for h in fleet.hosts} - {fleet["el7-01"].name}
    assert all(h["status"] == "ok" and h["drift"] == [] for h in report["hosts"].values())
    odd = fleet["el7-tmpfs-03"].name
    assert report["hosts"][odd]["docker_info"]["storage_driver"] == "vfs"
    assert report["summary"]["storage_drivers"] == {"overlay2": 3, "vfs": 1}
    assert report["drift"] == [] and report["outliers"] == [], "vfs was asked of it: neither drift nor an outlier"


def test_a_hand_edit_of_daemon_json_is_drift_with_the_keys_named(fleet, tmp_path: Path) -> None:
    fleet, inventory = fleet
    host = fleet["el7-tmpfs-02"]
    with daemon_json_edited(fleet.testinfra(host), drop="log-driver", add={"debug": True}):
        proc = pyinstall("info", "--json", "-i", str(inventory), "--limit", _provisioned(fleet), home=tmp_path)
        assert proc.returncode == 2, proc.stdout[-3000:]
        report = json.loads(proc.stdout)
        assert report["hosts"][host.name]["status"] == "failed"
        path = "/etc/docker/daemon.json"
        assert report["drift"] == [
            {"host": host.name, "where": path, "key": "debug", "asked": None, "found": "true"},
            {"host": host.name, "where": path, "key": "log-driver", "asked": '"json-file"', "found": None},
        ]
        html = tmp_path / "fleet.html"
        table = pyinstall("info", "-i", str(inventory), "--limit", _provisioned(fleet), "--html", str(html),
                          home=tmp_path)  # fmt: skip
        assert f"{path}: debug added on the host (true), not asked for" in table.stdout
        assert f'{path}: log-driver asked "json-file", missing on the host' in table.stdout
        assert f"drift: {path}: debug added on the host (true), not asked for" in html.read_text()


def test_a_host_without_docker_is_not_installed(fleet, tmp_path: Path) -> None:
    fleet, inventory = fleet
    bare = fleet["el7-01"].name
    proc = pyinstall("info", "--json", "-i", str(inventory), home=tmp_path)
    assert proc.returncode == 2, proc.stdout[-3000:]
    report = json.loads(proc.stdout)
    assert report["hosts"][bare]["status"] == "not installed" and report["hosts"][bare]["findings"] == []
    assert report["summary"]["status"] == {"ok": 4, "not installed": 1}
    table = pyinstall("info", "-i", str(inventory), home=tmp_path).stdout
    assert "5 host(s): 4 valid, 0 invalid, 1 not installed, 0 unreachable" in table


def test_a_stopped_daemon_is_invalid(fleet, tmp_path: Path) -> None:
    fleet, inventory = fleet
    host = fleet["el7-tmpfs-02"]
    fleet.testinfra(host).run_test("systemctl stop docker")
    try:
        proc = pyinstall("info", "--json", "-i", str(inventory), "--limit", _provisioned(fleet), home=tmp_path)
        assert proc.returncode == 2
        report = json.loads(proc.stdout)["hosts"][host.name]
        assert report["status"] == "failed"
        assert [f["code"] for f in report["findings"]] == ["DAEMON_UNREACHABLE"]
    finally:
        fleet.testinfra(host).run_test("systemctl start docker")


def test_an_unreachable_host_exits_4(fleet, tmp_path: Path) -> None:
    fleet, inventory = fleet
    host = fleet["el6-tmpfs-01"]
    fleet.lab.stop([host.name])
    try:
        proc = pyinstall("info", "--json", "-i", str(inventory), home=tmp_path)
        assert proc.returncode == 4
        assert json.loads(proc.stdout)["hosts"][host.name]["status"] == "unreachable"
    finally:
        fleet.lab.start([host.name])


def test_a_hung_daemon_is_installed_and_does_not_answer(fleet, tmp_path: Path) -> None:
    """A daemon that takes connections and never answers (stopped by SIGSTOP) is installed: `docker info`
    ends by its 20 s timeout, and the host is invalid for that, never "not installed"."""
    fleet, inventory = fleet
    host = fleet["el7-tmpfs-02"]
    fleet.testinfra(host).run_expect([0], "kill -STOP $(cat /var/run/docker.pid)")
    try:
        proc = pyinstall("info", "--json", "-i", str(inventory), "--limit", host.name, home=tmp_path)
        assert proc.returncode == 2, proc.stdout[-3000:]
        report = json.loads(proc.stdout)["hosts"][host.name]
        assert report["status"] == "failed"
        (finding,) = report["findings"]
        assert finding["code"] == "DAEMON_UNREACHABLE" and "no answer within 20 s" in finding["message"]
    finally:
        fleet.testinfra(host).run_expect([0], "kill -CONT $(cat /var/run/docker.pid)")
