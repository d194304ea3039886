"""EL8 and EL9 hosts on the simulated fleet, over real SSH: Rocky 8 (on its own root and on a tmpfs store),
Rocky 8 with podman and its container tools, AlmaLinux 9 on a tmpfs store and under a kernel of its own
booted with cgroup v2. check, provision (and a re-run that changes nothing), info and verify; podman's
containers refuse its removal until they are gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lab.testing import Fleet, podman_containers, pyinstall_json

pytestmark = pytest.mark.lab

TOOLS = ("podman", "buildah", "runc", "podman-docker", "containers-common")


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("el89", "el8:1,el8+tmpfs:1,el8-podman:1,el9+tmpfs:1,el9@uml:1")


def short(fleet: Fleet, hosts: dict) -> dict:
    return {name.removeprefix(fleet.prefix): h for name, h in hosts.items()}


def test_podman_is_removed_only_when_it_has_no_containers(fleet: Fleet, tmp_path: Path) -> None:
    name = fleet["el8-podman-01"].name
    root = fleet.testinfra(fleet["el8-podman-01"])
    podman_containers(root, "root", ["web"])
    podman_containers(root, "alice", ["alice-db"])
    rc, checked = pyinstall_json("check", "-i", str(fleet.inventory), "--limit", name, home=tmp_path)
    found = {f["code"]: f for f in checked[name]["findings"]}
    assert rc == 2 and found["PODMAN_CONTAINERS"]["level"] == "error", checked[name]
    assert found["PODMAN_CONTAINERS"]["message"].endswith("would strand: alice: alice-db; root: web")
    assert "podman-4:4.9.4-12.el8.x86_64" in found["CONFLICTING_PACKAGES"]["message"]

    rc, refused = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", name, home=tmp_path)
    assert rc == 2 and "PODMAN_CONTAINERS" in refused[name]["error"] and refused[name]["tasks"] == []
    assert root.package("podman").is_installed and not root.package("docker-ce").is_installed

    # What `podman rm` leaves, as each owner: empty stores.
    podman_containers(root, "root", [])
    podman_containers(root, "alice", [])
    rc, done = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", name, home=tmp_path)
    tasks = {t["name"]: t for t in done[name]["tasks"]}
    assert rc == 0 and done[name]["status"] == "changed", done[name]
    assert tasks["remove conflicting packages"]["status"] == "changed"
    assert [t for t in TOOLS if root.package(t).is_installed] == []
    assert root.package("docker-ce").release == "1.el8" and root.package("containerd.io").is_installed
    assert root.check_output("docker info --format '{{.Driver}}'") == "vfs"


def test_el8_and_el9_hosts_converge_and_a_rerun_changes_nothing(fleet: Fleet, tmp_path: Path) -> None:
    rc, checked = pyinstall_json("check", "-i", str(fleet.inventory), home=tmp_path)
    assert rc == 0 and all(h["status"] == "ok" for h in checked.values()), checked
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), home=tmp_path)
    hosts = short(fleet, hosts)
    assert rc == 0, {n: h["error"] for n, h in hosts.items()}
    for name, driver, el, repo in (
        ("el8-01", "vfs", "el8", "rhel"),
        ("el8-tmpfs-01", "overlay2", "el8", "rhel"),
        ("el9-tmpfs-01", "overlay2", "el9", "centos"),
        ("el9-uml-01", "overlay2", "el9", "centos"),
    ):
        h = hosts[name]
        assert h["status"] == "changed" and h["docker_info"]["storage_driver"] == driver, (name, h["error"])
        host = fleet.testinfra(fleet[name])
        assert host.package("docker-ce").release == f"1.{el}", name
        assert host.package("docker-buildx-plugin").version == "0.29.1"
        assert host.package("docker-compose-plugin").version == "2.40.3"
        repo_file = host.file("/etc/yum.repos.d/pyinstall-docker-ce-stable.repo").content_string
        assert f"baseurl=file:///srv/lab-repo/docker-ce/linux/{repo}/$releasever/$basearch/stable" in repo_file
        assert host.service("docker").is_enabled
    uml = fleet.testinfra(fleet["el9-uml-01"])
    assert uml.check_output("docker info --format '{{.CgroupVersion}}'") == "2"
    assert uml.check_output("stat -fc %T /sys/fs/cgroup") == "cgroup2fs"

    rc, again = pyinstall_json("provision", "-i", str(fleet.inventory), home=tmp_path)
    assert rc == 0 and all(h["changed"] == 0 and h["commands"] == 1 for h in again.values()), again

    rc, info = pyinstall_json("info", "-i", str(fleet.inventory), home=tmp_path)
    assert rc == 0 and all(h["status"] == "ok" for h in info.values()), info
    rc, verified = pyinstall_json("verify", "-i", str(fleet.inventory), home=tmp_path)
    failed = {n: [(t["name"], t["message"]) for t in h["tests"] if t["outcome"] != "passed" and
                  t["outcome"] != "skipped"] for n, h in verified.items()}  # fmt: skip
    assert rc == 0 and not any(failed.values()), failed
    ran = {n: [t["name"] for t in h["tests"] if t["outcome"] == "passed"] for n, h in verified.items()}
    assert all(any(t.endswith("test_a_container_runs") for t in names) for names in ran.values()), ran
