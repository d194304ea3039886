"""The simulated fleet itself, exercised over real SSH: identities, packages, services, isolation."""

from __future__ import annotations

import os
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.lab import Lab, build
from tests.lab import host as hostlib
from tests.lab.testing import Fleet, require_lab, wait_for

pytestmark = pytest.mark.lab

MIXED = "el6:1,el7:1,el6-i686:1,el6-oldkernel:1"


@pytest.fixture(scope="module")
def mixed(make_fleet) -> Fleet:
    return make_fleet("mixed", MIXED)


def test_el6_identity(mixed: Fleet) -> None:
    host = mixed.testinfra(mixed["el6-01"])
    assert host.file("/etc/redhat-release").content_string.strip() == "CentOS release 6.10 (Final)"
    assert host.check_output("uname -r") == "2.6.32-754.35.1.el6.x86_64"
    assert host.check_output("uname -m") == "x86_64"
    assert host.check_output("uname -rm") == "2.6.32-754.35.1.el6.x86_64 x86_64"
    assert not host.file("/etc/os-release").exists
    assert not host.file("/usr/lib/os-release").exists
    assert not host.exists("systemctl")
    assert host.check_output("hostname") == mixed["el6-01"].name
    assert host.check_output("rpm -q --qf '%{VERSION}' centos-release") == "6"
    assert host.check_output("readlink /proc/1/exe") == "/usr/sbin/init"


def test_el7_identity(mixed: Fleet) -> None:
    host = mixed.testinfra(mixed["el7-01"])
    assert host.file("/etc/centos-release").content_string.strip() == "CentOS Linux release 7.9.2009 (Core)"
    assert 'VERSION_ID="7"' in host.file("/etc/os-release").content_string
    assert host.check_output("uname -r") == "3.10.0-1160.el7.x86_64"
    assert host.check_output("readlink /proc/1/exe") == "/usr/lib/systemd/systemd"
    assert host.file("/sys/fs/cgroup/memory").is_directory
    assert "cgroup" in host.check_output("findmnt -no FSTYPE /sys/fs/cgroup/devices")


def test_el6_oldkernel_reports_the_6_4_kernel(mixed: Fleet) -> None:
    host = mixed.testinfra(mixed["el6-oldkernel-01"])
    assert host.check_output("uname -r") == "2.6.32-358.el6.x86_64"
    assert host.check_output("uname -v").startswith("#1 SMP")


def test_machine_identity_is_hidden(mixed: Fleet) -> None:
    host = mixed.testinfra(mixed["el6-01"])
    for path in ("/etc/debian_version", "/usr/bin/apt-get", "/usr/bin/dpkg", "/usr/local/bin/docker"):
        assert not host.file(path).exists, path
    assert not host.exists("docker"), "docker must come from an RPM, not from the machine"


def test_i686_host_is_32_bit_and_cannot_install_docker_io(mixed: Fleet) -> None:
    host = mixed.testinfra(mixed["el6-i686-01"])
    assert host.check_output("uname -m") == "i686"
    assert host.check_output("uname -r").endswith(".el6.i686")
    host.run_test("yum -y install epel-release")
    result = host.run("yum -y install docker-io")
    assert result.rc != 0
    assert "docker-io" in result.stdout + result.stderr
    assert host.run("rpm -q docker-io").rc != 0


def test_el6_docker_io_needs_epel_then_runs_under_service(mixed: Fleet) -> None:
    host = mixed.testinfra(mixed["el6-01"])
    before = host.run("yum -y install docker-io")
    assert before.rc != 0, "docker-io must not be installable before EPEL is enabled"
    assert "docker-io" in before.stdout + before.stderr
    host.run_test("yum -y install epel-release")
    host.run_test("yum -y install docker-io")
    assert host.package("docker-io").is_installed
    # docker-io's dependency on a newer device-mapper-libs pulls the update, as on CentOS 6.
    assert host.check_output("rpm -q --qf '%{VERSION}' device-mapper-libs") == "1.02.117"
    # The el6 host boots without cgroups: cgconfig mounts them.
    assert host.run("grep -c ' cgroup ' /proc/mounts").stdout.strip() == "0"
    host.run_test("service cgconfig start")
    assert host.file("/cgroup/devices").is_directory
    assert host.mount_point("/cgroup/devices").filesystem == "cgroup"
    host.run_test("echo 'other_args=\"--bridge=none --iptables=false\"' >> /etc/sysconfig/docker")
    started = host.run("service docker start")
    assert started.rc == 0 and "OK" in started.stdout, started.stdout + started.stderr
    info = host.run("docker info")
    assert info.rc == 0, info.stderr
    assert f"Name: {mixed['el6-01'].name}" in info.stdout
    assert "Server Version: 20.10.24" in info.stdout
    assert host.check_output("service docker status").startswith("docker (pid ")


def test_el6_chkconfig_docker_on_survives_a_restart(mixed: Fleet) -> None:
    name = mixed["el6-01"]
    host = mixed.testinfra(name)
    if not host.package("docker-io").is_installed:
        pytest.skip("needs test_el6_docker_io_needs_epel_then_runs_under_service to have installed docker-io")
    host.run_test("chkconfig docker on")
    assert "3:on" in host.check_output("chkconfig --list docker")
    mixed.lab.restart([name.name])
    host = mixed.testinfra(name)
    info = host.run("docker info")
    assert info.rc == 0, info.stderr
    assert host.mount_point("/cgroup/memory").exists, "docker's init script starts cgconfig"


def test_el6_docker_off_stays_off_after_a_restart(mixed: Fleet) -> None:
    name = mixed["el6-oldkernel-01"]
    host = mixed.testinfra(name)
    host.run_test("yum -y install epel-release && yum -y install docker-io")
    host.run_test("chkconfig docker off")
    mixed.lab.restart([name.name])
    host = mixed.testinfra(name)
    assert host.run("docker info").rc != 0
    assert host.run("service docker status").rc == 3


def test_el7_systemctl_enable_now_docker_survives_a_restart(mixed: Fleet) -> None:
    name = mixed["el7-01"]
    host = mixed.testinfra(name)
    host.run_test("yum -y install docker")
    host.run_test("echo \"OPTIONS='--bridge=none --iptables=false'\" > /etc/sysconfig/docker")
    # docker-storage-setup would name overlay2, which the host's own overlay root cannot carry.
    host.run_test("echo 'STORAGE_DRIVER=' >> /etc/sysconfig/docker-storage-setup")
    host.run_test("systemctl enable --now docker")
    assert host.service("docker").is_enabled
    assert "Server Version: 20.10.24" in host.check_output("docker info")
    mixed.lab.restart([name.name])
    host = mixed.testinfra(name)
    assert host.run("systemctl is-active docker").stdout.strip() == "active"
    assert f"Name: {name.name}" in host.check_output("docker info")


def test_el7_docker_ce_repository(make_fleet) -> None:
    fleet = make_fleet("ce", "el7+tmpfs:1")
    host = fleet.testinfra(fleet["el7-tmpfs-01"])
    host.run_test("cp /srv/lab-repo/docker-ce/linux/centos/docker-ce.repo /etc/yum.repos.d/")
    host.run_test("yum -y install docker-ce docker-ce-cli containerd.io")
    newest, _ = build.next_engine()  # the repository carries two docker-ce versions; yum takes the newest
    assert host.check_output("rpm -q --qf '%{EPOCH}:%{VERSION}' docker-ce") == f"3:{newest}"
    conflict = host.run("yum -y install docker")
    assert conflict.rc != 0, "docker (extras) conflicts with docker-ce"
    host.run_test('mkdir -p /etc/docker && echo \'{"bridge": "none", "iptables": false}\' > /etc/docker/daemon.json')
    host.run_test("systemctl enable containerd docker && systemctl start containerd && systemctl start docker")
    info = host.check_output("docker info")
    # A tmpfs store takes overlay2, unlike the host's own overlay root.
    assert "Storage Driver: overlay2" in info
    assert f"Server Version: {newest}" in info, "the newer package carries the newer engine"


@pytest.mark.parametrize("store, fstype", [("tmpfs", "tmpfs"), ("ext4", "ext4"), ("loop", "ext4")])
def test_docker_store_kinds(make_fleet, store: str, fstype: str) -> None:
    fleet = make_fleet("stores", "el7+tmpfs:1,el7+ext4:1,el7+loop:1")
    host = fleet.testinfra(fleet[f"el7-{store}-01"])
    assert host.check_output("findmnt -no FSTYPE /var/lib/docker") == fstype
    if store == "loop":
        assert host.check_output("findmnt -no SOURCE /var/lib/docker").startswith("/dev/loop")


def test_isolation_between_hosts_and_machine(mixed: Fleet) -> None:
    a, b = mixed.testinfra(mixed["el6-01"]), mixed.testinfra(mixed["el7-01"])
    marker = f"/etc/lab-isolation-{uuid.uuid4().hex}"
    a.run_test(f"echo a > {marker}")
    assert a.file(marker).exists
    assert not b.file(marker).exists
    assert not os.path.exists(marker)
    # Each host has its own process table: B cannot see A's sshd.
    assert b.run(f"pgrep -f 'ListenAddress={mixed['el6-01'].address}:'").rc != 0


def test_repository_mount_is_read_only(mixed: Fleet) -> None:
    host = mixed.testinfra(mixed["el6-01"])
    result = host.run("touch /srv/lab-repo/x")
    assert result.rc != 0 and "Read-only" in result.stderr


def test_inventory_lists_every_host_with_its_connection_vars(mixed: Fleet) -> None:
    sections: dict[str, list[str]] = {}
    for line in mixed.inventory.read_text().splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        elif line.strip() and not line.startswith("#"):
            current.append(line)
    assert set(sections["lab:children"]) == {"el6", "el7", "el6_i686", "el6_oldkernel"}
    host = mixed["el6-01"]
    assert (
        f"{host.name} ansible_host={host.address} lab_kind=el6 lab_store=none docker_storage_driver=vfs"
        in sections["el6"]
    )
    all_vars = dict(line.split("=", 1) for line in sections["all:vars"])
    assert all_vars["ansible_user"] == "root"
    assert Path(all_vars["ansible_ssh_private_key_file"]) == mixed.lab.key
    assert Path(all_vars["pyinstall_known_hosts_file"]) == mixed.lab.known_hosts


def test_known_hosts_is_enforced(mixed: Fleet, tmp_path: Path) -> None:
    """The lab's known_hosts is what makes strict checking pass; another host's key makes it fail."""
    a, b = mixed["el6-01"], mixed["el7-01"]
    base = ["ssh", "-i", str(mixed.lab.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    ok = subprocess.run(
        [*base, "-o", f"UserKnownHostsFile={mixed.lab.known_hosts}", f"root@{a.address}", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stderr
    wrong = tmp_path / "known_hosts"
    keytype, key = b.host_key.read_text().split()[:2]
    wrong.write_text(f"{a.address} {keytype} {key}\n")
    bad = subprocess.run(
        [*base, "-o", f"UserKnownHostsFile={wrong}", f"root@{a.address}", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 255
    assert "HOST IDENTIFICATION HAS CHANGED" in bad.stderr


def test_twenty_hosts_answer_ssh_in_parallel(make_fleet) -> None:
    fleet = make_fleet("twenty", "el6:10,el7:10")
    assert len({h.address for h in fleet.hosts}) == 20

    def hostname(h):
        with fleet.paramiko(h) as client:
            _, out, _ = client.exec_command("hostname && uname -r", timeout=30)
            return out.read().decode().split()

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(hostname, fleet.hosts))
    for h, (name, release) in zip(fleet.hosts, answers):
        assert name == h.name
        assert release.endswith(".el6.x86_64" if h.kind == "el6" else ".el7.x86_64")


def test_up_is_idempotent(make_fleet) -> None:
    fleet = make_fleet("mixed", MIXED)
    again = fleet.lab.up(MIXED, prefix="mixed-", inventory=fleet.inventory)
    assert [(h.name, h.address) for h in again] == [(h.name, h.address) for h in fleet.hosts]


@pytest.mark.uml
def test_down_leaves_nothing_behind(tmp_path_factory) -> None:
    require_lab()
    root = tmp_path_factory.mktemp("teardown")
    lab = Lab(root, subnet="127.0.78")
    try:
        hosts = lab.up("el6:1,el7+loop:1,el7+tmpfs:1,el7@uml:1", prefix="td-")
        fleet = Fleet(lab, hosts, root / "inventory.ini", "td-")
        el7 = fleet.testinfra(fleet["el7-loop-01"])
        el7.run_test("yum -y install docker && systemctl start docker")
        assert "Storage Driver" in el7.check_output("docker info")
        kinds = {"mounts", "processes", "loop devices", "cgroups", "network namespaces"}
        assert set(lab.leftovers()) == kinds
    finally:
        lab.down()
    assert lab.leftovers() == {}
    assert not os.path.ismount(root / "layers")
    lab.down(purge=True)
    assert not root.exists()


def test_two_labs_with_the_same_host_names_never_touch_each_other(mixed: Fleet, tmp_path_factory) -> None:
    """A second lab (its own root and subnet) with a host of the same name as the first lab's: stopping it
    leaves the first lab's host running (cgroups and every machine-wide name carry the lab's id)."""
    first = mixed["el6-01"]
    root = tmp_path_factory.mktemp("twin")
    subprocess.run(["cp", "-al", str(mixed.lab.repo), str(root / "repo")], check=True)  # the same RPMs
    other = Lab(root, subnet="127.0.79")
    try:
        (twin,) = other.up("el6:1", prefix="mixed-")
        assert twin.name == first.name and twin.address != first.address
        assert hostlib.cgroup_dirs(twin) != hostlib.cgroup_dirs(first)
        other.stop([twin.name])
        assert hostlib.running_pid(first), "stopping the other lab's host stopped this one"
        assert mixed.testinfra(first).check_output("hostname") == first.name
    finally:
        other.down(purge=True)
    assert hostlib.running_pid(first) and mixed.testinfra(first).run("true").rc == 0


def _machine_network() -> tuple[list[str], str]:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    rules = "".join(
        subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True, check=True).stdout
        for table in ("filter", "nat")
    )
    return sorted(line.split(":")[1].strip() for line in links.splitlines()), rules


def test_a_lab_dockerd_on_docker_defaults_leaves_the_machine_network_alone(make_fleet) -> None:
    fleet = make_fleet("netns", "el7+tmpfs:1")
    before = _machine_network()
    host = fleet.testinfra(fleet["el7-tmpfs-01"])
    host.run_test("yum -y install docker && echo '{}' > /etc/docker/daemon.json && systemctl start docker")
    try:
        wait_for(host, "docker info", "dockerd never answered", 60)
        inside = host.check_output("nsenter -t $(cat /var/run/docker.pid) -n ip -o link")
        assert "docker0" in inside, "Docker's defaults took effect: a bridge, in dockerd's own namespace"
        assert _machine_network() == before, "the machine has a new interface or iptables rule"
    finally:
        host.run_test("systemctl stop docker")
