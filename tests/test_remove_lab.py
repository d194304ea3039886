"""`pyinstall remove` on provisioned lab hosts: nothing of pyinstall's is left behind (packages, repository
files, configuration; backups kept), a second run changes nothing, Docker's data goes only when asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lab.testing import Fleet, pyinstall, pyinstall_json

pytestmark = pytest.mark.lab

LEFT = (
    "rpm -qa 'docker*' containerd.io libcgroup | sort; ls -d /etc/yum.repos.d/pyinstall-*.repo /etc/docker/daemon.json "
    "/etc/sysconfig/docker /var/lib/pyinstall /var/cache/pyinstall 2>/dev/null; true"
)


def test_remove_leaves_nothing_of_pyinstalls_behind_and_converges(make_fleet, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet("rm", "el6+tmpfs:1,el7+tmpfs:1")
    inventory = str(fleet.inventory)
    rc, _ = pyinstall_json("provision", "-i", inventory, home=tmp_path)
    assert rc == 0
    rc, hosts = pyinstall_json("remove", "-i", inventory, "--check", home=tmp_path)
    assert rc == 0 and all(h["status"] == "would change" for h in hosts.values())
    assert all(fleet.testinfra(h).check_output(LEFT) for h in fleet.hosts), "--check changed nothing"

    rc, hosts = pyinstall_json("remove", "-i", inventory, home=tmp_path)
    assert rc == 0, {
        n: (h["error"], [t["msg"] for t in h["tasks"] if t["status"] == "failed"]) for n, h in hosts.items()
    }
    for h in fleet.hosts:
        root = fleet.testinfra(h)
        assert root.check_output(LEFT) == "", h.name
        assert root.run("ls /etc/docker/daemon.json.pyinstall-backup.* /etc/sysconfig/docker.pyinstall-backup.* "
                        "2>/dev/null").stdout, "the configuration is kept as a backup"  # fmt: skip
        assert root.file("/var/lib/docker").is_directory, "the data stays unless --purge-data"
        names = [t["name"] for t in hosts[h.name]["tasks"]]
        assert names[:2] == ["stop docker", "disable docker"] and names[-2].startswith("remove docker"), names
        assert names[-1].startswith("remove pyinstall's own state"), names

    rc, again = pyinstall_json("remove", "-i", inventory, home=tmp_path)
    assert rc == 0 and all(h["status"] == "ok" and h["tasks"] == [] for h in again.values()), again
    rc, info = pyinstall_json("info", "-i", inventory, home=tmp_path)
    assert rc == 2 and all(h["status"] == "not installed" for h in info.values())

    refused = pyinstall("remove", "-i", inventory, "--purge-data", home=tmp_path)
    assert refused.returncode == 5 and "no terminal to confirm it on" in refused.stderr
    rc, purged = pyinstall_json("remove", "-i", inventory, "--purge-data", "--yes", home=tmp_path)
    assert rc == 0 and all([t["name"] for t in h["tasks"]] == ["remove Docker's data in /var/lib/docker"]
                           for h in purged.values()), purged  # fmt: skip
    assert all(fleet.testinfra(h).check_output("ls -A /var/lib/docker") == "" for h in fleet.hosts)
    rc, again = pyinstall_json("remove", "-i", inventory, "--purge-data", "--yes", home=tmp_path)
    assert rc == 0 and all(h["tasks"] == [] for h in again.values())


def test_purge_data_through_a_symlinked_data_root_changes_nothing_and_says_why(make_fleet, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet("rmlink", "el7:1")
    host = fleet["el7-01"]
    root = fleet.testinfra(host)
    root.run_test("rm -rf /var/lib/docker && mkdir -p /srv/docker-data/volumes && "
                  "echo kept > /srv/docker-data/volumes/v1 && ln -s /srv/docker-data /var/lib/docker")  # fmt: skip
    rc, hosts = pyinstall_json("remove", "-i", str(fleet.inventory), "--purge-data", "--yes", home=tmp_path)
    assert rc == 2 and hosts[host.name]["status"] == "failed", hosts
    assert hosts[host.name]["error"].startswith(
        "--purge-data: /var/lib/docker is a symbolic link to /srv/docker-data: pyinstall deletes Docker's data only"
    ), hosts[host.name]
    assert hosts[host.name]["tasks"] == []
    assert root.check_output("cat /srv/docker-data/volumes/v1") == "kept"
