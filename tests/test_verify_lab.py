"""`pyinstall verify` on lab hosts: the bundled testinfra suite passes on freshly provisioned el6 and el7
hosts (a container runs on each), a hand edit fails naming the key, a host without Docker fails as
not installed, and the operator's own test file runs against every host."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.lab.testing import Fleet, daemon_json_edited, pyinstall

pytestmark = pytest.mark.lab

SUITE = (
    "test_the_runtime_packages_are_installed_at_the_pinned_version", "test_no_conflicting_package_is_installed",
    "test_the_repository_files_are_as_provision_writes_them", "test_the_daemon_configuration_is_as_provision_writes_it",
    "test_the_service_is_enabled_and_running", "test_the_cgroup_hierarchies_are_mounted",
    "test_docker_info_reports_what_was_asked", "test_a_container_runs",
)  # fmt: skip


@pytest.fixture(scope="module")
def fleet(make_fleet, tmp_path_factory) -> tuple[Fleet, list[str]]:
    """An el6 and a noisy el7 host (a banner, a German locale), provisioned, another el7 host to edit by
    hand, and a bare el7 host."""
    fleet = make_fleet("ver", "el6+tmpfs:1,el7-noisy+tmpfs:1,el7+tmpfs:1,el7:1")
    home = tmp_path_factory.mktemp("home")
    proc = pyinstall("provision", "-i", str(fleet.inventory), "--limit", f"!{fleet['el7-01'].name}", home=home)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return fleet, [fleet["el6-tmpfs-01"].name, fleet["el7-noisy-tmpfs-01"].name]


def _verify(fleet: Fleet, limit: str, tmp_path: Path, *more: str) -> tuple[int, dict]:
    proc = pyinstall("verify", "--json", "-i", str(fleet.inventory), "--limit", limit, *more, home=tmp_path)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)["hosts"]


def test_freshly_provisioned_hosts_pass_every_test_and_run_a_container(fleet, tmp_path: Path) -> None:
    fleet, provisioned = fleet
    junit = tmp_path / "verify.xml"
    rc, hosts = _verify(fleet, ",".join(provisioned), tmp_path, "--junit-xml", str(junit))
    assert rc == 0, json.dumps(hosts, indent=1)[-3000:]
    for name in provisioned:
        ran = {t["name"].split("::")[1]: t["outcome"] for t in hosts[name]["tests"]}
        assert set(ran) == set(SUITE), name
        assert ran["test_a_container_runs"] == "passed", name
        el6 = name == fleet["el6-tmpfs-01"].name
        assert ran["test_the_cgroup_hierarchies_are_mounted"] == ("passed" if el6 else "skipped"), name
    cases = ET.parse(junit).getroot().iter("testcase")
    listed = {(c.get("classname"), c.get("name").split("::")[-1]) for c in cases if c.get("name") != "host"}
    assert listed == {(host, test) for host in provisioned for test in SUITE}
    # The probe image is gone again: nothing is left behind on the host.
    root = fleet.testinfra(fleet["el7-noisy-tmpfs-01"])
    assert "pyinstall/probe" not in root.run("docker images").stdout


def test_a_hand_edit_fails_naming_the_key(fleet, tmp_path: Path) -> None:
    fleet, _ = fleet
    host = fleet["el7-tmpfs-01"]
    with daemon_json_edited(fleet.testinfra(host), drop="userland-proxy", add={"debug": True}):
        rc, hosts = _verify(fleet, host.name, tmp_path)
        assert rc == 2
        failed = {t["name"].split("::")[1]: t["message"] for t in hosts[host.name]["tests"] if t["outcome"] == "failed"}
        assert set(failed) == {"test_the_daemon_configuration_is_as_provision_writes_it"}, failed
        message = failed["test_the_daemon_configuration_is_as_provision_writes_it"]
        assert "debug added on the host (true)" in message and "userland-proxy asked false, missing" in message


def test_a_host_without_docker_fails_as_not_installed(fleet, tmp_path: Path) -> None:
    fleet, _ = fleet
    bare = fleet["el7-01"].name
    rc, hosts = _verify(fleet, bare, tmp_path)
    assert rc == 2
    assert (hosts[bare]["status"], hosts[bare]["error"]) == (
        "not installed",
        "Docker is not installed (no docker command)",
    )
    table = pyinstall("verify", "-i", str(fleet.inventory), "--limit", bare, home=tmp_path).stdout
    assert "1 host(s): 0 passed, 0 failed, 1 not installed, 0 unreachable" in table


def test_the_operators_own_tests_run_on_every_host(fleet, tmp_path: Path) -> None:
    fleet, provisioned = fleet
    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "test_site.py").write_text(
        "def test_the_hostname_is_known(host):\n"
        "    assert host.run('hostname').rc == 0\n\n"
        "def test_a_site_rule_that_fails(host):\n"
        "    assert host.file('/etc/site-marker').exists, 'the site marker is missing'\n"
    )
    rc, hosts = _verify(fleet, ",".join(provisioned), tmp_path, "--tests", str(mine), "--keyword", "site or container")
    assert rc == 2
    for name in provisioned:
        ran = {t["name"]: (t["outcome"], t["message"]) for t in hosts[name]["tests"]}
        assert ran == {
            "test_docker.py::test_a_container_runs": ("passed", ""),
            "test_site.py::test_the_hostname_is_known": ("passed", ""),
            "test_site.py::test_a_site_rule_that_fails": ("failed", "the site marker is missing"),
        }, name
    table = pyinstall("verify", "-i", str(fleet.inventory), "--limit", provisioned[0], "--tests", str(mine),
                      "--keyword", "site_rule", home=tmp_path).stdout  # fmt: skip
    assert "test_site.py::test_a_site_rule_that_fails: the site marker is missing" in table
