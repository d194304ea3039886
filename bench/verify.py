"""Verification cost: `pyinstall verify` on provisioned lab hosts, against testinfra run as its users run
it (`pytest --hosts=...`, its paramiko backend, one host after another) and a bare paramiko fan-out of
the same commands, all three on the same hosts with the same tests where they compare.

    python -m bench.verify [--hosts 10]

Rows: the bundled suite (8 tests, a container run among them); the same four site tests (a package, a
file's mode, the daemon answering, a container run) through pyinstall verify --tests and through testinfra;
the four tests' commands in one paramiko command per host. Wall time, ratio to the bare fan-out, the
largest process's peak RSS.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
from pathlib import Path

from bench.preflight import measure, measure_bare
from installer.probe import PROBE
from tests.lab import Lab

SITE_TESTS = """
import base64, pathlib

PROBE = base64.b64encode(pathlib.Path({probe!r}).read_bytes()).decode()


def test_site_package(host):
    assert host.package("docker-ce").is_installed or host.package("docker-io").is_installed


def test_site_config_mode(host):
    f = host.file("/etc/docker/daemon.json") if host.file("/etc/docker/daemon.json").exists \\
        else host.file("/etc/sysconfig/docker")
    assert f.mode == 0o644


def test_site_daemon_answers(host):
    assert host.run("docker info").rc == 0


def test_site_container(host):
    assert host.run(f"printf %s {{PROBE}} | base64 -d | docker import - bench/probe:1").rc == 0
    try:
        assert host.run("docker run --rm --net=none bench/probe:1 /echo hi").stdout.strip() == "hi"
    finally:
        host.run("docker rmi bench/probe:1")
"""
BARE = (
    "rpm -q docker-ce docker-io; stat -c %a /etc/docker/daemon.json /etc/sysconfig/docker 2>/dev/null; "
    "docker info >/dev/null && printf %s {probe} | base64 -d | docker import - bench/probe:1 >/dev/null && "
    "docker run --rm --net=none bench/probe:1 /echo hi; docker rmi bench/probe:1 >/dev/null"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pyinstall-bench-verify-"))
    lab = Lab(root, subnet="127.0.91")
    half = args.hosts // 2
    try:
        hosts = lab.up(f"el6+tmpfs:{half},el7+tmpfs:{args.hosts - half}", prefix="vf-")
        inventory = root / "inventory.ini"
        forks = ["--forks", str(len(hosts))]
        provisioned = measure([sys.executable, "-m", "installer.cli", "provision", "-i", str(inventory), *forks], lab)
        if provisioned["exit"] != 0:
            print(provisioned["out"][-3000:])
            return 1
        site = root / "test_site.py"
        site.write_text(SITE_TESTS.format(probe=str(PROBE)))
        pyinstall = [sys.executable, "-m", "installer.cli", "verify", "--json", "-i", str(inventory), *forks]
        suite = measure(pyinstall, lab)
        ours = measure([*pyinstall, "--tests", str(site), "--keyword", "site"], lab)
        targets = ",".join(f"paramiko://root@{h.address}" for h in hosts)
        peer = measure([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hosts", targets,
                        f"--ssh-identity-file={lab.key}", "--rootdir", str(root), str(site)], lab)  # fmt: skip
        command = BARE.format(probe=base64.b64encode(PROBE.read_bytes()).decode())
        bare = measure_bare(lab, hosts, len(hosts), command)
    finally:
        lab.down(purge=True)
    answered = json.loads(bare["out"] or "{}").get("ok")
    if bare["exit"] != 0 or answered != len(hosts):
        print(f"the bare fan-out failed ({answered} of {len(hosts)} answered):\n{bare['err'][-2000:]}")
        return 1
    for name, m in (("pyinstall verify (suite)", suite), ("pyinstall verify --tests", ours), ("testinfra", peer)):
        if m["exit"] != 0:
            print(f"{name} exited {m['exit']}:\n{m['out'][-2000:]}\n{m['err'][-2000:]}")
            return 1
    print(f"{len(hosts)} hosts (half EL6, half EL7), provisioned")
    print(f"{'tool':<34} {'wall s':>7} {'ratio':>6} {'peak MB':>8}")
    rows = (("pyinstall verify, bundled suite", suite), ("pyinstall verify, 4 site tests", ours),
            ("testinfra (pytest --hosts), 4 tests", peer), ("bare paramiko fan-out, same", bare))  # fmt: skip
    for name, m in rows:
        print(f"{name:<34} {m['wall']:>7.2f} {m['wall'] / bare['wall']:>6.2f} {m['rss_mb']:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
