"""Bad requests on real hosts: every one is refused before anything on a host changes (packages, files,
the daemon compared before and after), `check` and `provision` refuse alike, the user's own daemon options
are reported, and a configuration the daemon refuses on a fresh host leaves it stopped, not insecure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lab.testing import Fleet, pyinstall, pyinstall_json

pytestmark = pytest.mark.lab

STATE = (
    "rpm -qa | sort; for f in /etc/docker/* /etc/sysconfig/docker /etc/yum.repos.d/*; do "
    '[ -f "$f" ] && md5sum "$f"; done; ls -a /etc/docker /etc/yum.repos.d 2>&1; '
    "pgrep -x dockerd >/dev/null && echo daemon running || echo daemon stopped"
)
OPTIONS = "docker_daemon_options={'bridge': 'none', 'iptables': False, 'icc': None}"


@pytest.fixture(scope="module")
def fleet(make_fleet, tmp_path_factory) -> Fleet:
    """One el6 and one el7 host on their own overlayfs root (vfs), provisioned once."""
    fleet = make_fleet("ask", "el6:1,el7:1")
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), home=tmp_path_factory.mktemp("home"))
    assert rc == 0, hosts
    return fleet


def state(fleet: Fleet) -> dict[str, str]:
    return {h.name: fleet.testinfra(h).check_output(STATE) for h in fleet.hosts}


def edited(fleet: Fleet, path: Path, old: str, new: str) -> Path:
    text = fleet.inventory.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


BAD = [
    # (what the inventory says instead, exit status, what the operator reads)
    ("docker_version=24.0.7", 2, "VERSION_UNAVAILABLE: docker-"),
    ("docker_version=19.03.15", 2, "DOWNGRADE: docker-"),
    ("docker_version=abc", 5, "docker_version (host "),
    (OPTIONS.replace("}", ", 'log-levle': 'warn'}"), 5, "unknown daemon option 'log-levle': did you mean log-level?"),
    (OPTIONS.replace("}", ", 'log-level': 'loud'}"), 5, "log-level must be one of debug, info, warn, error, fatal"),
    (OPTIONS.replace("}", ", 'x --host=tcp://0.0.0.0:2375': 1}"), 5, "unknown daemon option 'x --host=tcp"),
    (OPTIONS.replace("}", ", 'hosts': ['tcp://0.0.0.0:2375']}"), 5, "would expose the Docker API without TLS"),
    ("yum_repos={'epel': {'name': 'x\\n[evil]\\nbaseurl=http://192.0.2.1/\\ngpgcheck=0'}}", 5, "yum_repos (host "),
    ("yum_repos={'../../tmp/x': {'baseurl': 'http://192.0.2.1/'}}", 5, "is not a repository pyinstall configures"),
    ("yum_repos={'epel': {'sslverify': 'maybe'}}", 5, "epel.sslverify: 'maybe' is not a boolean"),
    ("yum_repos={'epel': 'http://192.0.2.1/'}", 5, "is not a mapping of yum fields"),
    ("yum_lock_timeout=soon", 5, "yum_lock_timeout (host "),
    ("docker_storage_driver=overlay2", 2, "OVERLAY_BACKING"),
]


@pytest.mark.parametrize("line, status, said", BAD, ids=[b[2][:30] for b in BAD])
def test_a_bad_request_changes_nothing_and_check_says_it_first(
    fleet: Fleet, tmp_path: Path, line: str, status: int, said: str
) -> None:
    anchor = OPTIONS if line.startswith("docker_daemon_options") else "[all:vars]"
    replacement = line if anchor == OPTIONS else f"[all:vars]\n{line}"
    if line.startswith("docker_version"):
        anchor, replacement = "docker_version=20.10.24", line
    if line.startswith("docker_storage_driver"):  # the el7 host, whose /var/lib/docker sits on overlayfs
        anchor, replacement = "lab_store=none docker_storage_driver=vfs\n\n[lab", f"lab_store=none {line}\n\n[lab"
    inventory = edited(fleet, tmp_path / "bad.ini", anchor, replacement)
    before = state(fleet)
    check = pyinstall("check", "-i", str(inventory), home=tmp_path)
    run = pyinstall("provision", "-i", str(inventory), home=tmp_path)
    assert (check.returncode, run.returncode) == (status, status), (check.stdout + check.stderr)[-2000:]
    assert said in check.stdout + check.stderr and said in run.stdout + run.stderr, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert state(fleet) == before, "nothing on any host changed"


def test_the_users_own_options_are_reported_and_kept_in_a_backup(fleet: Fleet, tmp_path: Path) -> None:
    host = fleet.testinfra(fleet["el7-01"])
    original = json.loads(host.file("/etc/docker/daemon.json").content_string)
    mine = {**original, "registry-mirrors": ["https://mirror.example.com"], "insecure-registries": ["10.0.0.5:5000"]}
    host.run_test(f"printf '%s' '{json.dumps(mine)}' > /etc/docker/daemon.json")
    try:
        proc = pyinstall("check", "-i", str(fleet.inventory), home=tmp_path)
        assert proc.returncode == 0, proc.stdout
        assert "UNMANAGED_OPTIONS: /etc/docker/daemon.json sets insecure-registries, registry-mirrors" in proc.stdout
        assert "add them to docker_daemon_options to keep them" in proc.stdout
        rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", fleet["el7-01"].name,
                                   home=tmp_path)  # fmt: skip
        assert rc == 0, hosts
        found = {f["code"] for f in hosts[fleet["el7-01"].name]["findings"]}
        assert "UNMANAGED_OPTIONS" in found
        backups = host.check_output("ls /etc/docker/daemon.json.pyinstall-backup.*").split()
        assert json.loads(host.file(backups[-1]).content_string) == mine, "the user's file is kept"
    finally:
        host.run("systemctl restart docker")


def test_a_refused_first_configuration_leaves_a_fresh_host_stopped_and_disabled(make_fleet, tmp_path: Path) -> None:
    fleet = make_fleet("fresh", "el7:1")
    name, host = fleet["el7-01"].name, fleet.testinfra(fleet["el7-01"])
    # A value of the right type that dockerd still refuses (it wants a mapping of ulimits).
    inventory = edited(fleet, tmp_path / "refused.ini", OPTIONS, OPTIONS.replace("}", ", 'default-ulimits': 7}"))
    rc, hosts = pyinstall_json("provision", "-i", str(inventory), home=tmp_path)
    assert rc == 2, hosts
    start, rollback = hosts[name]["tasks"][-2:]
    assert start["name"] == "start docker" and start["status"] == "failed"
    assert "unable to configure the Docker daemon" in start["msg"], "the daemon's own reason is quoted"
    assert rollback["status"] == "failed"
    assert rollback["msg"] == (
        "rolled back: /etc/docker/daemon.json removed (the host had none); the daemon is left stopped and disabled"
    )
    assert not host.file("/etc/docker/daemon.json").exists
    assert host.run("systemctl is-enabled docker").rc != 0
    assert host.run("pgrep -x dockerd").rc != 0
    # The next run with a good configuration converges.
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), home=tmp_path)
    assert rc == 0, hosts
    assert host.run("docker info").rc == 0
