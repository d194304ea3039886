"""`pyinstall provision` on the simulated fleet, over real SSH: end to end, idempotence, check mode,
a changed option, rollback, and hosts that fail preflight left untouched."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.lab.testing import Fleet, pyinstall, pyinstall_json, start_keeper

pytestmark = pytest.mark.lab


def provision(*args: str, home: Path) -> tuple[int, dict]:
    return pyinstall_json("provision", *args, home=home)


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    # el6 on the host's own root (vfs) and on a tmpfs store (overlay2); el7 likewise; two that fail preflight.
    return make_fleet("prov", "el6:1,el6-noisy+tmpfs:1,el7:1,el7-noisy+ext4:1,el6-i686:1,el6-oldkernel:1")


@pytest.fixture(scope="module")
def first_run(fleet: Fleet, tmp_path_factory) -> tuple[int, dict]:
    home = tmp_path_factory.mktemp("home")
    untouched = {
        n: fleet.testinfra(fleet[n]).check_output("rpm -qa | sort") for n in ("el6-i686-01", "el6-oldkernel-01")
    }
    rc, hosts = provision("-i", str(fleet.inventory), home=home)
    return rc, hosts, untouched


def short(fleet: Fleet, hosts: dict) -> dict:
    return {name.removeprefix(fleet.prefix): h for name, h in hosts.items()}


def test_fresh_hosts_are_provisioned_end_to_end(fleet: Fleet, first_run) -> None:
    rc, hosts, _ = first_run
    hosts = short(fleet, hosts)
    assert rc == 2, "the i686 and old-kernel hosts fail preflight"
    for name, driver in (
        ("el6-01", "vfs"),
        ("el6-noisy-tmpfs-01", "overlay2"),
        ("el7-01", "vfs"),
        ("el7-noisy-ext4-01", "overlay2"),
    ):
        h = hosts[name]
        assert h["status"] == "changed", (name, h["error"], [t for t in h["tasks"] if t["status"] == "failed"])
        assert h["failed"] == 0
        assert h["docker_info"]["storage_driver"] == driver
        assert h["docker_info"]["server_version"].startswith("20.10.24")
        host = fleet.testinfra(fleet[name])
        assert host.check_output("docker info --format '{{.Driver}}'") == driver
    ignored = {f["code"] for f in hosts["el6-noisy-tmpfs-01"]["findings"] if f["ignored"]}
    assert ignored == {"OVERLAY_EL6", "KERNEL_CONFIG"}, "the lab inventory's ignored codes are reported"
    el6 = fleet.testinfra(fleet["el6-01"])
    assert el6.check_output("rpm -q --qf '%{VERSION}' docker-io") == "20.10.24"
    assert "3:on" in el6.check_output("chkconfig --list docker")
    assert el6.mount_point("/cgroup/memory").exists
    sysconfig = el6.file("/etc/sysconfig/docker")
    assert sysconfig.mode == 0o644 and sysconfig.user == "root"
    assert "--storage-driver=vfs" in sysconfig.content_string and "--live-restore=true" in sysconfig.content_string
    el7 = fleet.testinfra(fleet["el7-01"])
    daemon = json.loads(el7.file("/etc/docker/daemon.json").content_string)
    assert daemon["storage-driver"] == "vfs" and daemon["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert daemon["no-new-privileges"] is True and daemon["bridge"] == "none" and "icc" not in daemon
    assert el7.file("/etc/docker/daemon.json").mode == 0o644
    assert el7.file("/etc/docker").mode == 0o755 and el7.file("/etc/docker").user == "root"
    assert el7.file("/etc/yum.repos.d/pyinstall-docker-ce-stable.repo").mode == 0o644
    assert el7.check_output("rpm -q --qf '%{EPOCH}:%{VERSION}' docker-ce") == "3:20.10.24"
    assert el7.service("docker").is_enabled


def test_hosts_failing_preflight_are_untouched(fleet: Fleet, first_run) -> None:
    _, hosts, before = first_run
    hosts = short(fleet, hosts)
    assert hosts["el6-i686-01"]["status"] == "failed" and "ARCH" in hosts["el6-i686-01"]["error"]
    assert hosts["el6-oldkernel-01"]["status"] == "failed" and "KERNEL" in hosts["el6-oldkernel-01"]["error"]
    for name, packages in before.items():
        assert hosts[name]["tasks"] == [] and hosts[name]["commands"] == 1  # the facts, nothing else
        assert fleet.testinfra(fleet[name]).check_output("rpm -qa | sort") == packages


def test_second_run_changes_nothing_with_one_command_per_host(fleet: Fleet, first_run, tmp_path: Path) -> None:
    rc, hosts = provision("-i", str(fleet.inventory), "--limit", "!el6_i686:!el6_oldkernel", home=tmp_path)
    assert rc == 0
    for name, h in hosts.items():
        assert h["status"] == "ok" and h["changed"] == 0, (name, h["tasks"])
        assert h["commands"] == 1, f"{name}: no install, write or restart command on a re-run"


def test_restart_survives_a_host_reboot(fleet: Fleet, first_run) -> None:
    for name in ("el6-noisy-tmpfs-01", "el7-noisy-ext4-01"):
        fleet.lab.restart([fleet[name].name])
        host = fleet.testinfra(fleet[name])
        assert host.run("docker info").rc == 0, f"{name}: docker is enabled at boot"


def test_changing_one_option_shows_a_diff_and_restarts_once(fleet: Fleet, first_run, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        fleet.inventory.read_text().replace("'icc': None}", "'icc': None, 'max-concurrent-downloads': 5}")
    )
    limit = f"{fleet['el7-01'].name},{fleet['el6-01'].name}"
    check = pyinstall("provision", "-i", str(inventory), "--limit", limit, "--check", "--diff", home=tmp_path)
    assert check.returncode == 0, check.stdout
    assert '+  "max-concurrent-downloads": 5,' in check.stdout
    assert "+other_args='" in check.stdout and "--max-concurrent-downloads=5" in check.stdout
    rc, hosts = provision("-i", str(inventory), "--limit", limit, home=tmp_path)
    assert rc == 0, hosts
    for name, h in hosts.items():
        changed = [t["name"] for t in h["tasks"] if t["status"] == "changed"]
        assert len(changed) == 2 and changed[1] == "restart docker", (name, changed)
        assert changed[0].startswith("write daemon configuration")
    el7 = fleet.testinfra(fleet["el7-01"])
    assert json.loads(el7.file("/etc/docker/daemon.json").content_string)["max-concurrent-downloads"] == 5
    rc, hosts = provision("-i", str(inventory), "--limit", limit, home=tmp_path)
    assert rc == 0 and all(h["changed"] == 0 for h in hosts.values())


def test_an_option_the_daemon_refuses_is_rolled_back(fleet: Fleet, first_run, tmp_path: Path) -> None:
    name = fleet["el7-noisy-ext4-01"].name
    host = fleet.testinfra(fleet["el7-noisy-ext4-01"])
    before = host.file("/etc/docker/daemon.json").content_string
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(fleet.inventory.read_text().replace("'icc': None}", "'icc': None, 'default-ulimits': 7}"))
    rc, hosts = provision("-i", str(inventory), "--limit", name, home=tmp_path)
    assert rc == 2
    tasks = hosts[name]["tasks"]
    assert [t["status"] for t in tasks[-2:]] == ["failed", "failed"]
    assert tasks[-1]["msg"].startswith("rolled back: previous configuration restored and the daemon runs on it")
    assert host.file("/etc/docker/daemon.json").content_string == before
    assert host.run("docker info").rc == 0, "the daemon runs again, on the old configuration"


def test_check_mode_on_a_fresh_host_changes_nothing(make_fleet, tmp_path: Path) -> None:
    fleet = make_fleet("chk", "el6:1,el7:1")
    probe = (
        "rpm -qa | sort; ls -la /etc/yum.repos.d /etc/sysconfig /etc/docker 2>&1; md5sum /etc/sysconfig/* 2>&1; true"
    )
    before = {h.name: fleet.testinfra(h).check_output(probe) for h in fleet.hosts}
    rc, hosts = provision("-i", str(fleet.inventory), "--check", home=tmp_path)
    assert rc == 0
    for h in fleet.hosts:
        report = hosts[h.name]
        # The facts, and the versions the repositories offer (nothing is installed yet).
        assert report["status"] == "would change" and report["commands"] == 2
        assert any(t["name"].startswith("install") for t in report["tasks"])
        assert fleet.testinfra(h).check_output(probe) == before[h.name]


def test_el7_extras_channel_with_the_real_package_files_converges_in_one_run(make_fleet, tmp_path: Path) -> None:
    """CentOS 7's `yum install docker`: Red Hat's package ships OPTIONS='--selinux-enabled
    --log-driver=journald --signature-verification=false', a unit passing its own flags and a
    docker-storage-setup that writes a storage driver before the daemon starts (the lab's package ships the
    same files; tests/lab/README.md). daemon.json sets log-driver and storage-driver too: the first start
    would fail (moby#30726) unless provision writes those files without them."""
    fleet = make_fleet("extras", "el7+tmpfs:1")
    name, host = fleet["el7-tmpfs-01"].name, fleet.testinfra(fleet["el7-tmpfs-01"])
    inventory = tmp_path / "extras.ini"
    inventory.write_text(fleet.inventory.read_text().replace("[all:vars]", "[all:vars]\ndocker_package=docker"))
    rc, hosts = provision("-i", str(inventory), home=tmp_path)
    assert rc == 0, (hosts[name]["error"], [t for t in hosts[name]["tasks"] if t["status"] != "changed"])
    assert "run a container" in [t["name"] for t in hosts[name]["tasks"]]
    assert host.check_output("rpm -q --qf '%{NAME} %{VERSION}' docker") == "docker 20.10.24"
    assert host.run("rpm -q docker-ce").rc != 0
    assert host.check_output("docker info --format '{{.LoggingDriver}} {{.Driver}} {{.DefaultRuntime}}'") == (
        "json-file overlay2 docker-runc"
    ), "daemon.json's options, the unit's own runtime"
    options = host.check_output(". /etc/sysconfig/docker; echo $OPTIONS")
    assert options == "--selinux-enabled --signature-verification=false"
    assert host.check_output('. /etc/sysconfig/docker-storage; echo "[$DOCKER_STORAGE_OPTIONS]"') == "[]"
    rc, hosts = provision("-i", str(inventory), home=tmp_path)
    assert rc == 0 and hosts[name]["changed"] == 0, [t["name"] for t in hosts[name]["tasks"]]

    # An administrator's flag in the environment file is kept only when the inventory asks for it.
    host.run_test("sed -i \"s/^OPTIONS='/OPTIONS='--insecure-registry=r.example:5000 /\" /etc/sysconfig/docker")
    rc, hosts = pyinstall_json("check", "-i", str(inventory), home=tmp_path)
    (warning,) = [f for f in hosts[name]["findings"] if f["code"] == "UNMANAGED_OPTIONS"]
    assert "/etc/sysconfig/docker: --insecure-registry" in warning["message"]
    # The unit's own flags are refused in daemon.json before anything changes; so is a drop-in's option.
    refused = tmp_path / "refused.ini"
    exec_opts = "docker_daemon_options={'exec-opts': ['native.cgroupdriver=cgroupfs'], "
    refused.write_text(inventory.read_text().replace("docker_daemon_options={", exec_opts))
    drop_in = "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd-current --log-driver=journald\n"
    host.run_test(
        f"mkdir -p /etc/systemd/system/docker.service.d && printf %s {shlex.quote(drop_in)}"
        " > /etc/systemd/system/docker.service.d/log.conf"
    )
    before = host.check_output("md5sum /etc/sysconfig/docker* /etc/docker/daemon.json")
    rc, hosts = provision("-i", str(refused), home=tmp_path)
    assert rc == 2 and hosts[name]["tasks"] == []
    codes = {f["code"]: f["message"] for f in hosts[name]["findings"] if f["level"] == "error"}
    assert "already passes it as a flag" in codes["DAEMON_OPTION"]
    assert "docker.service.d/log.conf: --log-driver" in codes["FOREIGN_CONFIG"]
    assert host.check_output("md5sum /etc/sysconfig/docker* /etc/docker/daemon.json") == before


def test_a_switch_of_channel_and_back_keeps_the_container_running(make_fleet, tmp_path: Path) -> None:
    """docker-ce -> extras -> docker-ce on a host with a running container: each switch converges in one run
    (the old channel's packages kept on the host first, for a rollback) and the container runs throughout."""
    fleet = make_fleet("switch", "el7+tmpfs:1")
    name, host = fleet["el7-tmpfs-01"].name, fleet.testinfra(fleet["el7-tmpfs-01"])
    extras = tmp_path / "extras.ini"
    extras.write_text(fleet.inventory.read_text().replace("[all:vars]", "[all:vars]\ndocker_package=docker"))
    rc, _ = provision("-i", str(fleet.inventory), home=tmp_path)
    assert rc == 0
    keeper = start_keeper(host)
    before = host.check_output(keeper)
    for inventory, package, gone in ((extras, "docker", "docker-ce"), (fleet.inventory, "docker-ce", "docker")):
        rc, hosts = provision("-i", str(inventory), home=tmp_path)
        tasks = [t["name"] for t in hosts[name]["tasks"]]
        assert rc == 0, (hosts[name]["error"], hosts[name]["tasks"])
        assert tasks[0] == "keep the installed runtime for a rollback (/var/lib/pyinstall/rollback)", tasks
        assert host.run(f"rpm -q {package}").rc == 0 and host.run(f"rpm -q {gone}").rc != 0
        assert host.check_output(keeper) == before
        assert not host.file("/var/lib/pyinstall/rollback").exists, "the daemon runs: nothing left to undo"
        rc, hosts = provision("-i", str(inventory), home=tmp_path)
        assert rc == 0 and hosts[name]["changed"] == 0


def test_tags_config_touches_only_the_configuration(make_fleet, tmp_path: Path) -> None:
    """A hand-edited daemon.json and a deleted repository file: --tags config puts back the configuration
    (and restarts the daemon on it, as a handler would) and leaves the repository file missing."""
    fleet = make_fleet("tags", "el7+tmpfs:1")
    name, host = fleet["el7-tmpfs-01"].name, fleet.testinfra(fleet["el7-tmpfs-01"])
    rc, _ = provision("-i", str(fleet.inventory), home=tmp_path)
    assert rc == 0
    repo = "/etc/yum.repos.d/pyinstall-docker-ce-stable.repo"
    host.run_test(f'rm {repo} && sed -i \'s/"live-restore": true/"live-restore": false/\' /etc/docker/daemon.json')
    rc, hosts = provision("-i", str(fleet.inventory), "--tags", "config", home=tmp_path)
    assert rc == 0
    assert [t["name"] for t in hosts[name]["tasks"]] == ["write daemon configuration /etc/docker/daemon.json",
                                                          "restart docker"]  # fmt: skip
    assert not host.file(repo).exists, "the repository is not config's part"
    assert '"live-restore": true' in host.file("/etc/docker/daemon.json").content_string
    rc, hosts = provision("-i", str(fleet.inventory), "--skip-tags", "config", home=tmp_path)
    assert rc == 0 and [t["name"] for t in hosts[name]["tasks"]][:1] == [f"write repository {repo}"]
    assert host.file(repo).exists
