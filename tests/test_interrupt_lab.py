"""Ctrl-C wherever a run waits (installer/interrupts.py's WAITS), on lab hosts: pyinstall exits 130 within
2 s of the signal, the host is reported interrupted, the retry file names it, and a run once the host is
free again converges. Each wait is made to last by holding what it waits for on the host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from installer.bundle import REMOTE_ROOT
from installer.interrupts import WAITS
from tests.lab.testing import PYINSTALL, Fleet, pyinstall_json, until

pytestmark = pytest.mark.lab

SPEC = "el7:3,el6:2"
HOSTS = {"yum lock": "el7-01", "job poll": "el7-02", "daemon start": "el7-03", "upload": "el6-01",
         "reconnect window": "el6-02"}  # fmt: skip


SFTP_SERVER = "/usr/lib/openssh/sftp-server"  # the lab's sshd_config names it

# Another yum holds the lock once the facts are read (here from the start: preflight is told to go on).
HELD = ("--ignore-preflight-errors", "YUM_LOCK")


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("int", SPEC)


def test_every_waiting_place_has_its_test() -> None:
    assert set(HOSTS) == set(WAITS)
    assert all(f"test_ctrl_c_{wait.replace(' ', '_')}" in globals() for wait in WAITS)


@contextmanager
def provision_in_background(fleet: Fleet, name: str, home: Path, *more: str) -> Iterator[subprocess.Popen]:
    env = {**os.environ, "HOME": str(home), "COLUMNS": "200"}
    argv = [*PYINSTALL, "provision", "--json", "-i", str(fleet.inventory), "--limit", fleet[name].name, *more]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=home)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def interrupt(proc: subprocess.Popen, fleet: Fleet, name: str) -> dict:
    """SIGINT, as a terminal's Ctrl-C: exit 130 within 2 s, the host interrupted and named for a retry."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 130, (proc.returncode, stdout[-2000:], stderr[-2000:])
    assert took < 2.0, f"exited {took:.1f}s after Ctrl-C"
    host = json.loads(stdout)["hosts"][fleet[name].name]
    assert host["status"] == "interrupted", host
    return host


def converges(fleet: Fleet, name: str, home: Path) -> None:
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", fleet[name].name, home=home)
    assert rc == 0, hosts
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", fleet[name].name, home=home)
    assert rc == 0 and hosts[fleet[name].name]["changed"] == 0


def retry_file(home: Path, fleet: Fleet, name: str) -> None:
    assert (home / "pyinstall.retry").read_text().split() == [fleet[name].name]


def test_ctrl_c_yum_lock(fleet: Fleet, tmp_path: Path) -> None:
    """Another yum holds the lock: the job waiting for it is killed, nothing was changed."""
    name = HOSTS["yum lock"]
    root = fleet.testinfra(fleet[name])
    root.run_test("nohup sleep 600 >/dev/null 2>&1 & echo $! > /var/run/yum.pid")
    before = root.check_output("rpm -qa | sort | sha256sum")
    try:
        with provision_in_background(fleet, name, tmp_path, *HELD) as proc:
            until(lambda: root.run("ls /var/lib/pyinstall/jobs/*.pid").rc == 0, "a job waiting for the lock")
            time.sleep(1)
            host = interrupt(proc, fleet, name)
        assert "waiting for the package manager's lock" in host["error"] and "nothing changed" in host["error"], host
        assert root.run("ls /var/lib/pyinstall/jobs/*.pid").rc != 0, "the waiting job is gone"
        assert root.run("ps -eo args | grep -v grep | grep -E '^(yum|dnf|/usr/bin/dnf)'").rc != 0
        assert root.check_output("rpm -qa | sort | sha256sum") == before
        retry_file(tmp_path, fleet, name)
    finally:
        root.run("kill $(cat /var/run/yum.pid); rm -f /var/run/yum.pid")
    converges(fleet, name, tmp_path)


def test_ctrl_c_job_poll(fleet: Fleet, tmp_path: Path) -> None:
    """A transaction under way is left to finish on the host; the next run waits for it, then converges."""
    name = HOSTS["job poll"]
    root = fleet.testinfra(fleet[name])
    frozen = "pgrep -x dnf"
    with provision_in_background(fleet, name, tmp_path) as proc:
        # Not the version query's dnf (a plain command): the one a job runs.
        in_job = f"ls /var/lib/pyinstall/jobs/*.pid && {frozen} && pkill -STOP -x dnf"
        until(lambda: root.run(in_job).rc == 0, "a yum transaction running")
        host = interrupt(proc, fleet, name)
    try:
        assert "during a yum transaction: it goes on on the host" in host["error"], host
        assert root.run(frozen).rc == 0, "the transaction is still there"
        retry_file(tmp_path, fleet, name)
        assert root.run('kill -0 "$(cat /var/lib/pyinstall/jobs/*.pid)"').rc == 0, "its job, for the next run to find"
    finally:
        root.run("pkill -CONT -x dnf")
    until(lambda: root.run(frozen).rc != 0, "the transaction's end")
    converges(fleet, name, tmp_path)


def test_ctrl_c_daemon_start(fleet: Fleet, tmp_path: Path) -> None:
    """The daemon was started and does not answer yet: the wait ends; the next run finds it up."""
    name = HOSTS["daemon start"]
    root = fleet.testinfra(fleet[name])
    with provision_in_background(fleet, name, tmp_path) as proc:
        until(lambda: root.run("pkill -STOP -x dockerd.real").rc == 0, "the daemon starting", seconds=180)
        time.sleep(1)
        host = interrupt(proc, fleet, name)
    root.run("pkill -CONT -x dockerd.real")
    started = next(t for t in host["tasks"] if t["name"] == "start docker")
    assert started["status"] == "interrupted" and "Ctrl-C" in started["msg"], host["tasks"]
    retry_file(tmp_path, fleet, name)
    converges(fleet, name, tmp_path)


def test_ctrl_c_upload(fleet: Fleet, el6_bundle: Path, tmp_path: Path) -> None:
    """An offline bundle on its way: the upload stops at once; the next run resumes it."""
    name = HOSTS["upload"]
    root = fleet.testinfra(fleet[name])
    under_way = f"find {REMOTE_ROOT} -name '*.part' -size +0c | grep -q . && pkill -STOP -f '[s]ftp-server'"
    with provision_in_background(fleet, name, tmp_path, "--bundle", str(el6_bundle)) as proc:
        until(lambda: root.run(under_way).rc == 0, "the upload under way")
        time.sleep(1)
        host = interrupt(proc, fleet, name)
    root.run("pkill -CONT -f '[s]ftp-server'; pkill -KILL -f '[s]ftp-server'")
    upload_interrupted(host)
    retry_file(tmp_path, fleet, name)
    resumes(fleet, name, el6_bundle, tmp_path)


def test_ctrl_c_upload_before_the_server_answers(fleet: Fleet, el6_bundle: Path, tmp_path: Path) -> None:
    """The SFTP server started but never said hello (frozen before its greeting): Ctrl-C still ends the
    wait at once."""
    name = HOSTS["upload"]
    root = fleet.testinfra(fleet[name])
    root.run_test(f"rm -rf {REMOTE_ROOT}; mv {SFTP_SERVER} {SFTP_SERVER}.real")
    try:
        root.run_test(f"printf '#!/bin/sh\\nkill -STOP $$\\nexec {SFTP_SERVER}.real \"$@\"\\n' > {SFTP_SERVER}")
        root.run_test(f"chmod 0755 {SFTP_SERVER}")
        with provision_in_background(fleet, name, tmp_path, "--bundle", str(el6_bundle)) as proc:
            until(lambda: root.run(f"pgrep -f '^/bin/sh {SFTP_SERVER}'").rc == 0, "the SFTP server started")
            time.sleep(1)
            host = interrupt(proc, fleet, name)
    finally:
        root.run(f"pkill -KILL -f '^/bin/sh {SFTP_SERVER}'; mv -f {SFTP_SERVER}.real {SFTP_SERVER}")
    upload_interrupted(host)
    resumes(fleet, name, el6_bundle, tmp_path)


def upload_interrupted(host: dict) -> None:
    pushed = next(t for t in host["tasks"] if t["name"].startswith("push offline bundle"))
    assert pushed["status"] == "interrupted" and "upload" in pushed["msg"], host["tasks"]


def resumes(fleet: Fleet, name: str, bundle: Path, home: Path) -> None:
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", fleet[name].name,
                               "--bundle", str(bundle), home=home)  # fmt: skip
    assert rc == 0, [(t["name"], t["msg"], t["stderr"]) for t in hosts[fleet[name].name]["tasks"]]


def test_ctrl_c_reconnect_window(fleet: Fleet, tmp_path: Path) -> None:
    """The host went away during a transaction (stopped while its job waits for the yum lock): the wait for
    it to come back ends; once it is back, a run converges."""
    name = HOSTS["reconnect window"]
    root = fleet.testinfra(fleet[name])
    root.run_test("nohup sleep 600 >/dev/null 2>&1 & echo $! > /var/run/yum.pid")
    with provision_in_background(fleet, name, tmp_path, *HELD) as proc:
        until(lambda: root.run("ls /var/lib/pyinstall/jobs/*.pid").rc == 0, "a job waiting for the lock")
        fleet.lab.stop([fleet[name].name])
        time.sleep(3)
        host = interrupt(proc, fleet, name)
    assert "waiting for the host to come back" in host["error"] or "Ctrl-C" in host["error"], host
    retry_file(tmp_path, fleet, name)
    fleet.lab.start([fleet[name].name])  # a boot: the lock's holder and the job are gone
    converges(fleet, name, tmp_path)
