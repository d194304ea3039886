"""Hosts under a kernel of their own (the lab's `@uml` hosts, User-Mode Linux): device-mapper, loop devices
and modules that load on demand, XFS's ftype, cgroups that nobody mounted. What the machine's shared
kernel cannot show, provisioned and checked for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lab.testing import Fleet, pyinstall_json, start_keeper

pytestmark = [pytest.mark.lab, pytest.mark.uml]

SPEC = "el6@uml:1,el7@uml:1,el7+lvm@uml:1,el7+xfs0@uml:1,el7+xfs1@uml:1"
LOOP_LVM = ("el6-uml-01", "el7-uml-01")


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("uml", SPEC)


def _loaded(fleet: Fleet, name: str) -> set[str]:
    return set(fleet.testinfra(fleet[name]).check_output("cut -d' ' -f1 /proc/modules").split())


def _cgroup_mounts(fleet: Fleet, name: str) -> int:
    return int(fleet.testinfra(fleet[name]).check_output("grep -c ' cgroup ' /proc/mounts || true"))


@pytest.fixture(scope="module")
def before(fleet: Fleet) -> dict[str, dict]:
    """What the fresh hosts have before pyinstall touches them."""
    names = (*LOOP_LVM, "el7-uml-xfs1-01")
    return {n: {"modules": _loaded(fleet, n), "cgroups": _cgroup_mounts(fleet, n)} for n in names}


@pytest.fixture(scope="module")
def provisioned(fleet: Fleet, before: dict, tmp_path_factory) -> tuple[int, dict]:
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), home=tmp_path_factory.mktemp("home"))
    return rc, {name.removeprefix(fleet.prefix): h for name, h in hosts.items()}


def test_modules_are_on_disk_and_load_when_asked(fleet: Fleet, before: dict, provisioned) -> None:
    for name in LOOP_LVM:
        assert before[name]["modules"] == {"overlay"}, "the premise: only the root filesystem's module is loaded"
        assert {"dm_mod", "dm_thin_pool", "loop"} <= _loaded(fleet, name), name


def test_devicemapper_on_loop_files_el6_and_el7(fleet: Fleet, provisioned, tmp_path: Path) -> None:
    rc, hosts = provisioned
    assert rc == 2, "the XFS ftype=0 host is refused"
    for name in LOOP_LVM:
        h = hosts[name]
        assert h["status"] == "changed", (name, h["error"], [t for t in h["tasks"] if t["status"] == "failed"])
        assert h["docker_info"]["storage_driver"] == "devicemapper"
        assert h["docker_info"]["data_loop_file"] == "/var/lib/docker/devicemapper/devicemapper/data"
        assert h["docker_info"]["metadata_loop_file"] == "/var/lib/docker/devicemapper/devicemapper/metadata"
    limit = ["--limit", ":".join(fleet[n].name for n in LOOP_LVM)]
    rc, info = pyinstall_json("info", "-i", str(fleet.inventory), *limit, home=tmp_path)
    assert rc == 0, info
    for name, h in info.items():
        assert h["status"] == "ok", (name, h["findings"])
        assert "DEVICEMAPPER_LOOP" in {f["code"] for f in h["findings"] if f["level"] == "warning"}
    rc, again = pyinstall_json("provision", "-i", str(fleet.inventory), *limit, home=tmp_path)
    assert rc == 0 and all(h["changed"] == 0 and h["commands"] == 1 for h in again.values()), again


def test_direct_lvm_makes_a_thin_pool_on_the_second_disk(fleet: Fleet, provisioned) -> None:
    _, hosts = provisioned
    h = hosts["el7-uml-lvm-01"]
    assert h["status"] == "changed", h["error"]
    assert (h["docker_info"]["pool_name"], h["docker_info"]["data_loop_file"]) == ("docker-thinpool", None)
    assert "DEVICEMAPPER_LOOP" not in {f["code"] for f in h["findings"]}
    host = fleet.testinfra(fleet["el7-uml-lvm-01"])
    assert host.check_output("pvs --noheadings -o pv_name,vg_name").split() == ["/dev/ubdb", "docker"]


def test_xfs_ftype0_is_refused_and_ftype1_runs_overlay2(fleet: Fleet, provisioned) -> None:
    _, hosts = provisioned
    refused = hosts["el7-uml-xfs0-01"]
    assert refused["status"] == "failed" and "XFS_FTYPE" in refused["error"], refused["error"]
    assert refused["tasks"] == [], "nothing is changed on a refused host"
    assert fleet.testinfra(fleet["el7-uml-xfs0-01"]).run("rpm -q docker-ce").rc != 0
    ok = hosts["el7-uml-xfs1-01"]["docker_info"]
    assert (ok["storage_driver"], ok["backing_filesystem"], ok["supports_d_type"]) == ("overlay2", "xfs", True)


def test_el6_cgconfig_mounts_the_cgroups_nobody_mounted(fleet: Fleet, before: dict, provisioned) -> None:
    assert before["el6-uml-01"]["cgroups"] == 0, "the premise: an EL6 kernel boots with no cgroup mounted"
    assert _cgroup_mounts(fleet, "el6-uml-01") > 0


def test_an_available_module_passes_and_a_missing_one_is_refused(fleet: Fleet, provisioned, tmp_path: Path) -> None:
    """On the overlay2 host nothing has loaded device-mapper: devicemapper is possible (the module is on
    disk); once the module is deleted from the host's tree, it is not."""
    name = fleet["el7-uml-xfs1-01"].name
    assert "dm_mod" not in _loaded(fleet, "el7-uml-xfs1-01"), "the premise: dm_mod is not loaded"
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / f"{name}.yml").write_text(json.dumps({"docker_storage_driver": "devicemapper"}))
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(fleet.inventory.read_text())

    def device_mapper() -> list[dict]:
        _, hosts = pyinstall_json("check", "-i", str(inventory), "--limit", name, home=tmp_path)
        return [f for f in hosts[name]["findings"] if f["code"] == "DEVICE_MAPPER"]

    assert device_mapper() == []
    fleet.testinfra(fleet["el7-uml-xfs1-01"]).run_test("rm /lib/modules/$(uname -r)/kernel/drivers/md/dm-mod.ko*")
    (missing,) = device_mapper()
    assert missing["level"] == "error" and "neither loaded nor available" in missing["message"]


def test_verify_runs_a_container_on_devicemapper_and_xfs_under_a_real_kernel(fleet: Fleet, provisioned,
                                                                               tmp_path: Path) -> None:  # fmt: skip
    """The bundled suite on each host that was provisioned, containers included (devicemapper on loop
    files and on a thin pool, overlay2 on XFS); the refused host has no Docker. The User-Mode Linux
    kernel has no memory or cpuset cgroup controller: on EL6, where cgconfig mounts the hierarchies, the
    suite says so."""
    rc, hosts = pyinstall_json("verify", "-i", str(fleet.inventory), home=tmp_path)
    assert rc == 2, "the XFS ftype=0 host was refused: nothing is installed there"
    hosts = {name.removeprefix(fleet.prefix): h for name, h in hosts.items()}
    assert hosts.pop("el7-uml-xfs0-01")["status"] == "not installed"
    for name, h in hosts.items():
        outcomes = {t["name"].split("::")[1]: (t["outcome"], t["message"]) for t in h["tests"]}
        if name == "el6-uml-01":
            outcome, message = outcomes.pop("test_the_cgroup_hierarchies_are_mounted")
            assert outcome == "failed" and "(the kernel offers no" in message and "memory" in message, message
        failed = {k: v for k, v in outcomes.items() if v[0] not in ("passed", "skipped")}
        assert not failed, (name, failed)
        assert outcomes["test_a_container_runs"] == ("passed", ""), name


def _pinned_to_the_newer_engine(fleet: Fleet, name: str, tmp_path: Path) -> tuple[str, Path]:
    """The lab's newer engine (28.x) pinned for host NAME in a copy of the fleet's inventory."""
    from tests.lab import build

    newer, _ = build.next_engine()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / f"{name}.yml").write_text(json.dumps({"docker_version": newer}))
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(fleet.inventory.read_text())
    return newer, inventory


def test_a_pin_whose_dockerd_lacks_devicemapper_changes_nothing(fleet: Fleet, provisioned, tmp_path: Path) -> None:
    """The lab's newer engine (28.x) on the devicemapper host: check and provision refuse it alike
    (DRIVER_REMOVED, the same words), before anything changes: packages, files, the daemon as they were."""
    host = fleet["el7-uml-01"]
    newer, inventory = _pinned_to_the_newer_engine(fleet, host.name, tmp_path)
    root = fleet.testinfra(host)
    state = (
        "rpm -qa | sort | sha256sum; sha256sum /etc/docker/daemon.json /etc/yum.repos.d/*; systemctl is-active "
        "docker; systemctl is-enabled docker; docker info --format '{{.ServerVersion}}'"
    )
    before = root.check_output(state)

    def refused(command: str) -> dict:
        rc, hosts = pyinstall_json(command, "-i", str(inventory), "--limit", host.name, home=tmp_path)
        assert rc == 2, hosts
        (finding,) = [f for f in hosts[host.name]["findings"] if f["code"] == "DRIVER_REMOVED"]
        return finding

    checked, provisioned_ = refused("check"), refused("provision")
    assert checked == provisioned_ and checked["level"] == "error"
    assert f"Docker {newer} has no devicemapper storage driver" in checked["message"]
    assert root.check_output(state) == before


def test_a_forced_pin_whose_daemon_does_not_start_is_rolled_back_with_rpm_alone(
    fleet: Fleet, provisioned, tmp_path: Path
) -> None:
    """The same pin forced past DRIVER_REMOVED: docker-ce 28.x installs, its dockerd refuses devicemapper,
    and provision puts back what ran, from what it kept on the host before the change (not from the
    repositories: they are made unreachable as soon as the new package is in, before the daemon's start
    fails): the old packages, daemon.json, the daemon running and the container that ran, running again."""
    import threading
    import time

    host = fleet["el7-uml-01"]
    newer, inventory = _pinned_to_the_newer_engine(fleet, host.name, tmp_path)
    root = fleet.testinfra(host)
    keeper = start_keeper(root)
    state = "rpm -qa | grep -E '^(docker|containerd)' | sort; sha256sum /etc/docker/daemon.json; " + keeper
    before = root.check_output(state)
    assert before.endswith(" true")

    cut: list[float] = []  # when the repositories went away

    def cut_repositories() -> None:
        watcher = fleet.testinfra(host)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if watcher.run("rpm -q --qf '%{VERSION}' docker-ce").stdout.strip() == newer:
                watcher.run_test("mv /etc/yum.repos.d /etc/yum.repos.d.away")
                cut.append(time.monotonic())
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=cut_repositories, daemon=True)
    watcher.start()
    try:
        rc, hosts = pyinstall_json("provision", "-i", str(inventory), "--limit", host.name,
                                   "--ignore-preflight-errors", "DRIVER_REMOVED", home=tmp_path)  # fmt: skip
        watcher.join(timeout=5)
        assert cut, "the premise: the repositories were gone before the rollback"
        tasks = {t["name"]: t for t in hosts[host.name]["tasks"]}
        assert rc == 2 and hosts[host.name]["status"] == "failed"
        assert "devicemapper" in tasks["restart docker"]["msg"], tasks["restart docker"]
        rollback = tasks["roll back the runtime"]
        assert rollback["msg"].startswith("rolled back: the packages (docker-ce-20.10.24"), rollback["msg"]
        assert "and the daemon runs on it" in rollback["msg"], rollback["msg"]
        assert not any("yum" in c for c in rollback["commands"]), "rpm alone"
        assert root.check_output(state) == before, "the same packages, configuration and container, running"
        assert root.check_output("systemctl is-enabled docker") == "enabled"
    finally:
        root.run("[ -d /etc/yum.repos.d.away ] && mv /etc/yum.repos.d.away /etc/yum.repos.d")
