"""EL8 and EL9 hosts on the simulated fleet, over real SSH: Rocky 8 (on its own root and on a tmpfs store),
Rocky 8 with podman and its container tools, AlmaLinux 9 on a tmpfs store and under a kernel of its own
booted with cgroup v2, and a CentOS 7 host upgraded in place to AlmaLinux 8. check, provision (and a re-run
that changes nothing), info and verify; podman's containers refuse its removal until they are gone."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.lab.build import KERNEL_CONFIG
from tests.lab.spec import KINDS
from tests.lab.testing import Fleet, podman_containers, pyinstall_json, start_keeper

pytestmark = pytest.mark.lab

TOOLS = ("podman", "buildah", "runc", "podman-docker", "containers-common")


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("el89", "el8:1,el8+tmpfs:1,el8-podman:1,el9+tmpfs:1,el9@uml:1,el7+ext4:1")


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
    assert root.package("docker-ce").release == "3.el8" and root.package("containerd.io").is_installed
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
        assert host.package("docker-ce").release == f"3.{el}", name
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


def test_an_el7_host_upgraded_in_place_to_alma_8_converges_with_its_images(fleet: Fleet, tmp_path: Path) -> None:
    """The fleet mid-migration: an EL7 host provisioned, a container on it; check --upgrade-to el8 says it is
    ready; the OS upgraded in place as ELevate leaves it (AlmaLinux 8's release, base packages and kernel, the
    EL7 builds of Docker's packages left behind, a reboot); provision moves it to the EL8 definition."""
    name = fleet["el7-ext4-01"].name
    root = fleet.testinfra(fleet["el7-ext4-01"])
    rc, first = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", name, home=tmp_path)
    assert rc == 0 and root.package("docker-ce").release == "3.el7", first[name]["error"]
    inspect = start_keeper(root)
    kept = root.check_output(inspect).split()[0]
    config = root.file("/etc/docker/daemon.json").content_string

    rc, ready = pyinstall_json("check", "-i", str(fleet.inventory), "--limit", name, "--upgrade-to", "el8",
                               home=tmp_path)  # fmt: skip
    said = {f["code"]: f["message"] for f in ready[name]["findings"]}
    assert rc == 0 and "OS_UPGRADE_BLOCKED" not in said, said
    assert "docker-ce 20.10.24-3.el7 (an EL7 build) is replaced by EL8's at 20.10.24" in said["OS_UPGRADE"]
    assert "docker-ce/linux/rhel/8/x86_64/stable after" in said["OS_UPGRADE"]

    elevate(root, fleet.lab.repo)
    fleet.lab.restart([name])
    root = fleet.testinfra(fleet["el7-ext4-01"])
    assert root.check_output("cat /etc/redhat-release") == "AlmaLinux release 8.10 (Cerulean Leopard)"

    rc, checked = pyinstall_json("check", "-i", str(fleet.inventory), "--limit", name, home=tmp_path)
    assert rc == 0 and "FOREIGN_BUILD" in {f["code"] for f in checked[name]["findings"]}, checked[name]
    rc, moved = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", name, home=tmp_path)
    tasks = [t["name"] for t in moved[name]["tasks"] if t["status"] == "changed"]
    assert rc == 0, moved[name]["error"]
    assert "write repository /etc/yum.repos.d/pyinstall-docker-ce-stable.repo" in tasks
    assert any(t.startswith("replace docker-ce 20.10.24-3.el7 (an EL7 build) with the EL8 build") for t in tasks)
    repo = root.file("/etc/yum.repos.d/pyinstall-docker-ce-stable.repo").content_string
    assert "docker-ce/linux/rhel/$releasever/$basearch/stable" in repo
    assert root.package("docker-ce").release == "3.el8" and root.package("docker-ce-cli").release == "3.el8"
    assert root.package("docker-compose-plugin").version == "2.40.3"
    assert root.file("/etc/docker/daemon.json").content_string == config, "the configuration is kept"
    assert root.check_output(inspect).split()[0] == kept, "the container is kept"
    assert root.check_output("docker image inspect -f '{{.Id}}' keep:1").startswith("sha256:")

    rc, again = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", name, home=tmp_path)
    assert rc == 0 and again[name]["changed"] == 0, again[name]["tasks"]
    rc, verified = pyinstall_json("verify", "-i", str(fleet.inventory), "--limit", name, home=tmp_path)
    failed = [(t["name"], t["message"]) for t in verified[name]["tests"] if t["outcome"] == "failed"]
    assert rc == 0 and not failed, failed


def elevate(root, repo: Path) -> None:
    """What ELevate leaves on a CentOS 7 host it moved to AlmaLinux 8: the distribution's release and base
    packages replaced by EL8's (the lab's stand-ins), an EL8 kernel booted next, and the packages of other
    repositories (Docker's) left as EL7 built them."""
    rpms = {
        name: next((repo / "almalinux/8/BaseOS/x86_64/os").glob(f"{name}-[0-9]*.rpm")).name
        for name in ("almalinux-release", "lab-base", "systemd")
    }
    kernel = KINDS["el8"]
    config = f"# Simulated config of the lab's {kernel.kernel_release} kernel\n" + KERNEL_CONFIG["el8"]
    root.run_test(
        "set -e; cd /srv/lab-repo/almalinux/8/BaseOS/x86_64/os; "
        "rpm -e --nodeps centos-release lab-base systemd device-mapper-libs; "
        f"rpm -i --nodeps {' '.join(rpms.values())}; "
        f"printf '%s\\n' {shlex.quote(kernel.kernel_release)} > /etc/lab/kernel-release; "
        f"printf '%s\\n' {shlex.quote(kernel.kernel_version)} > /etc/lab/kernel-version; "
        f"printf %s {shlex.quote(config)} > /boot/config-{kernel.kernel_release}"
    )
