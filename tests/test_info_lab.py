"""`pyinstall info` on a provisioned lab fleet: every host reported, a stopped daemon, drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lab.testing import Fleet, pyinstall

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def fleet(make_fleet, tmp_path_factory) -> tuple[Fleet, Path]:
    fleet = make_fleet("inf", "el7+tmpfs:3,el6+tmpfs:1")
    # One el7 host asked for vfs where its group runs overlay2: drift, as the operator will see it.
    root = tmp_path_factory.mktemp("inventory")
    inventory = root / "hosts.ini"
    inventory.write_text(fleet.inventory.read_text())
    (root / "host_vars").mkdir()
    (root / "host_vars" / f"{fleet['el7-tmpfs-03'].name}.yml").write_text("docker_storage_driver: vfs\n")
    proc = pyinstall("provision", "-i", str(inventory), home=root)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return fleet, inventory


def test_info_reports_every_host_and_the_drift(fleet, tmp_path: Path) -> None:
    fleet, inventory = fleet
    proc = pyinstall("info", "--json", "-i", str(inventory), home=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = json.loads(proc.stdout)
    assert set(report["hosts"]) == {h.name for h in fleet.hosts}
    assert all(h["status"] == "ok" for h in report["hosts"].values())
    odd = fleet["el7-tmpfs-03"].name
    assert report["hosts"][odd]["docker_info"]["storage_driver"] == "vfs"
    assert report["summary"]["storage_drivers"] == {"overlay2": 3, "vfs": 1}
    assert report["drift"] == [
        {"host": odd, "group": "el7", "field": "storage_driver", "value": "vfs", "majority": "overlay2"}
    ]
    html = tmp_path / "fleet.html"
    table = pyinstall("info", str(inventory), "--html", str(html), home=tmp_path)
    assert f"drift: {odd} runs storage_driver vfs; most of group el7 run overlay2" in table.stdout
    page = html.read_text()
    assert all(f'data-host="{h.name}"' in page for h in fleet.hosts) and f"drift: <b>{odd}</b>" in page


def test_a_stopped_daemon_is_invalid(fleet, tmp_path: Path) -> None:
    fleet, inventory = fleet
    host = fleet["el7-tmpfs-02"]
    fleet.testinfra(host).run_test("systemctl stop docker")
    try:
        proc = pyinstall("info", "--json", "-i", str(inventory), home=tmp_path)
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
