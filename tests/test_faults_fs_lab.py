"""Faults under the files pyinstall writes: a full or read-only /etc/docker, a full docker store, an upload
cut off half way, an SSH session killed in the middle of a command. Each loses nothing and a rerun converges."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from installer import bundle
from tests.lab.testing import KILL_SESSIONS, PYINSTALL, Fleet, kill_sessions, pyinstall_json, wait_for

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def disk(make_fleet, tmp_path_factory) -> Fleet:
    """el7-01 provisioned; el7-02 fresh, with a docker store of 1 MB."""
    fleet: Fleet = make_fleet("disk", "el7:2")
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", fleet["el7-01"].name,
                               home=tmp_path_factory.mktemp("home"))  # fmt: skip
    assert rc == 0, hosts
    return fleet


def test_a_full_docker_store_is_a_preflight_error_and_the_host_is_untouched(disk: Fleet, tmp_path: Path) -> None:
    name = disk["el7-02"].name
    host = disk.testinfra(disk["el7-02"])
    host.run_test("mkdir -p /var/lib/docker && mount -t tmpfs -o size=1m full-store /var/lib/docker")
    try:
        rc, hosts = pyinstall_json("provision", "-i", str(disk.inventory), "--limit", name, home=tmp_path)
    finally:
        host.run_test("umount /var/lib/docker")
    assert rc == 2 and hosts[name]["status"] == "failed"
    assert hosts[name]["error"] == (
        "preflight: DISK_SPACE: only 0.0 GiB free under /var/lib/docker (tmpfs, mounted on /var/lib/docker); "
        "at least 2 GiB is needed"
    )
    assert hosts[name]["tasks"] == []
    assert host.run("rpm -q docker-ce").rc != 0 and not host.file("/etc/docker/daemon.json").exists


@pytest.mark.parametrize(
    "fault, setup, message, level",
    [
        ("full", "dd if=/dev/zero of=/etc/docker/filler bs=4k 2>/dev/null; true", "No space left on device", "warn"),
        ("read-only", "mount -o remount,ro /etc/docker", "Read-only file system", "error"),
    ],
)
def test_a_full_or_read_only_etc_docker_loses_nothing(
    disk: Fleet, tmp_path: Path, fault: str, setup: str, message: str, level: str
) -> None:
    """daemon.json cannot be written: the run fails on that step naming the cause, the old file and the running
    daemon are untouched, no temporary file is left; once the disk is fixed a rerun converges."""
    name = disk["el7-01"].name
    host = disk.testinfra(disk["el7-01"])
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(disk.inventory.read_text().replace("'icc': None}", f"'icc': None, 'log-level': '{level}'}}"))
    before = host.file("/etc/docker/daemon.json").content_string
    daemon = host.check_output("cat /var/run/docker.pid")
    # A small filesystem over /etc/docker holding a copy of what was there.
    host.run_test("cp -a /etc/docker /run/etc-docker && mount -t tmpfs -o size=64k small /etc/docker && "
                  "cp -a /run/etc-docker/. /etc/docker/ && rm -rf /run/etc-docker")  # fmt: skip
    try:
        host.run_test(setup)
        rc, hosts = pyinstall_json("provision", "-i", str(inventory), "--limit", name, home=tmp_path)
        leftovers = host.check_output("ls -A /etc/docker")
        after = host.file("/etc/docker/daemon.json").content_string
    finally:
        host.run_test("umount /etc/docker")
    assert rc == 2 and hosts[name]["status"] == "failed", hosts[name]
    failed = hosts[name]["tasks"][-1]
    assert failed["name"] == "write daemon configuration /etc/docker/daemon.json" and failed["status"] == "failed"
    assert message in failed["stderr"], failed
    if fault == "full":
        assert "HOST_DISK_FULL: no space left on the host's disk" in failed["msg"], failed
    assert after == before, "the old file is intact"
    assert ".pyinstall." not in leftovers, leftovers
    assert host.check_output("cat /var/run/docker.pid") == daemon, "the daemon was not restarted"

    rc, hosts = pyinstall_json("provision", "-i", str(inventory), "--limit", name, home=tmp_path)
    assert rc == 0 and hosts[name]["status"] == "changed", hosts[name]
    assert f'"log-level": "{level}"' in host.file("/etc/docker/daemon.json").content_string


def test_a_full_tmp_on_the_host_is_host_disk_full_naming_the_file(disk: Fleet, tmp_path: Path) -> None:
    """The version query writes the repository files to /tmp first: a full /tmp is said as such, with the
    file, in check and provision alike, and nothing changes."""
    name = disk["el7-02"].name
    host = disk.testinfra(disk["el7-02"])
    host.run_test("mount -t tmpfs -o size=64k full-tmp /tmp && (dd if=/dev/zero of=/tmp/fill bs=4k 2>/dev/null; true)")
    try:
        rc, checked = pyinstall_json("check", "-i", str(disk.inventory), "--limit", name, home=tmp_path)
        rc2, provisioned = pyinstall_json("provision", "-i", str(disk.inventory), "--limit", name, home=tmp_path)
    finally:
        host.run_test("umount /tmp")
    assert rc == 2 and checked[name]["status"] == "failed"
    full = next(f for f in checked[name]["findings"] if f["code"] == "HOST_DISK_FULL")
    assert "No space left on device" in full["message"] and "cannot write /tmp/pyinstall-repos." in full["message"]
    assert checked[name]["facts"]["distro_id"] == "centos", "the host is still shown as it is"
    assert rc2 == 2 and provisioned[name]["error"].startswith("preflight: HOST_DISK_FULL: no space left")
    assert provisioned[name]["tasks"] == [] and host.run("rpm -q docker-ce").rc != 0


@pytest.mark.parametrize(
    "docker, code, said",
    [
        ("trap '' TERM; while :; do sleep 1; done", "DAEMON_UNREACHABLE", "got no answer within 20 s"),
        ("head -c 40000000 /dev/zero | tr '\\0' x", "OUTPUT_TOO_LARGE", "more than"),
    ],
    ids=["a docker that hangs and ignores TERM", "a docker that prints 40 MB"],
)
def test_info_names_a_docker_that_hangs_or_floods(
    disk: Fleet, tmp_path: Path, docker: str, code: str, said: str
) -> None:
    """Never "not installed", never "unreachable": the host answered, its docker did not as it should."""
    name = disk["el7-01"].name
    host = disk.testinfra(disk["el7-01"])
    host.run_test(f"mv /usr/bin/docker /usr/bin/docker.real-client && printf '#!/bin/sh\\n%s\\n' {json.dumps(docker)} "
                  "> /usr/bin/docker && chmod 755 /usr/bin/docker")  # fmt: skip
    try:
        rc, hosts = pyinstall_json("info", "-i", str(disk.inventory), "--limit", name, home=tmp_path)
    finally:
        host.run_test("mv -f /usr/bin/docker.real-client /usr/bin/docker")
    assert rc == 2 and hosts[name]["status"] == "failed", hosts[name]
    found = {f["code"]: f["message"] for f in hosts[name]["findings"]}
    assert code in found and said in found[code], found


@pytest.fixture(scope="module")
def cutoff(make_fleet) -> Fleet:
    return make_fleet("cutoff", "el6:1")


def test_an_upload_cut_off_half_way_keeps_the_original_and_resumes(
    cutoff: Fleet, el6_bundle: Path, tmp_path: Path
) -> None:
    name = cutoff["el6-01"].name
    host = cutoff.testinfra(cutoff["el6-01"])
    loaded = bundle.load(el6_bundle, tmp_path / "unpacked")
    big = max(loaded.files, key=lambda f: f.size)
    path = f"{loaded.remote_dir}/{big.path}"
    # What an earlier bundle left at that path: it must stay as it is until the new file is verified.
    host.run_test(f"mkdir -p {os.path.dirname(path)} && printf 'earlier bundle\\n' > {path}")
    # On the host, a watcher cuts every SSH session once the upload is past 2 MB.
    host.run_test(
        "setsid nohup sh -c \"until find /var/cache/pyinstall -name '*.part' -size +2048k | grep -q .; do :; done; "
        f'{KILL_SESSIONS}" >/dev/null 2>&1 &'
    )
    rc, hosts = pyinstall_json("provision", "-i", str(cutoff.inventory), "--bundle", str(el6_bundle), home=tmp_path)
    assert rc == 4 and hosts[name]["status"] == "unreachable", hosts[name]
    assert f"upload of {Path(big.path).name} to {path}.part broke off" in hosts[name]["error"]
    assert "resumes" in hosts[name]["hint"]
    assert hosts[name]["tasks"][-1]["name"].startswith("push offline bundle")
    assert hosts[name]["tasks"][-1]["status"] == "unknown"

    host = cutoff.testinfra(cutoff["el6-01"])
    assert host.file(path).content_string == "earlier bundle\n", "the original is intact"
    part = host.file(path + ".part").size
    assert 2048 * 1024 < part < big.size, part
    on_host = sum(map(int, host.check_output(f"find {loaded.remote_dir} -name '*.part' -printf '%s\\n'").split()))
    assert host.run("rpm -q docker-io").rc != 0

    rc, hosts = pyinstall_json("provision", "-i", str(cutoff.inventory), "--bundle", str(el6_bundle), home=tmp_path)
    assert rc == 0, hosts[name]
    push = next(t for t in hosts[name]["tasks"] if t["name"].startswith("push offline bundle"))
    sent = int(push["msg"].rsplit("sent ", 1)[1].split()[0])
    assert sent == sum(f.size for f in loaded.files) - on_host, "the second run sent only what was missing"
    assert host.file(path).sha256sum == big.sha256


def test_a_session_killed_mid_command_is_unreachable_with_outcome_unknown(cutoff: Fleet, tmp_path: Path) -> None:
    """The daemon is held at start; every SSH session is killed while pyinstall waits for it."""
    name = cutoff["el6-01"].name
    host = cutoff.testinfra(cutoff["el6-01"])
    assert host.run("docker info").rc == 0, "provisioned by the upload test"
    host.run_test(
        "service docker stop && mv /usr/bin/dockerd /usr/bin/dockerd.held && "
        "printf '#!/bin/sh\\ntouch /run/dockerd-held\\nwhile [ -e /run/dockerd-held ]; do sleep 0.2; done\\n"
        'exec /usr/bin/dockerd.held "$@"\\n\' > /usr/bin/dockerd && chmod 755 /usr/bin/dockerd'
    )
    try:
        env = {**os.environ, "HOME": str(tmp_path)}
        argv = [*PYINSTALL, "provision", "--json", "-i", str(cutoff.inventory)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
        wait_for(host, "test -e /run/dockerd-held", "pyinstall never started the daemon", 120)
        kill_sessions(host)  # this very session goes too
        out, _ = proc.communicate(timeout=120)
        host = cutoff.testinfra(cutoff["el6-01"])
        host.run_test("rm -f /run/dockerd-held")
        wait_for(host, "docker info", "the held daemon never started", 60)
    finally:
        host.run("rm -f /run/dockerd-held; cd /usr/bin && [ ! -e dockerd.held ] || mv -f dockerd.held dockerd")
    report = json.loads(out)["hosts"][name]
    assert proc.returncode == 4 and report["status"] == "unreachable", report
    assert "start docker: connection lost while running a command" in report["error"]
    assert "outcome on the host is unknown" in report["hint"]
    assert report["tasks"][-1]["name"] == "start docker" and report["tasks"][-1]["status"] == "unknown"
    # The steps sent to the host in the same round trip as the start are unknown with it, each named in
    # the error; the ones before are reported done.
    statuses = [t["status"] for t in report["tasks"]]
    unknown = statuses.index("unknown")
    assert set(statuses[:unknown]) <= {"changed"} and set(statuses[unknown:]) == {"unknown"}, statuses
    assert all(t["name"] in report["error"] for t in report["tasks"][unknown:])

    rc, hosts = pyinstall_json("provision", "-i", str(cutoff.inventory), home=tmp_path)
    assert rc == 0 and hosts[name]["status"] == "ok", hosts[name]
