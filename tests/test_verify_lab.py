"""`pyinstall verify` on lab hosts: the bundled testinfra suite passes on freshly provisioned el6 and el7
hosts (a container runs on each), a hand edit fails naming the key, a host without Docker fails as
not installed, and the operator's own test file runs against every host."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.lab.testing import PYINSTALL, Fleet, daemon_json_edited, pyinstall, until

pytestmark = pytest.mark.lab

SUITE = (
    "test_the_runtime_packages_are_installed_at_the_pinned_version", "test_no_conflicting_package_is_installed",
    "test_the_repository_files_are_as_provision_writes_them", "test_the_daemon_configuration_is_as_provision_writes_it",
    "test_the_service_is_enabled_and_running", "test_the_cgroup_hierarchies_are_mounted",
    "test_docker_info_reports_what_was_asked", "test_a_container_runs",
    # day two: the kernel settings are asked by default; the rest skip where nothing is asked
    "test_the_daemon_runs_with_the_proxy_asked", "test_the_registry_certificates_are_as_provision_writes_them",
    "test_the_docker_users_are_members_of_the_docker_group", "test_the_kernel_settings_are_set_now_and_at_boot",
    "test_the_bundles_images_are_loaded",
)  # fmt: skip


@pytest.fixture(scope="module")
def fleet(make_fleet, tmp_path_factory) -> tuple[Fleet, list[str]]:
    """An el6 and a noisy el7 host (a banner, a German locale), provisioned, another el7 host to edit by
    hand, and a bare el7 host."""
    fleet = make_fleet("ver", "el6+tmpfs:1,el7-noisy+tmpfs:1,el7+tmpfs:1,el7:1")
    home = tmp_path_factory.mktemp("home")
    proc = pyinstall("provision", "-i", str(fleet.inventory), "--limit", f"!{fleet['el7-01'].name}", home=home)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return fleet, [fleet["el6-tmpfs-01"].name, fleet["el7-noisy-tmpfs-01"].name]


def _verify(fleet: Fleet, limit: str, tmp_path: Path, *more: str) -> tuple[int, dict]:
    proc = pyinstall("verify", "--json", "-i", str(fleet.inventory), "--limit", limit, *more, home=tmp_path)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)["hosts"]


def test_freshly_provisioned_hosts_pass_every_test_and_run_a_container(fleet, tmp_path: Path) -> None:
    fleet, provisioned = fleet
    junit = tmp_path / "verify.xml"
    rc, hosts = _verify(fleet, ",".join(provisioned), tmp_path, "--junit-xml", str(junit))
    assert rc == 0, json.dumps(hosts, indent=1)[-3000:]
    for name in provisioned:
        ran = {t["name"].split("::")[1]: t["outcome"] for t in hosts[name]["tests"]}
        assert set(ran) == set(SUITE), name
        assert ran["test_a_container_runs"] == "passed", name
        el6 = name == fleet["el6-tmpfs-01"].name
        assert ran["test_the_cgroup_hierarchies_are_mounted"] == ("passed" if el6 else "skipped"), name
        assert ran["test_the_kernel_settings_are_set_now_and_at_boot"] == "passed", name
        assert ran["test_the_docker_users_are_members_of_the_docker_group"] == "skipped", name
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == set(provisioned), "a case per host"
    for host in provisioned:
        listed = {line.split("::")[1].split(":")[0] for line in cases[host].findtext("system-out").splitlines()}
        assert listed == set(SUITE) and cases[host].find("failure") is None, host
    # The probe image is gone again: nothing is left behind on the host.
    root = fleet.testinfra(fleet["el7-noisy-tmpfs-01"])
    assert "pyinstall/probe" not in root.run("docker images").stdout


def test_a_hand_edit_fails_naming_the_key(fleet, tmp_path: Path) -> None:
    fleet, _ = fleet
    host = fleet["el7-tmpfs-01"]
    with daemon_json_edited(fleet.testinfra(host), drop="userland-proxy", add={"debug": True}):
        rc, hosts = _verify(fleet, host.name, tmp_path)
        assert rc == 2
        failed = {t["name"].split("::")[1]: t["message"] for t in hosts[host.name]["tests"] if t["outcome"] == "failed"}
        assert set(failed) == {"test_the_daemon_configuration_is_as_provision_writes_it"}, failed
        message = failed["test_the_daemon_configuration_is_as_provision_writes_it"]
        assert "debug added on the host (true)" in message and "userland-proxy asked false, missing" in message


def test_a_host_without_docker_fails_as_not_installed(fleet, tmp_path: Path) -> None:
    fleet, _ = fleet
    bare = fleet["el7-01"].name
    rc, hosts = _verify(fleet, bare, tmp_path)
    assert rc == 2
    assert (hosts[bare]["status"], hosts[bare]["error"]) == (
        "not installed",
        "Docker is not installed (no docker command)",
    )
    table = pyinstall("verify", "-i", str(fleet.inventory), "--limit", bare, home=tmp_path).stdout
    assert "1 host(s): 0 passed, 0 failed, 1 not installed, 0 unreachable" in table


def test_the_operators_own_tests_run_on_every_host(fleet, tmp_path: Path) -> None:
    fleet, provisioned = fleet
    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "test_site.py").write_text(
        "def test_the_hostname_is_known(host):\n"
        "    assert host.run('hostname').rc == 0\n\n"
        "def test_a_site_rule_that_fails(host):\n"
        "    assert host.file('/etc/site-marker').exists, 'the site marker is missing'\n"
    )
    rc, hosts = _verify(fleet, ",".join(provisioned), tmp_path, "--tests", str(mine), "--keyword", "site or container")
    assert rc == 2
    for name in provisioned:
        ran = {t["name"]: (t["outcome"], t["message"]) for t in hosts[name]["tests"]}
        assert ran == {
            "test_docker.py::test_a_container_runs": ("passed", ""),
            "test_site.py::test_the_hostname_is_known": ("passed", ""),
            "test_site.py::test_a_site_rule_that_fails": ("failed", "the site marker is missing"),
        }, name
    table = pyinstall("verify", "-i", str(fleet.inventory), "--limit", provisioned[0], "--tests", str(mine),
                      "--keyword", "site_rule", home=tmp_path).stdout  # fmt: skip
    assert "test_site.py::test_a_site_rule_that_fails: the site marker is missing" in table


HUNG = (
    "import os, pathlib, time\n\n"
    "def test_an_operator_test_that_hangs(host):\n"
    "    pathlib.Path(os.environ['HUNG_MARKER']).touch()\n"
    "    time.sleep(600)\n"
)


def _hung_verify(fleet: Fleet, host: str, tmp_path: Path) -> tuple[list[str], dict[str, str], Path]:
    (tmp_path / "hung").mkdir(exist_ok=True)
    (tmp_path / "hung" / "test_hung.py").write_text(HUNG)
    marker = tmp_path / "started"
    argv = [*PYINSTALL, "verify", "--json", "-i", str(fleet.inventory), "--limit", host, "--tests",
            str(tmp_path / "hung"), "--keyword", "hangs"]  # fmt: skip
    env = {**os.environ, "HOME": str(tmp_path), "HUNG_MARKER": str(marker), "COLUMNS": "200"}
    return argv, env, marker


def test_ctrl_c_on_a_terminal_stops_a_hung_operator_test_every_time(fleet, tmp_path: Path) -> None:
    """Ctrl-C typed on the terminal pyinstall runs on (a pty: the line discipline signals its whole
    process group), 20 times over: each time the hung test stops and the run ends interrupted, 130."""
    fleet, provisioned = fleet
    argv, env, marker = _hung_verify(fleet, provisioned[1], tmp_path)
    for attempt in range(20):
        marker.unlink(missing_ok=True)
        pid, terminal = pty.fork()
        if pid == 0:  # the child: pyinstall on the pty, as a shell starts it
            os.execve(argv[0], argv, env)
        said = bytearray()
        reader = threading.Thread(target=_drain, args=(terminal, said), daemon=True)
        reader.start()
        try:
            until(marker.exists, f"attempt {attempt}: the hung test started")
            sent = time.monotonic()
            os.write(terminal, b"\x03")  # what the Ctrl-C key sends
            status = _waited(pid, 30)
            took = time.monotonic() - sent
        finally:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        reader.join(5)
        os.close(terminal)
        text = said.decode(errors="replace")
        assert status == 130, (attempt, status, text[-2000:])
        assert took < 5, f"attempt {attempt}: exited {took:.1f}s after Ctrl-C"
        assert (
            json.JSONDecoder().raw_decode(text[text.index("{") :])[0]["hosts"][provisioned[1]]["status"]
            == "interrupted"
        ), text[-2000:]


def _drain(fd: int, into: bytearray) -> None:
    with contextlib.suppress(OSError):  # EIO once the child is gone
        while chunk := os.read(fd, 65536):
            into += chunk


def _waited(pid: int, seconds: float) -> int | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    return None


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT from a background job"])
def test_sigterm_and_a_background_sigint_stop_verify(fleet, tmp_path: Path, how: str) -> None:
    """SIGTERM (a CI job cancelled, Kubernetes) stops the run as Ctrl-C does, exit 143; a SIGINT reaches a
    pyinstall started in the background of a script (whose shell leaves SIGINT ignored), exit 130."""
    fleet, provisioned = fleet
    argv, env, marker = _hung_verify(fleet, provisioned[1], tmp_path)
    pidfile, out = tmp_path / "pid", tmp_path / "out.json"
    script = f"{shlex.join(argv)} > {shlex.quote(str(out))} 2>&1 & echo $! > {shlex.quote(str(pidfile))}; wait $!"
    if how == "SIGTERM":
        script = f"exec {shlex.join(argv)} > {shlex.quote(str(out))} 2>&1"
    shell = subprocess.Popen(["sh", "-c", script], env=env)
    try:
        until(marker.exists, "the hung test started")
        pid = shell.pid if how == "SIGTERM" else int(pidfile.read_text())
        sent = time.monotonic()
        os.kill(pid, signal.SIGTERM if how == "SIGTERM" else signal.SIGINT)
        rc = shell.wait(30)
        took = time.monotonic() - sent
    finally:
        shell.kill()
    text = out.read_text()
    assert rc == (143 if how == "SIGTERM" else 130), text[-2000:]
    assert took < 5, f"exited {took:.1f}s after the signal"
    assert json.JSONDecoder().raw_decode(text[text.index("{") :])[0]["hosts"][provisioned[1]]["status"] == "interrupted"
