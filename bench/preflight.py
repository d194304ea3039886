"""Preflight cost: `pyinstall check` against a bare paramiko fan-out running the same facts command.

    python -m bench.preflight [--hosts 50,100] [--forks N]

For each fleet size, on lab hosts: wall time, the controller's CPU per host (user + system), SSH
connections per host (counted by each host's sshd), remote commands per host, and the controller's peak
RSS, each tool run in its own process. `pyinstall
facts` runs the same one command; `check` adds, on each host that passes, the query of the versions its
repositories offer. The target (a benchmark figure, not a test): facts within 1.2x of the bare fan-out's
wall time, 1 connection per host, controller under 60 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.lab import Lab


def bare_fanout(spec_file: str, forks: int) -> None:
    """Child process: connect, run the facts script once, read the answer; nothing else."""
    import paramiko

    from installer.facts import script

    spec = json.loads(Path(spec_file).read_text())
    command = "sh -c " + shlex.quote(spec.get("command") or script())
    # known_hosts read once, each client given its host's keys: reading the file per connection makes the
    # fan-out quadratic in the fleet (1,000 hosts took 439 s that way, 0.42 s of CPU per host).
    known = paramiko.HostKeys(spec["known_hosts"])

    def one(address: str) -> int:
        client = paramiko.SSHClient()
        for keytype, key in (known.lookup(address) or {}).items():
            client.get_host_keys().add(address, keytype, key)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(address, username="root", key_filename=spec["key"], allow_agent=False, look_for_keys=False)
        try:
            _, out, _ = client.exec_command(command, timeout=60)
            return len(out.read())
        finally:
            client.close()

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=forks) as pool:
        sizes = list(pool.map(one, spec["addresses"]))
    print(json.dumps({"wall": time.monotonic() - start, "ok": sum(s > 0 for s in sizes), "commands": len(sizes)}))


def sshd_counts(lab: Lab) -> dict[str, tuple[int, int]]:
    """Per host, the SSH logins its sshd has accepted so far, and the sessions (a command, a shell, sftp)
    it has started (its LogLevel is VERBOSE)."""
    counts = {}
    for h in lab.hosts():
        log = h.dir / "upper/var/log/sshd.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        counts[h.name] = (text.count("Accepted publickey"), text.count("Starting session:"))
    return counts


def measure(argv: list[str], lab: Lab, env: dict[str, str] | None = None) -> dict:
    """One run of argv: wall time, CPU (user + system, waited-for children included), peak RSS, output,
    the SSH logins each host accepted meanwhile and the sessions all of them started."""
    before = sshd_counts(lab)
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out_f, stderr=err_f, text=True, env=env)  # files: a pipe could fill
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    after = sshd_counts(lab)
    logins = [after[n][0] - before.get(n, (0, 0))[0] for n in after]
    sessions = sum(after[n][1] - before.get(n, (0, 0))[1] for n in after)
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime, "out": out,
            "err": err, "logins": logins, "sessions": sessions, "exit": os.waitstatus_to_exitcode(status)}  # fmt: skip


def measure_bare(lab: Lab, hosts: list, forks: int, command: str | None = None) -> dict:
    """The bare paramiko fan-out (bare_fanout, in a process of its own) on ``hosts``: ``command`` on each,
    the facts command when None."""
    spec = {"addresses": [h.address for h in hosts], "key": str(lab.key), "known_hosts": str(lab.known_hosts)}
    if command is not None:
        spec["command"] = command
    path = lab.root / "bare.json"
    path.write_text(json.dumps(spec))
    return measure([sys.executable, "-m", "bench.preflight", "--bare-worker", str(path), "--forks", str(forks)], lab)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="50,100", help="fleet sizes, comma separated")
    parser.add_argument("--forks", type=int, help="parallel hosts for both tools (default: the fleet size)")
    parser.add_argument("--subnet", default="127.89", help="the lab's addresses (two octets: up to 62,720 hosts)")
    parser.add_argument("--bare-worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_worker:
        bare_fanout(args.bare_worker, args.forks or 100)
        return 0

    sizes = [int(n) for n in args.hosts.split(",")]
    root = Path(tempfile.mkdtemp(prefix="pyinstall-bench-preflight-"))
    lab = Lab(root, subnet=args.subnet)
    rows = []
    try:
        for size in sizes:
            hosts = lab.up(f"el6:{size}", prefix="pf-")
            forks = args.forks or size
            bare = measure_bare(lab, hosts, forks)
            limit = ",".join(h.name for h in hosts)
            facts = measure([sys.executable, "-m", "installer.cli", "facts", "--json", "-i",
                             str(root / "inventory.ini"), "--limit", limit, "--forks", str(forks)], lab)  # fmt: skip
            check = measure([sys.executable, "-m", "installer.cli", "check", "--json", "-i",
                             str(root / "inventory.ini"), "--limit", limit, "--forks", str(forks)], lab)  # fmt: skip
            for m in (facts, check):
                if not m["out"].startswith("{"):  # no report: the run failed before it, say why
                    raise SystemExit(f"pyinstall gave no report (exit {m['exit']}):\n{m['err'][-3000:]}")
            report = json.loads(check["out"])["hosts"]
            passed = sum(h["status"] == "ok" for h in report.values())
            commands = sum(h["commands"] for h in report.values())
            bare_result = json.loads(bare["out"])
            gathered = sum("error" not in h for h in json.loads(facts["out"])["hosts"].values())
            rows.append((size, forks, bare, bare_result, facts, gathered, check, passed, commands))
    finally:
        lab.down(purge=True)

    print(f"{'hosts':>5} {'forks':>5}  {'tool':<16} {'wall s':>7} {'ratio':>6} {'CPU ms/host':>11} {'conn/host':>9} "
          f"{'cmd/host':>8} {'peak MB':>8}  ok")  # fmt: skip
    for size, forks, bare, bare_result, facts, gathered, check, passed, commands in rows:
        # facts: the same one command as the bare fan-out; check adds, on hosts that pass, the query of
        # the versions their repositories offer (yum reads the repository metadata).
        for name, m, cmds, ok in (("bare paramiko", bare, bare_result["commands"], bare_result["ok"]),
                                  ("pyinstall facts", facts, size, gathered),
                                  ("pyinstall check", check, commands, passed)):  # fmt: skip
            print(f"{size:>5} {forks:>5}  {name:<16} {m['wall']:>7.2f} {m['wall'] / bare['wall']:>6.2f} "
                  f"{m['cpu'] / size * 1000:>11.1f} {sum(m['logins']) / size:>9.2f} {cmds / size:>8.2f} "
                  f"{m['rss_mb']:>8.1f}  {ok}/{size}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
