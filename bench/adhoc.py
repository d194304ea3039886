"""`pyinstall exec` against a bare paramiko fan-out of the same command, on the same lab hosts.

    python -m bench.adhoc [--hosts 50] [--repeat 3] [--command 'cat /etc/redhat-release; uptime']

On --hosts EL7 lab hosts (forks = hosts), each tool in a process of its own: the median wall time of --repeat
runs, its ratio to the bare fan-out's, the controller's CPU per host, the SSH logins per host (counted by
each host's sshd) and the peak RSS. pyinstall's run is kept in its run database like any other (a throwaway
one here), as an operator's would be. A benchmark figure, never a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench.preflight import measure, measure_bare
from tests.lab import Lab


def _median(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda m: m["wall"])[len(runs) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--command", default="cat /etc/redhat-release; uptime")
    parser.add_argument("--subnet", default="127.91", help="the lab's addresses (two octets)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="pyinstall-bench-exec-"))
    lab = Lab(root, subnet=args.subnet)
    try:
        hosts = lab.up(f"el7:{args.hosts}", prefix="ex-")
        argv = [sys.executable, "-m", "installer.cli", "exec", "--json", "-i", str(root / "inventory.ini"),
                "--limit", "all", "--forks", str(args.hosts), "--database", f"sqlite:///{root / 'runs.db'}",
                "--", args.command]  # fmt: skip
        bare_runs, exec_runs = [], []
        for _ in range(args.repeat):
            bare_runs.append(measure_bare(lab, hosts, args.hosts, args.command))
            run = measure(argv, lab)
            if run["exit"] != 0:
                raise SystemExit(
                    f"pyinstall exec failed (exit {run['exit']}):\n{run['out'][-2000:]}{run['err'][-2000:]}"
                )
            said = json.loads(run["out"])["hosts"]
            if len(said) != args.hosts or any(h["rc"] != 0 or not h["stdout"] for h in said.values()):
                raise SystemExit(f"pyinstall exec did not run on every host:\n{run['out'][-2000:]}")
            exec_runs.append(run)
        bare, ran = _median(bare_runs), _median(exec_runs)
        if json.loads(bare["out"])["ok"] != args.hosts:
            raise SystemExit(f"the bare fan-out did not run on every host: {bare['out']}")
    finally:
        lab.down(purge=True)

    n = args.hosts
    print(f"{n} EL7 lab hosts, forks {n}, median of {args.repeat}: {args.command!r}")
    print(f"{'tool':<16} {'wall s':>7} {'ratio':>6} {'CPU ms/host':>11} {'login/host':>10} {'peak MB':>8}")
    for name, m in (("bare paramiko", bare), ("pyinstall exec", ran)):
        print(f"{name:<16} {m['wall']:>7.2f} {m['wall'] / bare['wall']:>6.2f} {m['cpu'] / n * 1000:>11.1f} "
              f"{sum(m['logins']) / n:>10.2f} {m['rss_mb']:>8.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
