"""pyinstall beside the SSH floor and its peers, on the same lab hosts, in one run.

    pip install -e '.[test,bench]'       # ansible-core comes with the tests, pyinfra with the benchmarks
    python -m bench.compare [--hosts 50] [--rerun-hosts 20] [--repeat 3] [--skip pyinfra,ansible]

Three pieces of work, each done by every tool on the same hosts (EL7 lab hosts; host keys checked by
every tool against the lab's known_hosts):

- one host: pyinstall check, pyinfra's three facts (OS, arch, kernel), `ansible -m setup`;
- gather on --hosts hosts (forks = hosts): the same, beside a bare paramiko fan-out of `true` (the SSH
  floor) and of pyinstall's own facts command;
- re-run with nothing to change on --rerun-hosts hosts, once pyinstall has provisioned them: `pyinstall
  provision`, a pyinfra deploy and an Ansible playbook that state the same (the package, the repository
  and daemon files, the service enabled and running), beside the bare fan-out of `true` and of one
  command that checks all of it.

For each: the median wall time of --repeat runs, its ratio to the floor (`true`), the controller's CPU
per host (user + system, its child processes included), its peak RSS, and the SSH connections and
sessions (commands) per host, counted by each host's sshd. Targets are benchmark figures, never tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.preflight import measure, measure_bare
from bench.provision import STATE_CHECK
from tests.lab import Lab

ROOT = Path(__file__).resolve().parent.parent
PYINSTALL = [sys.executable, "-m", "installer.cli"]
TOOLS_BIN = Path(sys.executable).parent
REPO_FILE = "/etc/yum.repos.d/pyinstall-docker-ce-stable.repo"
DAEMON_JSON = "/etc/docker/daemon.json"


def _timed(argv: list[str], lab: Lab, repeat: int, env=None, ok=None) -> dict:
    """``repeat`` runs of argv: the median wall time, and the CPU, RSS and per-host counts of that run.
    ``env``: the environment, or a function that makes a fresh one for each run."""
    runs = []
    for _ in range(repeat):
        m = measure(argv, lab, env() if callable(env) else env)
        if m["exit"] != 0 or (ok and not ok(m)):
            raise SystemExit(f"{shlex.join(argv)} failed (exit {m['exit']}):\n{m['out'][-2000:]}\n{m['err'][-2000:]}")
        runs.append(m)
    return _median(runs)


def _bare(lab: Lab, hosts: list, command: str | None, repeat: int) -> dict:
    return _median([measure_bare(lab, hosts, len(hosts), command) for _ in range(repeat)])


def _median(runs: list[dict]) -> dict:
    """The run of median wall time (its CPU, RSS and counts go with it)."""
    return sorted(runs, key=lambda m: m["wall"])[len(runs) // 2]


def _pyinfra_inventory(lab: Lab, hosts: list, path: Path) -> Path:
    data = {"ssh_user": "root", "ssh_key": str(lab.key), "ssh_port": hosts[0].port,
            "ssh_known_hosts_file": str(lab.known_hosts), "ssh_strict_host_key_checking": "yes"}  # fmt: skip
    path.write_text(f"hosts = {[(h.address, data) for h in hosts]!r}\n")  # a list: pyinfra ignores a tuple
    return path


def _ansible_env(lab: Lab, work: Path) -> dict[str, str]:
    control = Path(tempfile.mkdtemp(prefix="cp-", dir=work))  # a fresh ControlPath: every run starts cold
    return {
        **os.environ,
        "HOME": str(work),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_ARGS": f"-C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={lab.known_hosts} "
        "-o StrictHostKeyChecking=yes",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
    }


def _no_change_deploys(lab: Lab, host, work: Path) -> tuple[Path, Path]:
    """A pyinfra deploy and an Ansible playbook that state what pyinstall made of the hosts (the files
    as one provisioned host has them): run again, they change nothing."""
    for remote in (REPO_FILE, DAEMON_JSON):
        proc = subprocess.run(
            ["ssh", "-i", str(lab.key), "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o",
             "StrictHostKeyChecking=yes", "-p", str(host.port), f"root@{host.address}", f"cat {remote}"],
            capture_output=True, check=True,
        )  # fmt: skip
        (work / Path(remote).name).write_bytes(proc.stdout)
    deploy = work / "deploy.py"
    deploy.write_text(f"""from pyinfra.operations import files, systemd, yum

yum.packages(name="docker-ce installed", packages=["docker-ce"])
files.put(name="repository file", src={str(work / Path(REPO_FILE).name)!r}, dest={REPO_FILE!r})
files.put(name="daemon configuration", src={str(work / "daemon.json")!r}, dest={DAEMON_JSON!r})
systemd.service(name="docker enabled and running", service="docker", running=True, enabled=True)
""")
    playbook = work / "playbook.yml"
    playbook.write_text(f"""- hosts: all
  gather_facts: false
  tasks:
    - name: docker-ce installed
      ansible.builtin.command: rpm -q docker-ce
      changed_when: false
    - name: repository file
      ansible.builtin.copy: {{src: {work / Path(REPO_FILE).name}, dest: {REPO_FILE}}}
    - name: daemon configuration
      ansible.builtin.copy: {{src: {work / "daemon.json"}, dest: {DAEMON_JSON}}}
    - name: docker enabled and running
      ansible.builtin.systemd: {{name: docker, state: started, enabled: true}}
""")
    return deploy, playbook


def _row(work: str, tool: str, m: dict | None, floor: dict, hosts: int) -> list[str]:
    if m is None:
        return [work, tool, "-", "-", "-", "-", "-", "-"]
    cpu_ms = (m["cpu"]) / hosts * 1000
    return [work, tool, f"{m['wall']:.2f}", f"{m['wall'] / floor['wall']:.2f}", f"{cpu_ms:.0f}", f"{m['rss_mb']:.0f}",
            f"{sum(m['logins']) / hosts:.1f}", f"{m['sessions'] / hosts:.1f}"]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=50, help="hosts for the gather")
    parser.add_argument("--rerun-hosts", type=int, default=20, help="hosts for the no-change re-run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, the median is shown")
    parser.add_argument("--skip", default="", help="peers to leave out: pyinfra, ansible")
    parser.add_argument("--subnet", default="127.0.92")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    peers = {"pyinfra": TOOLS_BIN / "pyinfra", "ansible": TOOLS_BIN / "ansible"}
    for name, path in peers.items():
        if name not in skip and not path.exists():
            raise SystemExit(f"{name} is not installed beside this Python: pip install -e '.[test,bench]', "
                             f"or --skip {name}")  # fmt: skip

    root = Path(tempfile.mkdtemp(prefix="pyinstall-bench-compare-"))
    work = root / "work"
    work.mkdir()
    home = {**os.environ, "HOME": str(work)}  # no user configuration of this machine's
    cold_ansible = lambda: _ansible_env(lab, work)  # noqa: E731  (a run of its own: no connection left open)
    lab = Lab(root, subnet=args.subnet)
    rows: list[list[str]] = []
    try:
        hosts = lab.up(f"el7:{max(args.hosts, args.rerun_hosts)}", prefix="cmp-")
        inventory = root / "inventory.ini"
        for label, chosen in (("1 host", hosts[:1]), (f"{args.hosts} hosts, gather", hosts[: args.hosts])):
            n = len(chosen)
            limit = ",".join(h.name for h in chosen)
            floor = _bare(lab, chosen, "true", args.repeat)
            rows.append(_row(label, "bare paramiko: true", floor, floor, n))
            if n > 1:
                rows.append(
                    _row(label, "bare paramiko: facts command", _bare(lab, chosen, None, args.repeat), floor, n)
                )
            for command in ("facts", "check"):  # facts: the one command check starts with
                argv = [*PYINSTALL, command, "-i", str(inventory), "--limit", limit, "--forks", str(n), "--json"]
                rows.append(_row(label, f"pyinstall {command}", _timed(argv, lab, args.repeat), floor, n))
            if "pyinfra" not in skip:
                inv = _pyinfra_inventory(lab, chosen, work / "inventory.py")
                argv = [str(peers["pyinfra"]), "-y", "--parallel", str(n), str(inv), "fact", "server.Os",
                        "server.Arch", "server.KernelVersion"]  # fmt: skip
                every = lambda m, hosts=chosen: all(f'"{h.address}"' in m["err"] for h in hosts)  # noqa: E731
                rows.append(_row(label, "pyinfra: 3 facts", _timed(argv, lab, args.repeat, home, every), floor, n))
            if "ansible" not in skip:
                argv = [str(peers["ansible"]), "all", "-i", str(inventory), "--limit", limit, "-f", str(n), "-m",
                        "setup"]  # fmt: skip
                setup = _timed(argv, lab, args.repeat, cold_ansible)
                rows.append(_row(label, "ansible -m setup", setup, floor, n))

        chosen = hosts[: args.rerun_hosts]
        n = len(chosen)
        limit = ",".join(h.name for h in chosen)
        label = f"{n} hosts, re-run, no change"
        provision = [*PYINSTALL, "provision", "-i", str(inventory), "--limit", limit, "--forks", str(n), "--json",
                     "--retry-file", ""]  # fmt: skip
        fresh = measure(provision, lab)
        if fresh["exit"] != 0:
            raise SystemExit(f"the first provisioning failed:\n{fresh['out'][-3000:]}\n{fresh['err'][-2000:]}")
        unchanged = lambda m: not any(h["changed"] for h in json.loads(m["out"])["hosts"].values())  # noqa: E731
        floor = _bare(lab, chosen, "true", args.repeat)
        rows.append(_row(label, "bare paramiko: true", floor, floor, n))
        rows.append(_row(label, "bare paramiko: one-command check", _bare(lab, chosen, STATE_CHECK, args.repeat),
                         floor, n))  # fmt: skip
        rows.append(_row(label, "pyinstall provision", _timed(provision, lab, args.repeat, ok=unchanged), floor, n))
        deploy, playbook = _no_change_deploys(lab, chosen[0], work)
        if "pyinfra" not in skip:
            inv = _pyinfra_inventory(lab, chosen, work / "inventory.py")
            argv = [str(peers["pyinfra"]), "-y", "--parallel", str(n), str(inv), str(deploy)]
            nothing = lambda m: (m["out"] + m["err"]).count("No changes") >= 4 * n  # 4 operations a host  # noqa: E731
            rows.append(_row(label, "pyinfra deploy", _timed(argv, lab, args.repeat, home, nothing), floor, n))
        if "ansible" not in skip:
            argv = [str(TOOLS_BIN / "ansible-playbook"), "-i", str(inventory), "--limit", limit, "-f", str(n),
                    str(playbook)]  # fmt: skip
            still = lambda m: "changed=0" in m["out"] and " changed=1" not in m["out"]  # noqa: E731
            rows.append(_row(label, "ansible-playbook", _timed(argv, lab, args.repeat, cold_ansible,
                                                               still), floor, n))  # fmt: skip
    finally:
        lab.down(purge=True)
        shutil.rmtree(root, ignore_errors=True)

    header = ["work", "tool", "wall s", "x floor", "CPU ms/host", "peak MB", "conn/host", "cmd/host"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(f"\nmedian of {args.repeat} runs; x floor: wall time over the bare paramiko `true` fan-out on the same "
          f"hosts; {os.cpu_count()} CPUs, shared by the controller and the lab hosts")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
