"""The container image (image/build.py) as a Kubernetes Job runs it, on lab hosts: built from the wheel
users install, loaded into a real dockerd of the test's own (no registry), run with its entry point, user
and environment as built, host networking (the lab's hosts are on 127.x), and README's mounts: the
inventory read-only, the SSH key and known_hosts as a secret volume lays them out (root-owned, 0440, group
fsGroup, behind ..data links), the run records in a volume of their own. Check, provision (twice: it
converges) and verify pass on an EL6 and an EL7 host; a TERM to the container ends the run interrupted,
exit 143, and recorded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from image import build
from tests.lab.testing import Fleet, until

pytestmark = pytest.mark.lab

FS_GROUP = 2000  # README's Job: runAsUser 10001 (the image's user), fsGroup 2000
HELD = ("--ignore-preflight-errors", "YUM_LOCK")  # as tests/test_interrupt_lab.py: a yum lock held on purpose


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("img", "el6:1,el7:2")


@pytest.fixture(scope="module")
def image(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    missing = [tool for tool in ("mmdebstrap", "strip", "dockerd", "docker") if not shutil.which(tool)]
    if missing:
        reason = f"the image needs {', '.join(missing)}: bash setup.sh deps installs them"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must build and run the image; {reason}")
        pytest.skip(reason)
    (wheel,) = dist.glob("pyinstall-*.whl")
    built = build.build(wheel, tmp_path_factory.mktemp("image") / "pyinstall-image.tar", tag="pyinstall:test")
    assert built["size_mb"] < 200, built
    return built


@pytest.fixture(scope="module")
def docker(image: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """A dockerd of the test's own (its own data root, socket and containerd namespace; no bridge, no
    iptables: the containers share the machine's network), with the image loaded; the docker CLI for it."""
    root = tmp_path_factory.mktemp("docker")
    sock = f"unix://{root}/docker.sock"
    cli = ["docker", "-H", sock]
    with open(root / "dockerd.log", "w") as log:
        daemon = subprocess.Popen(["dockerd", "--data-root", f"{root}/data", "--exec-root", f"{root}/exec",
                                   "--pidfile", f"{root}/docker.pid", "-H", sock, "--bridge", "none",
                                   "--iptables=false", "--ip6tables=false", "--containerd-namespace", "pyinstall-test",
                                   "--containerd-plugins-namespace", "pyinstall-test-plugins"],
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            until(lambda: subprocess.run([*cli, "info"], capture_output=True).returncode == 0, "dockerd up", 60)
            load = subprocess.run([*cli, "load", "-i", image["archive"]], capture_output=True, text=True, timeout=300)
            assert load.returncode == 0, load.stderr
            yield cli
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
            for mounted in ("exec/netns/default", "data"):  # left mounted by dockerd (its network namespace)
                subprocess.run(["umount", "-R", "-l", f"{root}/{mounted}"], capture_output=True)
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def mounts(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The Job's volumes: the inventory (a ConfigMap), the key and known_hosts (a Secret with
    defaultMode 0440 and fsGroup: root-owned, group FS_GROUP, files behind the ..data link), the state (an
    emptyDir the pod's fsGroup may write)."""
    base = tmp_path_factory.mktemp("pod")
    base.chmod(0o755)
    inventory = base / "inventory"
    inventory.mkdir()
    lab_only = ("ansible_ssh_private_key_file=", "pyinstall_known_hosts_file=")
    lines = [line for line in fleet.inventory.read_text().splitlines(True) if not line.startswith(lab_only)]
    (inventory / "hosts.ini").write_text("".join(lines))
    secret = base / "ssh"
    data = secret / "..2026_12_05_00_00_00.000000000"
    data.mkdir(parents=True)
    shutil.copy(fleet.lab.key, data / "id_ed25519")
    shutil.copy(fleet.lab.known_hosts, data / "known_hosts")
    (secret / "..data").symlink_to(data.name)
    for name in ("id_ed25519", "known_hosts"):
        (secret / name).symlink_to(f"..data/{name}")
        os.chown(data / name, 0, FS_GROUP)
        (data / name).chmod(0o440)
    for d in (secret, data):
        os.chown(d, 0, FS_GROUP)
        d.chmod(0o755)
    state = base / "state"
    state.mkdir()
    os.chown(state, 0, FS_GROUP)
    state.chmod(0o2775)
    return ["--network", "host", "--group-add", str(FS_GROUP),
            "-v", f"{inventory}:/inventory:ro", "-v", f"{secret}:/home/pyinstall/.ssh:ro",
            "-v", f"{state}:/home/pyinstall/.local/state"]  # fmt: skip


def run(docker: list[str], mounts: list[str], *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*docker, "run", "--rm", *mounts, "pyinstall:test", *argv],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_the_image_runs_as_built(docker: list[str], image: dict) -> None:
    inspect = subprocess.run([*docker, "image", "inspect", "pyinstall:test"], capture_output=True, text=True)
    (found,) = json.loads(inspect.stdout)
    assert found["RootFS"]["Layers"] == [image["layer"]], "the layer loaded is the layer built"
    config = found["Config"]
    assert config["User"] == "10001:10001" and config["Entrypoint"] == ["pyinstall"], config
    proc = subprocess.run([*docker, "run", "--rm", "pyinstall:test", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("pyinstall "), proc.stderr


def test_check_provision_and_verify_from_the_image(docker: list[str], mounts: list[str], fleet: Fleet) -> None:
    limit = ("--limit", f"{fleet['el6-01'].name},{fleet['el7-01'].name}")
    for command, verdict in (("check", "ok"), ("provision", "changed"), ("provision", "ok"), ("verify", "ok")):
        proc = run(docker, mounts, command, "--json", "-i", "/inventory/hosts.ini", *limit)
        assert proc.returncode == 0, (command, proc.stdout[-3000:], proc.stderr[-3000:])
        hosts = json.loads(proc.stdout)["hosts"]
        assert {h["status"] for h in hosts.values()} == {verdict} and len(hosts) == 2, (command, hosts)


def test_a_term_to_the_container_ends_the_run_interrupted_and_recorded(
    docker: list[str], mounts: list[str], fleet: Fleet
) -> None:
    host = fleet["el7-02"]
    root = fleet.testinfra(host)
    root.run_test("nohup sleep 600 >/dev/null 2>&1 & echo $! > /var/run/yum.pid")
    name = f"pyinstall-term-{os.getpid()}"
    try:
        # As README's Job starts it: sh -c computing an argument, then exec.
        script = f"exec pyinstall provision --json -i /inventory/hosts.ini --limit {host.name} {' '.join(HELD)}"
        argv = [*docker, "run", "-d", "--name", name, *mounts, "--entrypoint", "sh", "pyinstall:test", "-c", script]
        started = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert started.returncode == 0, started.stderr
        until(lambda: root.run("ls /var/lib/pyinstall/jobs/*.pid").rc == 0, "a job waiting for the lock")
        sent = time.monotonic()
        subprocess.run([*docker, "kill", "--signal", "TERM", name], check=True, capture_output=True)
        waited = subprocess.run([*docker, "wait", name], capture_output=True, text=True, timeout=60)
        assert time.monotonic() - sent < 5
        assert waited.stdout.strip() == str(128 + signal.SIGTERM), waited
        logs = subprocess.run([*docker, "logs", name], capture_output=True, text=True)
        report = json.loads(logs.stdout)["hosts"][host.name]
        assert report["status"] == "interrupted" and "SIGTERM" in report["error"], report
    finally:
        subprocess.run([*docker, "rm", "-f", name], capture_output=True)
        root.run("kill $(cat /var/run/yum.pid); rm -f /var/run/yum.pid")
    proc = run(docker, mounts, "runs", "--json")
    assert proc.returncode == 0, proc.stderr
    newest = json.loads(proc.stdout)[0]
    assert newest["command"] == "provision" and newest["exit_status"] == 143, newest
    assert newest["hosts"] == {"interrupted": 1}, newest


def test_the_same_inputs_give_the_same_layer(dist: Path, image: dict, tmp_path: Path) -> None:
    (wheel,) = dist.glob("pyinstall-*.whl")
    again = build.build(wheel, tmp_path / "again.tar", tag="pyinstall:test")
    assert again["layer"] == image["layer"] and again["image"] == image["image"], (again, image)
