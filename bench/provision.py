"""Provisioning cost: `pyinstall provision` on fresh lab hosts, then again on the provisioned fleet, against
a bare paramiko fan-out that checks the same state (packages, config checksums, service, daemon) in one
command.

    python -m bench.provision [--hosts 20] [--forks N] [--noisy] [--subnet 127.0.90]

For the first provisioning of fresh hosts (half EL6, half EL7) and for the re-run: wall time, SSH
connections and remote commands per host, the controller's peak RSS. Target for the re-run (a benchmark
figure, not a test): at most 2 commands per host and within 2x the bare fan-out. ``--noisy``: the same on
the lab's noisy hosts (banners from .bashrc on stdout and stderr, a German locale, an SSH banner), which
should cost the same commands and, within noise, the same time. Also printed: the memory the provisioned
hosts take (each runs a real dockerd and containerd), which bounds how many this machine can hold.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench.lab_scale import mem_available_kib
from bench.preflight import measure, measure_bare
from tests.lab import Lab

STATE_CHECK = (
    "rpm -q docker-io docker-ce; "
    "sha256sum /etc/sysconfig/docker /etc/docker/daemon.json /etc/yum.repos.d/pyinstall-*.repo 2>/dev/null; "
    "(systemctl is-enabled docker || chkconfig docker) 2>/dev/null; docker info >/dev/null 2>&1 && echo up"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--forks", type=int, help="hosts at once (default: all of them)")
    parser.add_argument("--noisy", action="store_true", help="the lab's noisy hosts instead of quiet ones")
    parser.add_argument("--subnet", default="127.0.90", help="the lab's subnet (two octets for over 250 hosts)")
    args = parser.parse_args()
    kind = "-noisy" if args.noisy else ""
    root = Path(tempfile.mkdtemp(prefix="pyinstall-bench-provision-"))
    lab = Lab(root, subnet=args.subnet)
    half = args.hosts // 2
    forks = str(args.forks or args.hosts)
    try:
        lab.prepare()
        before = mem_available_kib()
        hosts = lab.up(f"el6{kind}:{half},el7{kind}:{args.hosts - half}", prefix="pv-")
        inventory = root / "inventory.ini"
        first = measure([sys.executable, "-m", "installer.cli", "provision", "--json", "-i", str(inventory),
                         "--forks", forks], lab)  # fmt: skip
        if first["exit"] != 0:
            failed = {n: h for n, h in json.loads(first["out"] or '{"hosts": {}}')["hosts"].items()
                      if h["status"] not in ("ok", "changed")}  # fmt: skip
            for name, h in failed.items():  # every failed step: the last is often a rollback, not the cause
                print(name, h["status"], h["error"])
                for task in (t for t in h["tasks"] if t["status"] == "failed"):
                    print("   ", task.get("name"), task.get("msg"), task.get("stderr", "")[-500:])
            print(first["err"][-3000:])
            return 1
        held_mib = (before - mem_available_kib()) / 1024
        bare = measure_bare(lab, hosts, int(forks), STATE_CHECK)
        again = measure([sys.executable, "-m", "installer.cli", "provision", "--json", "-i", str(inventory),
                         "--forks", forks], lab)  # fmt: skip
        report = json.loads(again["out"])["hosts"]
        first_commands = sum(h["commands"] for h in json.loads(first["out"])["hosts"].values())
    finally:
        lab.down(purge=True)
    changed = sum(h["changed"] for h in report.values())
    commands = sum(h["commands"] for h in report.values())
    n = len(report)
    print(f"{'tool':<26} {'wall s':>7} {'ratio':>6} {'conn/host':>9} {'cmd/host':>8} {'peak MB':>8}")
    for name, m, cmds in (("pyinstall provision fresh", first, first_commands), ("bare state check", bare, n),
                          ("pyinstall provision re-run", again, commands)):  # fmt: skip
        ratio = f"{m['wall'] / bare['wall']:.2f}" if m is not first else "-"  # fresh vs a state check: no pair
        print(f"{name:<26} {m['wall']:>7.2f} {ratio:>6} {sum(m['logins']) / n:>9.2f} "
              f"{cmds / n:>8.2f} {m['rss_mb']:>8.1f}")  # fmt: skip
    print(f"changed on the re-run: {changed}; forks {forks}; the provisioned hosts hold {held_mib:.0f} MiB "
          f"({held_mib / n:.1f} MiB a host)")  # fmt: skip
    return 0 if changed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
