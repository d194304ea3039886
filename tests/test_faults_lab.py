"""Faults on the lab, each with the exact behaviour expected and nothing lost."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab.testing import PYINSTALL, Fleet, kill_sessions, wait_for

pytestmark = pytest.mark.lab


def test_sigint_mid_run_reports_every_host_then_a_rerun_converges(make_fleet, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet("sigint", "el6:3")
    env = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "200"}
    retry = tmp_path / "provision.retry"
    argv = [*PYINSTALL, "provision", "--json", "-i", str(fleet.inventory), "--forks", "1",
            "--retry-file", str(retry)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = fleet.testinfra(fleet["el6-01"])
    deadline = time.monotonic() + 60
    while first.run("rpm -q libcgroup").rc != 0:  # the first host is half way through its play
        assert time.monotonic() < deadline, "provisioning never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    hosts = json.loads(out)["hosts"]
    assert list(hosts) == [h.name for h in fleet.hosts]
    assert hosts[fleet["el6-01"].name]["status"] in ("interrupted", "changed")
    for name in ("el6-02", "el6-03"):
        assert hosts[fleet[name].name]["status"] == "skipped"
        assert "interrupted" in hosts[fleet[name].name]["error"]
        assert fleet.testinfra(fleet[name]).run("rpm -q docker-io").rc != 0, "a host not started is untouched"
    to_retry = [name for name, h in hosts.items() if h["status"] in ("interrupted", "skipped")]
    assert retry.read_text().split() == to_retry
    assert json.loads((tmp_path / "pyinstall-report.json").read_text()) == {"hosts": hosts}, "the report is saved"

    # A transaction the Ctrl-C left under way finishes on the host first (JOB_RUNNING's own advice).
    running = 'for p in /var/lib/pyinstall/jobs/*.pid; do [ -f "$p" ] && kill -0 "$(cat "$p")" && exit 1; done; true'
    wait_for(first, running, "the transaction left running never ended", 300)
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, {n: (h["status"], h["error"], [t for t in h["tasks"] if t["status"] != "ok"])
                                   for n, h in json.loads(again.stdout)["hosts"].items()}  # fmt: skip
    final = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert all(h["changed"] == 0 for h in json.loads(final.stdout)["hosts"].values())


def test_yum_lock_held_by_a_live_process_then_a_stale_one(make_fleet, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet("yumlock", "el6:1")
    name = fleet["el6-01"].name
    host = fleet.testinfra(fleet["el6-01"])
    host.run_test("nohup sleep 600 >/dev/null 2>&1 & echo $! > /var/run/yum.pid")
    holder = host.check_output("cat /var/run/yum.pid")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(fleet.inventory.read_text().replace("[all:vars]", "[all:vars]\nyum_lock_timeout=2"))
    env = {**os.environ, "HOME": str(tmp_path)}
    base = [*PYINSTALL, "provision", "--json", "-i", str(inventory), "--retry-file", ""]

    refused = subprocess.run(base, capture_output=True, text=True, env=env, timeout=300)
    report = json.loads(refused.stdout)["hosts"][name]
    assert refused.returncode == 2 and report["tasks"] == [], "preflight refuses a host whose yum is busy"
    assert f"the package manager is locked by PID {holder} (sleep 600" in report["error"]

    # Told to go ahead anyway, each yum command waits (here 2 s), then names the holder.
    waited = subprocess.run([*base, "--ignore-preflight-errors", "YUM_LOCK"], capture_output=True, text=True,
                            env=env, timeout=300)  # fmt: skip
    failed = next(t for t in json.loads(waited.stdout)["hosts"][name]["tasks"] if t["status"] == "failed")
    assert waited.returncode == 2 and failed["rc"] == 75
    assert (
        f"the package manager is locked by PID {holder} (sleep 600 ) for over 2s" in failed["stdout"] + failed["stderr"]
    )
    assert host.run("rpm -q docker-io").rc != 0

    host.run_test(f"kill {holder}")  # the holder is gone; its pid file stays behind: a stale lock
    done = subprocess.run(base, capture_output=True, text=True, env=env, timeout=600)
    report = json.loads(done.stdout)["hosts"][name]
    assert done.returncode == 0, report
    assert "YUM_LOCK_STALE" in {f["code"] for f in report["findings"]}


def _encodings(secret: str) -> list[str]:
    """``secret`` as it looks inside base64 text, whatever its offset there (3 alignments)."""
    return [base64.b64encode(b"x" * k + secret.encode()).decode()[4:-4] for k in range(3)]


def test_secrets_never_show_at_the_highest_verbosity_nor_in_the_log(make_fleet, tmp_path: Path) -> None:
    """A become password and a repository password: not in -vv, --diff, --json, the debug log or the run
    records, neither as they are nor base64-encoded (repository files travel so)."""
    fleet: Fleet = make_fleet("canary", "el7+tmpfs:1")
    name = fleet["el7-tmpfs-01"].name
    canary, repo_canary = "canary-8d1e7f2b", "repo-canary-5c0a9e31d7f4b6a2"
    root = fleet.testinfra(fleet["el7-tmpfs-01"])
    root.run_test(
        "id ops || useradd -m ops; echo 'ops:%s' | chpasswd; "
        "printf 'Defaults requiretty\\nops ALL=(ALL) ALL\\n' > /etc/sudoers.d/ops; chmod 440 /etc/sudoers.d/ops; "
        "install -d -m 700 -o ops -g ops ~ops/.ssh; "
        "install -m 600 -o ops -g ops /root/.ssh/authorized_keys ~ops/.ssh/authorized_keys",
        canary,
    )
    inventory = tmp_path / "hosts.ini"
    text = fleet.inventory.read_text().replace("ansible_user=root", "ansible_user=ops\nansible_become=true")
    repos = f"yum_repos={{'docker-ce-stable': {{'username': 'ops', 'password': '{repo_canary}'}}}}"
    inventory.write_text(text + f"ansible_become_password={canary}\n{repos}\n")
    log = tmp_path / "debug.log"
    env = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "200"}
    proc = subprocess.run([*PYINSTALL, "provision", "-vv", "--diff", "-i", str(inventory), "--log-file", str(log)],
                          capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "install docker-ce" in proc.stdout and "$ " in proc.stdout, "-vv shows the commands"
    logged = log.read_text()
    assert "install docker-ce" in logged and "printf %s ******** | base64 -d" in logged, "every command, masked"
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    for secret in (canary, repo_canary, *_encodings(repo_canary)):
        assert secret not in proc.stdout + proc.stderr + logged, secret
    assert root.run(f"grep -rl {canary} /var/log /tmp /etc/docker /etc/yum.repos.d 2>/dev/null").stdout == ""
    as_json = subprocess.run([*PYINSTALL, "provision", "--json", "-i", str(inventory)],
                             capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert json.loads(as_json.stdout)["hosts"][name]["changed"] == 0
    kept = (tmp_path / "state" / "pyinstall" / "runs.sqlite").read_bytes()  # both runs, recorded
    assert kept.count(b"install docker-ce") >= 1
    for secret in (canary, repo_canary, *_encodings(repo_canary)):
        assert secret not in as_json.stdout, secret
        assert secret.encode() not in kept, secret


def _lock_patient(fleet: Fleet, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """argv and env of a provision whose yum waits up to 300 s for another yum's lock instead of refusing."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(fleet.inventory.read_text().replace("[all:vars]", "[all:vars]\nyum_lock_timeout=300"))
    argv = [*PYINSTALL, "provision", "--json", "-i", str(inventory), "--ignore-preflight-errors", "YUM_LOCK"]
    return argv, {**os.environ, "HOME": str(tmp_path)}


def _start_held(fleet: Fleet, name: str, argv: list[str], env: dict[str, str]):
    """Another yum holds the lock on host NAME; pyinstall starts, and returns once its transaction waits
    there (detached), so that things can be cut. Returns (testinfra host, the holder's PID, pyinstall)."""
    host = fleet.testinfra(fleet[name])
    host.run_test("nohup sleep 600 >/dev/null 2>&1 & echo $! > /var/run/yum.pid")
    holder = host.check_output("cat /var/run/yum.pid")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    wait_for(host, "ls /var/lib/pyinstall/jobs/*.pid", "no detached transaction started", 60)
    return host, holder, proc


@pytest.fixture
def drop(make_fleet, tmp_path: Path):
    fleet: Fleet = make_fleet("drop", "el6:2")
    argv, env = _lock_patient(fleet, tmp_path)
    return fleet, [*argv, "--retry-file", ""], env


def test_a_dropped_connection_does_not_kill_the_transaction(drop) -> None:
    fleet, argv, env = drop
    name = fleet["el6-02"].name
    host, holder, proc = _start_held(fleet, "el6-02", [*argv, "--limit", name], env)
    kill_sessions(host)  # this very session goes too
    host = fleet.testinfra(fleet["el6-02"])
    assert host.run("pgrep -f 'yum -y update device-mapper-libs'").rc == 0, "the transaction outlived the session"
    host.run_test(f"kill {holder}")
    out, _ = proc.communicate(timeout=300)
    report = json.loads(out)["hosts"][name]
    assert proc.returncode == 0, report  # pyinstall reconnected, verified the host key again, and polled on
    assert host.check_output("rpm -q --qf '%{VERSION}' docker-io") == "20.10.24"


def test_a_transaction_left_by_a_dead_run_is_found_not_repeated(drop) -> None:
    fleet, argv, env = drop
    name = fleet["el6-01"].name
    host, holder, proc = _start_held(fleet, "el6-01", [*argv, "--limit", name], env)
    proc.kill()  # the controller dies (a laptop closed mid-rollout)
    proc.communicate()

    again = subprocess.run([*argv, "--limit", name], capture_output=True, text=True, env=env, timeout=300)
    report = json.loads(again.stdout)["hosts"][name]
    assert again.returncode == 2 and report["tasks"] == [], "not blindly retried"
    assert "JOB_RUNNING" in report["error"] and "wait for it to finish" in report["hint"]

    host.run_test(f"kill {holder}")
    wait_for(host, "ls /var/lib/pyinstall/jobs/*.rc", "the orphaned transaction never finished")
    done = subprocess.run([*argv, "--limit", name], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    assert host.run("docker info").rc == 0


def test_ten_hosts_three_stopped_max_fail_20_percent(make_fleet, tmp_path: Path) -> None:
    """Batches of 5: three stopped hosts in the first exceed 20 %, so the second batch never starts."""
    fleet: Fleet = make_fleet("budget", "el6:10")
    stopped = [fleet[f"el6-0{i}"].name for i in (2, 3, 4)]
    fleet.lab.stop(stopped)
    retry = tmp_path / "provision.retry"
    try:
        proc = subprocess.run(
            [*PYINSTALL, "provision", "--check", "--json", "-i", str(fleet.inventory),
             "--serial", "5", "--max-fail-percentage", "20", "--retry-file", str(retry)],
            capture_output=True, text=True, env={**os.environ, "HOME": str(tmp_path)}, timeout=300,
        )  # fmt: skip
    finally:
        fleet.lab.start(stopped)
    hosts = json.loads(proc.stdout)["hosts"]
    status = {name.removeprefix(fleet.prefix): h["status"] for name, h in hosts.items()}
    assert proc.returncode == 4
    assert [status[f"el6-{i:02d}"] for i in range(1, 6)] == [
        "would change", "unreachable", "unreachable", "unreachable", "would change"
    ]  # fmt: skip
    assert all(status[f"el6-{i:02d}"] == "skipped" for i in range(6, 11))
    assert all(hosts[fleet[f"el6-{i:02d}"].name]["commands"] == 0 for i in range(6, 11)), "never contacted"
    assert "batch 1 of 2 had 3 of 5 hosts fail" in hosts[fleet["el6-06"].name]["error"]
    assert retry.read_text().split() == [*stopped, *(fleet[f"el6-{i:02d}"].name for i in range(6, 11))]


def test_a_host_that_hangs_mid_run_is_unknown_and_the_rest_finish(make_fleet, tmp_path: Path) -> None:
    """el6-02 freezes (every process stopped, its TCP still acknowledged) while its yum transaction waits for
    the lock: the poll times out, the host is unreachable with that step unknown, el6-01 is done meanwhile."""
    fleet: Fleet = make_fleet("hang", "el6:2")
    hung, fine = fleet["el6-02"].name, fleet["el6-01"].name
    argv, env = _lock_patient(fleet, tmp_path)
    argv += ["--retry-file", str(tmp_path / "retry")]
    host, holder, proc = _start_held(fleet, "el6-02", argv, env)
    try:
        fleet.lab.freeze([hung])
        out, _ = proc.communicate(timeout=300)
    finally:
        fleet.lab.freeze([hung], frozen=False)
    hosts = json.loads(out)["hosts"]
    assert proc.returncode == 4, json.dumps(hosts, indent=1)[-6000:]
    assert hosts[fine]["status"] == "changed"
    assert hosts[hung]["status"] == "unreachable" and hosts[hung]["tasks"][-1]["status"] == "unknown"
    assert "the host stopped answering" in hosts[hung]["error"], hosts[hung]["error"]
    assert hosts[hung]["hint"] == "the outcome on the host is unknown; check it, then run again"
    assert (tmp_path / "retry").read_text() == f"{hung}\n"

    host.run_test(f"kill {holder}")
    wait_for(host, "ls /var/lib/pyinstall/jobs/*.rc", "the transaction never finished after the thaw")
    again = subprocess.run([*argv, "--limit", f"@{tmp_path / 'retry'}"], capture_output=True, text=True, env=env,
                           timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stdout[-3000:]


def test_a_transaction_killed_mid_way_is_reported_lost_at_once(make_fleet, tmp_path: Path) -> None:
    """What a reboot does to a yum transaction, without the reboot: its processes die and leave no status.
    The poll says so at once (not after the 15 minutes a transaction may take); a re-run converges."""
    fleet: Fleet = make_fleet("lost", "el6:1")
    name = fleet["el6-01"].name
    argv, env = _lock_patient(fleet, tmp_path)
    host, holder, proc = _start_held(fleet, "el6-01", [*argv, "--retry-file", ""], env)
    host.run_test("for p in /var/lib/pyinstall/jobs/*.pid; do kill -9 -- -$(cat $p); done")
    out, _ = proc.communicate(timeout=120)
    report = json.loads(out)["hosts"][name]
    assert proc.returncode == 2, json.dumps(report)[:3000]
    lost = report["tasks"][-1]
    assert lost["status"] == "failed" and "the transaction was killed before it finished" in lost["msg"]
    host.run_test(f"kill {holder}")
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:]
    findings = {f["code"] for f in json.loads(again.stdout)["hosts"][name]["findings"]}
    assert "JOB_LOST" in findings, "the next run says what the killed one left"


@pytest.mark.parametrize("kind", ["el7", pytest.param("el7@uml", marks=pytest.mark.uml)])
def test_a_host_rebooted_mid_transaction_is_told_once_it_is_back(make_fleet, tmp_path: Path, kind: str) -> None:
    """The host restarts (a new boot id, every process gone; under User-Mode Linux a real reboot of its own
    kernel, its disk kept) while its yum transaction waits: the poll connects again once sshd is back and
    says the host rebooted; a plain re-run says what the reboot left (JOB_LOST) and converges."""
    fleet: Fleet = make_fleet(f"reboot-{kind.replace('@', '-')}", f"{kind}:1")
    short = fleet.hosts[0].name.removeprefix(fleet.prefix)
    name = fleet[short].name
    argv, env = _lock_patient(fleet, tmp_path)
    _, _, proc = _start_held(fleet, short, [*argv, "--retry-file", ""], env)
    fleet.lab.restart([name])  # returns once the host answers SSH again
    back = time.monotonic()
    out, _ = proc.communicate(timeout=120)
    report = json.loads(out)["hosts"][name]
    assert proc.returncode == 2, json.dumps(report)[:3000]
    rebooted = report["tasks"][-1]
    assert rebooted["status"] == "failed" and "the host rebooted before it finished" in rebooted["msg"], rebooted
    print(f"told {time.monotonic() - back:.1f} s after the host was back")
    plain = [a for a in argv if a != "--json"]
    again = subprocess.run(plain, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "preflight warning: JOB_LOST: a yum transaction from an earlier run died unfinished" in again.stdout, (
        "the next run says what the reboot left, without -v"
    )
