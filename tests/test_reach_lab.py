"""Reaching hosts the way Ansible shops do: through a jump host (ProxyCommand in ansible_ssh_common_args, and
ProxyJump), and becoming root with su. The target's name resolves only on the jump host, so a connection
that went around it fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.lab.testing import Fleet, pyinstall, pyinstall_json

pytestmark = pytest.mark.lab

HIDDEN = "behind-bastion"  # in the jump host's /etc/hosts only


@pytest.fixture(scope="module")
def reach(make_fleet) -> Fleet:
    fleet: Fleet = make_fleet("reach", "el6:1,el7+tmpfs:1")
    jump, target = fleet["el6-01"], fleet["el7-tmpfs-01"]
    fleet.testinfra(jump).run_test(f"echo '{target.address} {HIDDEN}' >> /etc/hosts")
    return fleet


def _behind(fleet: Fleet, tmp_path: Path, args: str) -> Path:
    """The fleet's inventory with the target named by the hidden name, reached with ``args``."""
    target = fleet["el7-tmpfs-01"]
    known = tmp_path / "known_hosts"
    keys = [line.split(None, 1)[1] for line in fleet.lab.known_hosts.read_text().splitlines()
            if line.split(None, 1)[0] in (target.address, f"[{target.address}]:{target.port}")]  # fmt: skip
    name = HIDDEN if target.port == 22 else f"[{HIDDEN}]:{target.port}"
    known.write_text(fleet.lab.known_hosts.read_text() + "".join(f"{name} {key}\n" for key in keys))
    inventory = tmp_path / "behind.ini"
    text = fleet.inventory.read_text().replace(f"ansible_host={target.address}", f"ansible_host={HIDDEN}")
    text = re.sub(r"^pyinstall_known_hosts_file=.*$", f"pyinstall_known_hosts_file={known}", text, flags=re.M)
    inventory.write_text(text + (f"ansible_ssh_common_args={args}\n" if args else ""))
    return inventory


def test_a_host_behind_a_proxycommand_jump_host_is_provisioned(reach: Fleet, tmp_path: Path) -> None:
    jump, target = reach["el6-01"], reach["el7-tmpfs-01"]
    limit = ("--limit", target.name)
    direct = _behind(reach, tmp_path, "")
    rc, hosts = pyinstall_json("check", "-i", str(direct), *limit, home=tmp_path)
    assert rc == 4 and "cannot resolve" in hosts[target.name]["error"]["message"], "no way around the jump host"
    log = jump.dir / "upper/var/log/sshd.log"
    before = log.read_text().count("Accepted publickey for root")
    ssh = f"ssh -i {reach.lab.key} -o UserKnownHostsFile={reach.lab.known_hosts} -o StrictHostKeyChecking=yes"
    proxy = f"\"-o ProxyCommand='{ssh} -o BatchMode=yes -p {jump.port} -W %h:%p root@{jump.address}'\""
    inventory = _behind(reach, tmp_path, proxy)
    proc = pyinstall("provision", "-i", str(inventory), *limit, home=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rc, hosts = pyinstall_json("info", "-i", str(inventory), *limit, home=tmp_path)
    assert rc == 0 and hosts[target.name]["status"] == "ok", hosts
    hops = log.read_text().count("Accepted publickey for root") - before
    assert hops >= 2, "the jump host's sshd let the provision and the info run through"


def test_proxyjump_verifies_the_jump_host_s_key(reach: Fleet, tmp_path: Path) -> None:
    jump, target = reach["el6-01"], reach["el7-tmpfs-01"]
    limit = ("--limit", target.name)
    inventory = _behind(reach, tmp_path, f"'-J root@{jump.address}:{jump.port}'")
    rc, hosts = pyinstall_json("check", "-i", str(inventory), *limit, home=tmp_path)
    assert rc == 0, hosts
    # The same hop from ~/.ssh/config, as OpenSSH (and Ansible's ssh) would take it.
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text(f"Host {HIDDEN}\n  ProxyJump root@{jump.address}:{jump.port}\n")
    rc, hosts = pyinstall_json("check", "-i", str(_behind(reach, tmp_path, "")), *limit, home=tmp_path)
    assert rc == 0, hosts
    (tmp_path / ".ssh" / "config").unlink()
    inventory = _behind(reach, tmp_path, f"'-J root@{jump.address}:{jump.port}'")
    # The jump host's key is checked like any other: unknown to the known_hosts given, it is refused.
    known = Path(str(inventory.read_text()).split("pyinstall_known_hosts_file=")[1].split("\n")[0])
    known.write_text("".join(line + "\n" for line in known.read_text().splitlines() if jump.address not in line))
    rc, hosts = pyinstall_json("check", "-i", str(inventory), *limit, home=tmp_path)
    assert rc == 4 and hosts[target.name]["error"]["type"] == "HostKeyUnknown", hosts
    assert jump.address in hosts[target.name]["error"]["message"]


def test_become_with_su_and_root_s_password(reach: Fleet, tmp_path: Path) -> None:
    target = reach["el7-tmpfs-01"]
    password = "root-pw-su-5d"
    reach.testinfra(target).run_test(
        "id deploy || useradd -m deploy; echo 'deploy:deploy-pw-1' | chpasswd; echo 'root:%s' | chpasswd; "
        "install -d -m 700 -o deploy -g deploy ~deploy/.ssh; "
        "install -m 600 -o deploy -g deploy /root/.ssh/authorized_keys ~deploy/.ssh/authorized_keys",
        password,
    )
    text = reach.inventory.read_text().replace("ansible_user=root", "ansible_user=deploy\nansible_become=true\n"
                                               "ansible_become_method=su")  # fmt: skip
    inventory = tmp_path / "su.ini"
    inventory.write_text(text + f"ansible_become_password={password}\n")
    proc = pyinstall("facts", "-i", str(inventory), "--limit", target.name, "--json", "-vv", home=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '"uid": 0' in proc.stdout and password not in proc.stdout + proc.stderr
    inventory.write_text(text + "ansible_become_password=not-it\n")
    _, hosts = pyinstall_json("facts", "-i", str(inventory), "--limit", target.name, home=tmp_path)
    assert "su did not run the command as 'root'" in hosts[target.name]["error"], hosts
