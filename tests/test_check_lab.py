"""`pyinstall check` on the simulated fleet, over real SSH: verdicts, codes, host keys, become, costs."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab.testing import Fleet, pyinstall, pyinstall_json

pytestmark = pytest.mark.lab
# What every lab host needs to pass: the storage driver it can run and the lab's repositories.
LAB_VARS = "docker_storage_driver=vfs yum_mirror=file:///srv/lab-repo yum_gpgcheck=false docker_version=20.10.24"


def check_json(*args: str, home: Path) -> tuple[int, dict]:
    return pyinstall_json("check", *args, home=home)


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("pre", "el6:1,el6-noisy:1,el7:1,el7-noisy:1,el6-i686:1,el6-oldkernel:1,el6+tmpfs:1,el7+tmpfs:1")


def _inventory_with(fleet: Fleet, tmp_path: Path, known_hosts: Path | None = None, **host_vars: dict) -> Path:
    """A copy of the fleet's inventory (optionally with another known_hosts) and host_vars/ files."""
    text = fleet.inventory.read_text()
    if known_hosts:
        text = text.replace(str(fleet.lab.known_hosts), str(known_hosts))
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(text)
    for name, variables in host_vars.items():
        (tmp_path / "host_vars").mkdir(exist_ok=True)
        (tmp_path / "host_vars" / f"{fleet.prefix}{name}.yml").write_text(json.dumps(variables))
    return inventory


def test_fleet_verdicts_codes_and_exit_status(fleet: Fleet, tmp_path: Path) -> None:
    stopped, unknown = fleet["el6-tmpfs-01"], fleet["el7-tmpfs-01"]
    fleet.lab.stop([stopped.name])
    try:
        known = tmp_path / "known_hosts"
        known.write_text(
            "".join(
                line
                for line in fleet.lab.known_hosts.read_text().splitlines(True)
                if not line.startswith(unknown.address + " ")
            )
        )
        inventory = _inventory_with(fleet, tmp_path, known_hosts=known)
        rc, hosts = check_json("-i", str(inventory), home=tmp_path)
    finally:
        fleet.lab.start([stopped.name])
    status = {name.removeprefix(fleet.prefix): h["status"] for name, h in hosts.items()}
    assert status == {
        "el6-01": "ok", "el6-noisy-01": "ok", "el7-01": "ok", "el7-noisy-01": "ok",
        "el6-i686-01": "failed", "el6-oldkernel-01": "failed",
        "el6-tmpfs-01": "unreachable", "el7-tmpfs-01": "unreachable",
    }  # fmt: skip
    assert rc == 4, "unreachable hosts take precedence over failed ones"

    def errors(name: str) -> set[str]:
        return {f["code"] for f in hosts[fleet.prefix + name]["findings"] if f["level"] == "error"}

    assert errors("el6-i686-01") == {"ARCH"}
    assert errors("el6-oldkernel-01") == {"KERNEL"}
    assert hosts[stopped.name]["error"]["type"] == "Unreachable"
    assert "Connection refused" in hosts[stopped.name]["error"]["message"]
    refused = hosts[unknown.name]["error"]
    fingerprint = subprocess.run(["ssh-keygen", "-lf", str(unknown.host_key)], capture_output=True, text=True).stdout
    assert refused["type"] == "HostKeyUnknown"
    assert fingerprint.split()[1] in refused["message"]  # SHA256:...
    assert "--accept-new-host-keys" in refused["hint"]
    assert known.read_text().count(unknown.address) == 0, "a refused key is never recorded"
    for name, h in hosts.items():  # the facts, then (a host that passes) the versions its repositories offer,
        # unless a host with the same yum configuration, release and repositories answered for it
        shared = h["status"] == "ok" and h["facts"]["available_from"]
        assert h["commands"] == {"unreachable": 0, "failed": 1, "ok": 1 if shared else 2}[h["status"]], name
    asked = {n.removeprefix(fleet.prefix) for n, h in hosts.items() if h["commands"] == 2}
    assert len(asked & {"el6-01", "el6-noisy-01"}) == 1 and len(asked & {"el7-01", "el7-noisy-01"}) == 1, asked
    facts = hosts[fleet.prefix + "el6-01"]["facts"]
    assert facts["release_text"] == "CentOS release 6.10 (Final)"
    assert facts["kernel_release"] == "2.6.32-754.35.1.el6.x86_64"
    assert hosts[fleet.prefix + "el7-01"]["facts"]["service_manager"] == "systemd"


def test_a_host_whose_yum_differs_asks_its_own(fleet: Fleet, tmp_path: Path) -> None:
    """The version query is shared only between hosts whose yum would answer alike: an exclude in one
    host's yum.conf makes it ask its own yum, and its answer lacks what the others are offered."""
    own = fleet.testinfra(fleet["el7-noisy-01"])
    conf = own.file("/etc/yum.conf").content_string
    assert own.run("echo 'exclude=docker-ce-28*' >> /etc/yum.conf").rc == 0
    try:
        rc, hosts = check_json("-i", str(fleet.inventory), "--limit", "el7:!*tmpfs*", home=tmp_path)
    finally:
        own.run(f"printf %s {shlex.quote(conf)} > /etc/yum.conf")
    assert rc == 0
    excluded, other = hosts[fleet["el7-noisy-01"].name], hosts[fleet["el7-01"].name]
    assert (excluded["commands"], other["commands"]) == (2, 2)
    assert excluded["facts"]["available_from"] == other["facts"]["available_from"] == ""
    newer = [v for v in other["facts"]["available"] if not v.startswith("3:20.10.")]
    assert newer and not set(newer) & set(excluded["facts"]["available"]), (other, excluded)


def test_all_pass_exits_zero_and_prints_a_table(fleet: Fleet, tmp_path: Path) -> None:
    proc = pyinstall("check", str(fleet.inventory), "--limit", "el6:el7:!*tmpfs*", home=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 host(s): 4 passed, 0 failed, 0 unreachable" in proc.stdout
    assert fleet["el7-noisy-01"].name in proc.stdout and "CentOS Linux release 7.9.2009 (Core)" in proc.stdout


def test_failed_checks_exit_two_and_can_be_ignored(fleet: Fleet, tmp_path: Path) -> None:
    limit = ["--limit", "el6_oldkernel"]
    proc = pyinstall("check", "-i", str(fleet.inventory), *limit, home=tmp_path)
    assert proc.returncode == 2
    assert "KERNEL: kernel 2.6.32-358.el6.x86_64 is older than 2.6.32-431" in proc.stdout
    rc, hosts = check_json("-i", str(fleet.inventory), *limit, "--ignore-preflight-errors", "kernel", home=tmp_path)
    assert rc == 0
    (finding,) = [f for f in hosts[fleet["el6-oldkernel-01"].name]["findings"] if f["code"] == "KERNEL"]
    assert finding["ignored"] and finding["level"] == "warning"


def test_asking_for_devicemapper_or_overlay2_where_impossible(fleet: Fleet, tmp_path: Path) -> None:
    inventory = _inventory_with(
        fleet, tmp_path, **{"el6-01": {"docker_storage_driver": "devicemapper"},
                           "el6-noisy-01": {"docker_storage_driver": "overlay2"}}
    )  # fmt: skip
    rc, hosts = check_json("-i", str(inventory), "--limit", "el6", home=tmp_path)
    assert rc == 2
    codes = {name: {f["code"] for f in h["findings"] if f["level"] == "error"} for name, h in hosts.items()}
    assert "DEVICE_MAPPER" in codes[fleet["el6-01"].name]  # this kernel has no device-mapper
    assert "OVERLAY_EL6" in codes[fleet["el6-noisy-01"].name]


def test_accept_new_records_keys_and_a_changed_key_is_refused(fleet: Fleet, tmp_path: Path) -> None:
    known = tmp_path / "accepted_known_hosts"
    known.write_text("")
    inventory = _inventory_with(fleet, tmp_path, known_hosts=known)
    limit = ["--limit", "el7"]
    rc, hosts = check_json("-i", str(inventory), *limit, "--accept-new-host-keys", home=tmp_path)
    assert rc == 0, hosts
    recorded = known.read_text()
    for name in ("el7-01", "el7-noisy-01"):
        assert fleet[name].host_key.read_text().split()[1] in recorded
    rc, _ = check_json("-i", str(inventory), *limit, home=tmp_path)
    assert rc == 0, "accepted keys are used on the next run"

    # Host B's key written under host A's address: A now presents a key that differs from the record.
    a, b = fleet["el7-01"], fleet["el7-noisy-01"]
    keytype, key = b.host_key.read_text().split()[:2]
    known.write_text(f"{a.address} {keytype} {key}\n")
    rc, hosts = check_json("-i", str(inventory), "--limit", a.name, "--accept-new-host-keys", home=tmp_path)
    assert rc == 4
    error = hosts[a.name]["error"]
    assert error["type"] == "HostKeyChanged" and "HOST KEY CHANGED" in error["message"]
    assert known.read_text() == f"{a.address} {keytype} {key}\n", "a changed key is never replaced"


@pytest.mark.parametrize("where", ["env", "ssh_config"])
def test_host_key_checking_off_means_accept_new_wherever_it_is_said(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    known = tmp_path / "accepted_known_hosts"
    known.write_text("")
    inventory = _inventory_with(fleet, tmp_path, known_hosts=known)
    host = fleet["el7-01"]
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host *\n  StrictHostKeyChecking yes\n")
    rc, hosts = check_json("-i", str(inventory), "--limit", host.name, home=tmp_path)
    assert rc == 4 and hosts[host.name]["error"]["type"] == "HostKeyUnknown", "yes: an unknown key is refused"
    if where == "env":
        monkeypatch.setenv("PYINSTALL_HOST_KEY_CHECKING", "false")
    else:
        (tmp_path / ".ssh" / "config").write_text("Host *\n  StrictHostKeyChecking no\n")
    rc, hosts = check_json("-i", str(inventory), "--limit", host.name, home=tmp_path)
    assert rc == 0, hosts
    keytype, key = host.host_key.read_text().split()[:2]
    assert key in known.read_text(), "recorded, as accept-new does"
    other = fleet["el7-noisy-01"].host_key.read_text().split()[1]
    known.write_text(f"{host.address} {keytype} {other}\n")
    rc, hosts = check_json("-i", str(inventory), "--limit", host.name, home=tmp_path)
    assert rc == 4 and hosts[host.name]["error"]["type"] == "HostKeyChanged", "never a changed key, whoever says off"


def test_ssh_config_names_the_known_hosts_files(fleet: Fleet, tmp_path: Path) -> None:
    """UserKnownHostsFile and GlobalKnownHostsFile in ~/.ssh/config are read as OpenSSH reads them, and an
    unknown key accepted under StrictHostKeyChecking accept-new is recorded in the first UserKnownHostsFile."""
    host = fleet["el7-01"]
    text = re.sub(r"^pyinstall_known_hosts_file=.*$", "", fleet.inventory.read_text(), flags=re.M)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(text)
    (tmp_path / ".ssh").mkdir()
    config = tmp_path / ".ssh" / "config"
    rc, hosts = check_json("-i", str(inventory), "--limit", host.name, home=tmp_path)
    assert rc == 4 and hosts[host.name]["error"]["type"] == "HostKeyUnknown", "no file vouches for it yet"
    team = tmp_path / "team_known_hosts"
    team.write_text(fleet.lab.known_hosts.read_text())
    for key in ("UserKnownHostsFile", "GlobalKnownHostsFile"):
        config.write_text(f"Host *\n  {key} {tmp_path / 'empty'} {team}\n")
        rc, hosts = check_json("-i", str(inventory), "--limit", host.name, home=tmp_path)
        assert rc == 0, (key, hosts)
    mine = tmp_path / "mine_known_hosts"
    config.write_text(f"Host *\n  UserKnownHostsFile {mine}\n  StrictHostKeyChecking accept-new\n")
    rc, hosts = check_json("-i", str(inventory), "--limit", host.name, home=tmp_path)
    assert rc == 0, hosts
    assert host.host_key.read_text().split()[1] in mine.read_text(), "recorded in the first UserKnownHostsFile"
    config.write_text(f"Host *\n  UserKnownHostsFile {mine}\n  StrictHostKeyChecking no\n")
    proc = pyinstall("check", "-i", str(inventory), "--limit", host.name, home=tmp_path)
    assert proc.returncode == 0 and "StrictHostKeyChecking no for" in proc.stderr, proc.stderr


def test_become_through_sudo_with_requiretty_and_a_password(fleet: Fleet, tmp_path: Path) -> None:
    host = fleet["el7-noisy-01"]
    password = "pw-canary-7f3a9c"
    root = fleet.testinfra(host)
    root.run_test(
        "id deploy || useradd -m deploy; echo 'deploy:%s' | chpasswd; "
        "printf 'Defaults requiretty\\ndeploy ALL=(ALL) ALL\\n' > /etc/sudoers.d/deploy; "
        "chmod 440 /etc/sudoers.d/deploy; "
        "install -d -m 700 -o deploy -g deploy ~deploy/.ssh; "
        "install -m 600 -o deploy -g deploy /root/.ssh/authorized_keys ~deploy/.ssh/authorized_keys",
        password,
    )
    text = fleet.inventory.read_text().replace("ansible_user=root", "ansible_user=deploy\nansible_become=true")
    inventory = tmp_path / "become.ini"
    inventory.write_text(text + f"ansible_become_password={password}\n")
    rc, hosts = check_json("-i", str(inventory), "--limit", host.name, home=tmp_path)
    assert rc == 0, hosts
    user = hosts[host.name]["facts"]["user"]
    assert user["uid"] == 0 and user["login"] == "deploy" and user["requiretty"]
    assert "REQUIRETTY" in {f["code"] for f in hosts[host.name]["findings"]}

    inventory.write_text(text + "ansible_become_password=not-the-password\n")
    rc, hosts = check_json("-i", str(inventory), "--limit", host.name, home=tmp_path)
    assert rc == 2 and hosts[host.name]["error"]["type"] == "BecomeError"

    # The password never shows: not in any output, not in the host's process table or logs.
    inventory.write_text(text + f"ansible_become_password={password}\n")
    proc = pyinstall("check", "-i", str(inventory), "--limit", host.name, home=tmp_path)
    assert password not in proc.stdout + proc.stderr
    leaked = root.run(f"grep -rl {password} /var/log /tmp /root 2>/dev/null")
    assert leaked.stdout == ""


def test_bad_inventory_is_a_usage_error_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ini"
    bad.write_text("[web]\nweb[01:5].example.com\n")
    proc = pyinstall("check", "-i", str(bad), home=tmp_path)
    assert proc.returncode == 5
    assert f"{bad}:2: host range [01:5]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_dns_name(tmp_path: Path) -> None:
    inventory = tmp_path / "dns.ini"
    inventory.write_text("nosuchhost.invalid\n")
    proc = pyinstall("check", "-i", str(inventory), "--json", home=tmp_path)
    assert proc.returncode == 4
    error = json.loads(proc.stdout)["hosts"]["nosuchhost.invalid"]["error"]
    assert error["type"] == "Unreachable" and "cannot resolve" in error["message"]


def test_facts_command(fleet: Fleet, tmp_path: Path) -> None:
    limit = f"{fleet['el7-01'].name},{fleet['el6-01'].name}"
    proc = pyinstall("facts", "-i", str(fleet.inventory), "--limit", limit, "--json", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    hosts = json.loads(proc.stdout)["hosts"]
    el7 = hosts[fleet["el7-01"].name]
    assert el7["distro_id"] == "centos" and el7["distro_version"] == "7.9.2009"
    assert el7["cgroup_mounts"]["memory"] == "/sys/fs/cgroup/memory"
    assert hosts[fleet["el6-01"].name]["service_manager"] == "sysv"
    table = pyinstall("facts", str(fleet.inventory), "--limit", fleet["el7-01"].name, home=tmp_path)
    assert table.returncode == 0 and "3.10.0-1160.el7.x86_64" in table.stdout


def test_ssh_config_is_honoured(fleet: Fleet, tmp_path: Path) -> None:
    """A host named only by an alias: ~/.ssh/config gives its address, user and key."""
    host = fleet["el7-01"]
    (tmp_path / ".ssh").mkdir(mode=0o700)
    (tmp_path / ".ssh/config").write_text(
        f"Host box-alias\n  HostName {host.address}\n  User root\n  IdentityFile {fleet.lab.key}\n"
    )
    inventory = tmp_path / "alias.ini"
    inventory.write_text(f"box-alias {LAB_VARS} pyinstall_known_hosts_file={fleet.lab.known_hosts}\n")
    rc, hosts = check_json("-i", str(inventory), home=tmp_path)
    assert rc == 0, hosts
    assert hosts["box-alias"]["facts"]["hostname"] == host.name


def test_wrong_key_is_an_authentication_failure(fleet: Fleet, tmp_path: Path) -> None:
    other_key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    limit = fleet["el7-01"].name
    rc, hosts = check_json("-i", str(fleet.inventory), "--limit", limit, "--private-key", str(other_key), home=tmp_path)
    assert rc == 4
    error = hosts[fleet["el7-01"].name]["error"]
    assert error["type"] == "AuthenticationFailed" and "root@" in error["message"]


def test_a_silent_server_times_out(tmp_path: Path) -> None:
    """A port that accepts TCP but never speaks SSH: the connect timeout ends the wait."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        inventory = tmp_path / "silent.ini"
        inventory.write_text(f"silent ansible_host=127.0.0.1 ansible_port={port}\n")
        start = time.monotonic()
        proc = pyinstall("check", "--json", "-i", str(inventory), "-T", "1", home=tmp_path)
        elapsed = time.monotonic() - start
    rc, hosts = proc.returncode, json.loads(proc.stdout)["hosts"]
    assert rc == 4
    assert hosts["silent"]["error"]["type"] == "Unreachable"
    assert "timed out" in hosts["silent"]["error"]["message"]
    assert elapsed < 15
    assert proc.stderr == "", "paramiko's own log lines stay quiet"


def test_password_authentication(fleet: Fleet, tmp_path: Path) -> None:
    """ansible_password logs in where sshd takes passwords; the password never shows."""
    host = fleet["el6-noisy-01"]
    password = "pw-ssh-canary-41d2"
    root = fleet.testinfra(host)
    root.run_test("echo 'root:%s' | chpasswd", password)
    root.run_test(
        "/usr/sbin/sshd -o ListenAddress=%s:2200 -o PasswordAuthentication=yes -o PubkeyAuthentication=no "
        "-o PidFile=/run/sshd-password.pid",
        host.address,
    )
    try:
        keytype, key = host.host_key.read_text().split()[:2]
        known = tmp_path / "known_hosts"
        known.write_text(f"[{host.address}]:2200 {keytype} {key}\n")
        inventory = tmp_path / "password.ini"
        line = f"{host.name} ansible_host={host.address} ansible_port=2200 ansible_user=root {LAB_VARS}"
        inventory.write_text(f"{line} ansible_password={password} pyinstall_known_hosts_file={known}\n")
        proc = pyinstall("check", "-i", str(inventory), home=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert password not in proc.stdout + proc.stderr
        inventory.write_text(f"{line} ansible_password=wrong pyinstall_known_hosts_file={known}\n")
        rc, hosts = check_json("-i", str(inventory), home=tmp_path)
        assert rc == 4 and hosts[host.name]["error"]["type"] == "AuthenticationFailed"
    finally:
        root.run("kill $(cat /run/sshd-password.pid)")
