"""devicemapper -> overlay2 under a real kernel (the lab's `@uml` hosts): `provision --migrate-storage` moves
a host's images (tags sharing layers, an untagged one) with the same ids and tags, keeps its named volume's
data and lists its containers to recreate; a failure at any step, or Ctrl-C, puts the host back as it was;
a lost controller leaves the host to the next run, which resumes; `--check` and a full staging path change
nothing; after the move the upgrade past 24.x goes through, and verify passes. On loop-lvm (the store on
/var/lib/docker's ext4) and on direct-lvm (the new store on a disk of its own, docker_storage_device,
mounted again after a reboot)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import testinfra

from installer import probe
from tests.lab import build
from tests.lab.testing import PYINSTALL, Fleet, pyinstall, pyinstall_json, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.uml]

SPEC = "el7@uml:2,el7+lvm@uml:1"
MIGRATE = ("--migrate-storage", "--stop-containers")
# What a host holds before, and must hold after (a migration) or again (a rollback).
# The running container's /pause ignores SIGTERM (PID 1 without a handler): it is stopped with SIGKILL at
# once, not after `docker stop`'s 30 s, which every migration of the lab would wait otherwise.
SEED = """set -e
docker import /tmp/probe.tgz base:1 >/dev/null
docker tag base:1 base:latest
docker tag base:1 registry.example.com/team/base:1
docker create --name mk base:1 /pause >/dev/null
docker commit --change 'LABEL role=child' mk child:1 >/dev/null
docker commit --change 'LABEL role=untagged' mk >/dev/null
docker rm mk >/dev/null
docker volume create data >/dev/null
m=$(docker volume inspect -f '{{.Mountpoint}}' data); echo hello > "$m/file"; mkdir "$m/sub"; echo 42 > "$m/sub/n"
docker create --name stopped -v data:/data child:1 /pause >/dev/null
docker run -d --net=none --stop-signal KILL --name runner base:1 /pause >/dev/null
"""
IMAGES = "docker images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' | sort"
VOLUME = "cd $(docker volume inspect -f '{{.Mountpoint}}' data) && find . -type f | sort | xargs sha256sum"
CONTAINERS = "docker ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.State}}' | sort"
DRIVER = "docker info --format '{{.Driver}}'"


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("mig", SPEC)


def _overlay2(fleet: Fleet, tmp: Path, **extra: str) -> Path:
    """The fleet's inventory asking overlay2 (and ``extra`` host variables for every host)."""
    text = fleet.inventory.read_text()
    text = re.sub(r"docker_storage_driver=devicemapper( docker_storage_options=\S+)?", "docker_storage_driver=overlay2",
                  text)  # fmt: skip
    text = re.sub(r"(lab_store=lvm docker_storage_driver=overlay2)", r"\1 docker_storage_device=/dev/ubdd", text)
    for key, value in extra.items():
        text = text.replace("[all:vars]\n", f"[all:vars]\n{key}={value}\n")
    inventory = tmp / "overlay2.ini"
    inventory.write_text(text)
    return inventory


@pytest.fixture(scope="module")
def seeded(fleet: Fleet, tmp_path_factory) -> dict[str, str]:
    """Every host provisioned on devicemapper and holding the images, a volume and two containers; what
    each holds, as the state to find again."""
    home = tmp_path_factory.mktemp("home")
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), home=home, timeout=900)
    assert rc == 0, {n: (h["status"], h["error"]) for n, h in hosts.items()}
    states = {}
    for h in fleet.hosts:
        root = fleet.testinfra(h)
        root.run_expect([0], f"printf %s {probe_b64()} | base64 -d > /tmp/probe.tgz")
        root.run_expect([0], SEED)
        states[h.name] = state(root)
    return states


def probe_b64() -> str:
    import base64

    return base64.b64encode(probe.PROBE.read_bytes()).decode()


def state(root: testinfra.host.Host) -> str:
    """Images (ids and tags), containers (ids, names, states), the volume's files, the driver, the daemon's
    configuration and what /var/lib/docker holds."""
    return root.check_output(
        f"{IMAGES}; {CONTAINERS}; ({VOLUME}); {DRIVER}; sha256sum /etc/docker/daemon.json; ls /var/lib/docker"
    )


# ---------------------------------------------------------------- refused or dry: nothing changes


def test_check_mode_reports_sizes_and_containers_and_changes_nothing(fleet: Fleet, seeded, tmp_path: Path) -> None:
    host = fleet.hosts[0]
    inventory = _overlay2(fleet, tmp_path)
    rc, hosts = pyinstall_json("provision", "-i", str(inventory), "--limit", host.name, *MIGRATE, "--check",
                               home=tmp_path)  # fmt: skip
    h = hosts[host.name]
    assert rc == 0 and h["status"] == "would change", h
    (said,) = [f["message"] for f in h["findings"] if f["code"] == "MIGRATION"]
    assert "3 image(s) saved and loaded" in said and "2 container(s) to recreate (1 running" in said, said
    assert re.search(r"\(\d+\.\d kB of layers", said), said
    names = [t["name"] for t in h["tasks"]]
    assert names[:3] == ["record the images, containers and volumes", "stop 1 running container(s)",
                         "save 3 image(s) to /var/lib/pyinstall/staging"], names  # fmt: skip
    assert names[-1] == "finish the migration"
    assert state(fleet.testinfra(host)) == seeded[host.name]


def test_without_the_flag_the_switch_stays_refused(fleet: Fleet, seeded, tmp_path: Path) -> None:
    host = fleet.hosts[0]
    rc, hosts = pyinstall_json("provision", "-i", str(_overlay2(fleet, tmp_path)), "--limit", host.name,
                               home=tmp_path)  # fmt: skip
    assert rc == 2 and "STORE_IN_USE" in hosts[host.name]["error"], hosts[host.name]["error"]
    assert "--migrate-storage" in hosts[host.name]["hint"]
    running = pyinstall_json("check", "-i", str(_overlay2(fleet, tmp_path)), "--limit", host.name,
                             "--migrate-storage", home=tmp_path)[1][host.name]  # fmt: skip
    assert "MIGRATE_RUNNING" in {f["code"] for f in running["findings"] if f["level"] == "error"}
    assert state(fleet.testinfra(host)) == seeded[host.name]


def test_a_staging_path_too_small_is_refused_before_anything_changes(fleet: Fleet, seeded, tmp_path: Path) -> None:
    host = fleet.hosts[0]
    root = fleet.testinfra(host)
    root.run_expect([0], "mkdir -p /mnt/tiny && mount -t tmpfs -o size=1m tiny /mnt/tiny")
    try:
        inventory = _overlay2(fleet, tmp_path, docker_migration_staging="/mnt/tiny/images")
        for command in ("check", "provision"):
            rc, hosts = pyinstall_json(command, "-i", str(inventory), "--limit", host.name, *MIGRATE, home=tmp_path)
            (space,) = [f for f in hosts[host.name]["findings"] if f["code"] == "MIGRATE_SPACE"]
            assert rc == 2 and space["level"] == "error" and "/mnt/tiny/images need" in space["message"], space
        assert hosts[host.name]["tasks"] == []
    finally:
        root.run("umount /mnt/tiny")
    assert state(root) == seeded[host.name]


# ---------------------------------------------------------------- a failure at each step: put back
# Each fault is a host's own: a command that fails as it would on a host (a wrapper first in PATH, an
# immutable directory, a daemon that refuses the new driver, a volume written to meanwhile).

WRAPPER = """#!/bin/sh
# The lab's fault: {what}
{body}
exec {real} "$@"
"""
FAULTS: dict[str, tuple[str, str, str]] = {
    # step: (the task that fails, a shell command that installs the fault, one that removes it)
    "record": ("record the images, containers and volumes", "docker:volume inspect", ""),
    "containers": ("stop 1 running container(s)", "docker:stop", ""),
    "save": ("save 3 image(s) to /var/lib/pyinstall/staging", "docker:save", ""),
    "stop": ("stop docker", "systemctl:stop docker", ""),
    "move": ("move /var/lib/docker/devicemapper aside", "chattr +i /var/lib/docker/devicemapper",
             "chattr -i /var/lib/docker/devicemapper"),
    "start": ("start docker on overlay2", "dockerd:overlay2", ""),
    "checksum": ("load 3 image(s) and compare", "sha256sum-archive:-c", ""),
    "load": ("load 3 image(s) and compare", "docker:load", ""),
    "volumes": ("check the volumes", "docker-after:load", ""),
}  # fmt: skip


def _install_fault(root: testinfra.host.Host, fault: str) -> str:
    """Install ``fault`` (``TOOL:ARGS`` wraps TOOL to fail when called with ARGS; anything else is a shell
    command); returns the command that removes it."""
    tool, sep, args = fault.partition(":")
    if not sep or " " in tool:
        root.run_expect([0], fault)
        return ""
    if tool == "dockerd":  # the engine the lab's docker unit starts: refuses to start on overlay2
        root.run_expect([0], "cp -a /usr/bin/dockerd /usr/bin/dockerd.lab-fault")
        script = WRAPPER.format(what="the new daemon does not start", real="/usr/bin/dockerd.lab-fault",
                                body="grep -q overlay2 /etc/docker/daemon.json && { echo 'injected: overlay2 "
                                "refused' >&2; exit 1; }")  # fmt: skip
        root.run_expect([0], f"printf %s {_q(script)} > /usr/bin/dockerd")
        return "mv -f /usr/bin/dockerd.lab-fault /usr/bin/dockerd"
    if tool == "sha256sum-archive":  # the archive's check fails (as if a byte of it changed); other files pass
        body = (
            'if [ "$1" = -c ]; then in=$(cat); case "$in" in *images.tar*) echo "injected: $in: FAILED" >&2; '
            'exit 1 ;; esac; printf "%s\\n" "$in" | /usr/bin/sha256sum "$@"; exit; fi'
        )
        script = WRAPPER.format(what="the archive's checksum differs", real="/usr/bin/sha256sum", body=body)
        tool = "sha256sum"
    elif tool == "docker-after":  # the real command runs, then the volume is written to
        body = (
            'if [ "$1" = load ]; then /usr/bin/docker "$@" || exit; echo late > '
            "\"$(/usr/bin/docker volume inspect -f '{{.Mountpoint}}' data)/late\"; exit 0; fi"
        )
        script = WRAPPER.format(what="a volume written to during the migration", real="/usr/bin/docker", body=body)
        tool = "docker"
    else:
        real = root.check_output(f"command -v {tool}")
        body = f'case "$*" in "{args}"*) echo "injected: {tool} $* fails" >&2; exit 1 ;; esac'
        script = WRAPPER.format(what=f"{tool} {args} fails", real=real, body=body)
    root.run_expect([0], f"mkdir -p /usr/local/bin && printf %s {_q(script)} > /usr/local/bin/{tool} && "
                    f"chmod 755 /usr/local/bin/{tool}")  # fmt: skip
    assert root.check_output(f"command -v {tool}") == f"/usr/local/bin/{tool}", "the premise: the fault is in PATH"
    return f"rm -f /usr/local/bin/{tool}"


def _q(text: str) -> str:
    import shlex

    return shlex.quote(text)


HUNG = "/tmp/lab-hung"  # the hang's marker: the step is under way


def _install_hang(root: testinfra.host.Host, tool: str, args: str) -> str:
    """TOOL called with ARGS hangs (marking HUNG first); returns the command that removes the hang."""
    real = root.check_output(f"command -v {tool}")
    body = f'case "$*" in "{args}"*) touch {HUNG}; sleep 600 ;; esac'
    script = WRAPPER.format(what=f"{tool} {args} hangs", real=real, body=body)
    root.run_expect([0], f"mkdir -p /usr/local/bin && printf %s {_q(script)} > /usr/local/bin/{tool} && "
                    f"chmod 755 /usr/local/bin/{tool}")  # fmt: skip
    return f"rm -f /usr/local/bin/{tool} {HUNG}; pkill -f '^sleep 600' || :"


def _in_background(inventory: Path, host: str, home: Path) -> subprocess.Popen:
    env = {**os.environ, "HOME": str(home), "COLUMNS": "200"}
    argv = [*PYINSTALL, "provision", "--json", "-i", str(inventory), "--limit", host, *MIGRATE]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=home)


@pytest.mark.parametrize("step", list(FAULTS))
def test_a_failure_at_each_step_puts_the_host_back(fleet: Fleet, seeded, tmp_path: Path, step: str) -> None:
    host = fleet.hosts[1]
    root = fleet.testinfra(host)
    task, fault, cleanup = FAULTS[step]
    undo = _install_fault(root, fault)
    try:
        rc, hosts = pyinstall_json("provision", "-i", str(_overlay2(fleet, tmp_path)), "--limit", host.name,
                                   *MIGRATE, home=tmp_path, timeout=900)  # fmt: skip
    finally:
        root.run(cleanup or undo)
    h = hosts[host.name]
    assert rc == 2 and h["status"] == "failed", (h["status"], h["error"])
    failed = [t for t in h["tasks"] if t["status"] == "failed"]
    assert failed[0]["name"] == task, [(t["name"], t["status"], t["msg"]) for t in h["tasks"]]
    said = {"checksum": "differs from what was saved (sha256)", "move": "Operation not permitted",
            "volumes": "volumes not as recorded: data(changed)"}.get(step, "injected")  # fmt: skip
    assert said in failed[0]["stderr"] + failed[0]["stdout"], failed[0]
    back = h["tasks"][-1]
    assert back["name"] == "put the host back on devicemapper", back
    assert back["msg"].startswith("rolled back: devicemapper and its images as they were"), back["msg"]
    if step not in ("record", "containers"):  # the running container was stopped before this step
        assert "1 container(s) that ran started again" in back["msg"], back["msg"]
    if step == "volumes":  # what the fault wrote is the only difference
        root.run_expect([0], "rm $(docker volume inspect -f '{{.Mountpoint}}' data)/late")
    assert state(root) == seeded[host.name], "images, containers, volume, driver and configuration as before"
    assert root.run("test -e /var/lib/pyinstall/migration || test -e /var/lib/pyinstall/staging/images.tar").rc == 1


def test_ctrl_c_during_the_save_stops_it_and_puts_the_host_back(fleet: Fleet, seeded, tmp_path: Path) -> None:
    host = fleet.hosts[1]
    root = fleet.testinfra(host)
    undo = _install_hang(root, "docker", "save")
    proc = _in_background(_overlay2(fleet, tmp_path), host.name, tmp_path)
    try:
        wait_for(root, f"test -e {HUNG}", "the save under way", seconds=600)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        root.run(undo)
    assert proc.returncode == 130, (proc.returncode, stdout[-2000:], stderr[-2000:])
    h = json.loads(stdout)["hosts"][host.name]
    assert h["status"] == "interrupted", (h["status"], h["error"])
    tasks = {t["name"]: t for t in h["tasks"]}
    saved = tasks["save 3 image(s) to /var/lib/pyinstall/staging"]
    assert saved["status"] == "interrupted" and "the docker save was stopped" in saved["msg"], saved
    back = h["tasks"][-1]
    assert back["name"] == "put the host back on devicemapper", back
    assert back["msg"].startswith("rolled back") and "1 container(s) that ran started again" in back["msg"], back
    assert state(root) == seeded[host.name], "images, containers, volume, driver and configuration as before"
    assert root.run("test -e /var/lib/pyinstall/migration || ls /var/lib/pyinstall/staging/images.tar*").rc != 0


# ---------------------------------------------------------------- the move, then the upgrade past 24.x


def _lost_half_way(fleet: Fleet, name: str, inventory: Path, home: Path) -> None:
    """The controller is lost (kill -9) while docker starts on the new driver: the host is left as it is, its
    ledger saying how far the migration went."""
    root = fleet.testinfra(fleet[name])
    undo = _install_hang(root, "systemctl", "start docker")
    proc = _in_background(inventory, fleet[name].name, home)
    try:
        wait_for(root, f"test -e {HUNG}", "docker starting on overlay2", seconds=600)
    finally:
        proc.kill()
        proc.communicate()
        root.run(undo)
    steps = root.check_output("cat /var/lib/pyinstall/migration/steps").split()
    assert steps == ["record", "containers", "save", "stop", "move"], steps


def _upgraded(inventory: Path, tmp: Path) -> Path:
    """The inventory pinning the lab's newer engine (28.x: no devicemapper in it)."""
    upgrade = tmp / "upgrade.ini"
    newer = build.next_engine()[0]
    upgrade.write_text(inventory.read_text().replace("docker_version=20.10.24", f"docker_version={newer}"))
    return upgrade


def _images_and_volume(root: testinfra.host.Host) -> str:
    return root.check_output(f"{IMAGES}; ({VOLUME})")


@pytest.mark.parametrize("name", ["el7-uml-01", "el7-uml-lvm-01"])
def test_the_migration_keeps_images_and_volumes_then_the_upgrade_past_24_goes_through(
    fleet: Fleet, seeded, tmp_path: Path, name: str
) -> None:
    host = fleet[name]
    root = fleet.testinfra(host)
    kept = _images_and_volume(root)
    inventory = _overlay2(fleet, tmp_path)
    if "lvm" not in name:  # the first run is lost half way: the next one resumes from the host's ledger
        _lost_half_way(fleet, name, inventory, tmp_path)
    proc = pyinstall("provision", "-i", str(inventory), "--limit", host.name, *MIGRATE, home=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:]
    if "lvm" not in name:
        assert "start docker on overlay2" in proc.stdout and "save 3 image(s)" not in proc.stdout, proc.stdout
    # The report names every image kept, every container to recreate and the space the old store holds.
    for tag in ("base:1 base:latest registry.example.com/team/base:1", "child:1", "(untagged)"):
        assert tag in proc.stdout, tag
    for container in ("runner", "stopped"):
        assert re.search(rf"to recreate: {container} \(docker inspect in /var/lib/pyinstall/migration/containers/"
                         r"[0-9a-f]{64}\.json\)", proc.stdout), container  # fmt: skip
    assert "old store /var/lib/docker/pyinstall-old-devicemapper:" in proc.stdout
    if "lvm" in name:
        assert "thin pool /dev/mapper/docker-thinpool: kept" in proc.stdout
        assert root.check_output("findmnt -n -o FSTYPE /var/lib/docker/overlay2") == "xfs"
        assert root.check_output("lvs --noheadings -o lv_name docker").strip() == "thinpool", "untouched"
    assert root.check_output(DRIVER) == "overlay2"
    assert _images_and_volume(root) == kept, "the same image ids, the same tags, the volume's data"
    kept_inspect = [json.loads(root.check_output(f"cat {path}")) for path in
                    root.check_output("ls /var/lib/pyinstall/migration/containers/*.json").split()]  # fmt: skip
    assert sorted(i[0]["Name"] for i in kept_inspect) == ["/runner", "/stopped"]

    again = pyinstall("provision", "-i", str(inventory), "--limit", host.name, "--migrate-storage", home=tmp_path)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-2000:]

    if "lvm" in name:  # the store's own disk is mounted again at boot, from /etc/fstab
        fleet.lab.restart([host.name])
        wait_for(root, "docker info", "docker answering after the reboot")
        assert root.check_output("findmnt -n -o FSTYPE /var/lib/docker/overlay2") == "xfs"
        assert root.check_output(DRIVER) == "overlay2" and _images_and_volume(root) == kept

    upgrade = _upgraded(inventory, tmp_path)
    rc, hosts = pyinstall_json("provision", "-i", str(upgrade), "--limit", host.name, home=tmp_path, timeout=900)
    h = hosts[host.name]
    assert rc == 0, (h["error"], [(t["name"], t["msg"][-300:]) for t in h["tasks"]])
    assert "DRIVER_REMOVED" not in {f["code"] for f in h["findings"]}
    assert h["docker_info"]["server_version"].startswith(build.next_engine()[0])
    assert _images_and_volume(root) == kept

    rc, verified = pyinstall_json("verify", "-i", str(upgrade), "--limit", host.name, home=tmp_path)
    failed = [(t["name"], t["message"]) for t in verified[host.name]["tests"] if t["outcome"] == "failed"]
    assert rc == 0 and not failed, failed

    purge = pyinstall("provision", "-i", str(upgrade), "--limit", host.name, "--purge-old-storage", home=tmp_path)
    assert purge.returncode == 0 and "purge the old storage" in purge.stdout, purge.stdout[-2000:]
    assert root.run("ls -d /var/lib/docker/pyinstall-old-*").rc != 0
    if "lvm" in name:
        assert root.check_output("lvs --noheadings -o lv_name docker").strip() == ""
    assert _images_and_volume(root) == kept
