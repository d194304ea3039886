"""pyinstall beside the SSH floor and its peers, on the same lab hosts, in one run.

    pip install -e '.[test,bench]'       # ansible-core comes with the tests, pyinfra with the benchmarks
    python -m bench.compare [--hosts 50] [--rerun-hosts 20] [--repeat 3] [--skip pyinfra,ansible]

The work, each done by every tool on the same EL7 lab hosts (host keys checked by every tool against the
lab's known_hosts), beside a bare paramiko fan-out of `true` (the SSH floor) and of pyinstall's own facts
command (the same SSH work without pyinstall):

- one host, fresh (check also asks yum which versions are on offer), and --hosts hosts: pyinstall facts
  and check; pyinfra's three facts (OS, arch, kernel) and, like for like, pyinfra and Ansible (`raw`: no
  Python on the host, as on EL6) running pyinstall's facts command; `ansible -m setup`;
- one host, provisioned (running the pinned version: no version query owed), measured while the only one:
  the same, and `pyinstall provision` with nothing to change beside the bare fan-out of one command that
  checks what it would (the package, the files, the service);
- --hosts hosts, provisioned: the same like-for-like rows, where check owes no version query (on fresh
  hosts it asks yum once more, which pyinfra's and Ansible's rows do not);
- the inventory inputs apart, on the --hosts hosts: `pyinstall facts` with its inventory read through
  `ansible-inventory` (a constructed plugin after the INI) and with a vaulted variable per host (a key
  derivation each), over the same run on the plain INI;
- re-run with nothing to change on --rerun-hosts hosts: `pyinstall provision`, a pyinfra deploy and an
  Ansible playbook that state the same (the package, the repository and daemon files, the service enabled
  and running), beside the bare fan-out of one command that checks all of it.

What pyinstall is asked is bench/inventory.ini (fixed; the lab's hosts and how to reach them are written
above it), and every tool reads the same hosts from it.

For each: the median wall time of --repeat runs, its ratio to the floor (`true`), the controller's CPU
per host (user + system, its child processes included), its peak RSS, and the SSH connections and
sessions (commands) per host, counted by each host's sshd. Then `pyinstall --help` (median of 11 fresh
interpreters) and check's controller CPU beyond the bare facts command's. Each run appends one line to
bench/history.csv (--history). Targets are benchmark figures, never tests.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.preflight import measure, measure_bare
from bench.provision import STATE_CHECK
from tests.lab import Lab

ROOT = Path(__file__).resolve().parent.parent
PYINSTALL = [sys.executable, "-m", "installer.cli"]
TOOLS_BIN = Path(sys.executable).parent
INVENTORY = ROOT / "bench" / "inventory.ini"  # what pyinstall is asked of every host: fixed, committed
VAULT_PASSWORD = "bench-vault-password"
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


def _inventory(lab: Lab, hosts: list, path: Path) -> Path:
    """The benchmark's inventory: the lab's hosts and how to reach them, then bench/inventory.ini."""
    lines = ["[bench]", *(f"{h.name} ansible_host={h.address}" for h in hosts), "", "[bench:vars]",
             "ansible_user=root", f"ansible_port={hosts[0].port}", f"ansible_ssh_private_key_file={lab.key}",
             f"pyinstall_known_hosts_file={lab.known_hosts}", ""]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + INVENTORY.read_text())
    return path


def _vaulted_inputs(lab: Lab, hosts: list, work: Path) -> list[str]:
    """The inventory again, each host with a variable pyinstall reads (ansible_become_password) vaulted
    inline in host_vars/, as ansible-vault encrypt_string writes it: the options that read it."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    inventory = _inventory(lab, hosts, work / "hosts.ini")
    (work / "host_vars").mkdir(exist_ok=True)
    for h in hosts:
        sealed = vault.encrypt(f"become-{h.name}").decode()
        (work / "host_vars" / f"{h.name}.yml").write_text(
            "ansible_become_password: !vault |\n" + "".join(f"  {line}\n" for line in sealed.splitlines())
        )
    password = work / "vault.pw"
    password.write_text(VAULT_PASSWORD + "\n")
    password.chmod(0o600)
    return ["-i", str(inventory), "--vault-password-file", str(password)]


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


def _help_seconds(work: Path, runs: int = 11) -> float:
    """`pyinstall --help` as users run it: the wheel installed in a virtualenv of its own (an editable
    install adds its import hook to every start), a fresh interpreter each time; the median. Its
    dependencies are left out: `--help` imports none of them (tests/test_cli.py holds it to that)."""
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(ROOT)],
                   capture_output=True, check=True)  # fmt: skip
    (wheel,) = (work / "dist").glob("pyinstall-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    subprocess.run([str(work / "venv/bin/pip"), "install", "-q", "--no-deps", str(wheel)], check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(work / "venv/bin/pyinstall"), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Bench:
    """The tools, run on the lab's hosts: each piece of work a list of rows, in the table's order."""

    def __init__(self, lab: Lab, work: Path, inventory: Path, repeat: int, skip: set[str]) -> None:
        self.lab, self.work, self.inventory, self.repeat, self.skip = lab, work, inventory, repeat, skip
        # pyinstall's own state (its run records) in a directory of the benchmark's, kept warm across runs
        self.env = {**os.environ, "HOME": str(work), "XDG_STATE_HOME": str(work / "state")}
        self.rows: list[list[str]] = []
        self.figures: dict[str, dict] = {}
        # The package's bytecode, as pip writes it for users (a checkout under PYTHONDONTWRITEBYTECODE would
        # compile about 40 modules at every run: 0.14 s of CPU the peers, installed by pip, never pay).
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "installer")], check=True)

    def pyinstall(self, command: str, chosen: list, *more: str, inventory: list[str] | None = None) -> list[str]:
        given = inventory or ["-i", str(self.inventory)]
        return [*PYINSTALL, command, *given, "--limit", ",".join(h.name for h in chosen), "--forks", str(len(chosen)),
                "--json", *more]  # fmt: skip

    def add(self, label: str, tool: str, m: dict | None, floor: dict, n: int) -> None:
        self.rows.append(_row(label, tool, m, floor, n))
        if m is not None:
            self.figures[f"{label}: {tool}"] = {**m, "floor": floor["wall"], "hosts": n}

    def gather(self, label: str, chosen: list, provisioned: bool) -> None:
        """Reading what check needs, every tool: the facts pyinstall gathers, or the peers' own."""
        n = len(chosen)
        floor = _bare(self.lab, chosen, "true", self.repeat)
        self.add(label, "bare paramiko: true", floor, floor, n)
        self.add(label, "bare paramiko: facts command", _bare(self.lab, chosen, None, self.repeat), floor, n)
        for command in ("facts", "check"):  # facts: the one command check starts with
            m = _timed(self.pyinstall(command, chosen), self.lab, self.repeat, self.env)
            self.add(label, f"pyinstall {command}", m, floor, n)
        if provisioned and n == 1:  # the re-run rows show it for a fleet
            self.add(label, "bare paramiko: one-command check", _bare(self.lab, chosen, STATE_CHECK, self.repeat),
                     floor, n)  # fmt: skip
            unchanged = lambda m: not any(h["changed"] for h in json.loads(m["out"])["hosts"].values())  # noqa: E731
            argv = self.pyinstall("provision", chosen, "--retry-file", "")
            self.add(label, "pyinstall provision, no change", _timed(argv, self.lab, self.repeat, self.env, unchanged),
                     floor, n)  # fmt: skip
        if "pyinfra" not in self.skip:
            inv = _pyinfra_inventory(self.lab, chosen, self.work / "inventory.py")
            every = lambda m, hosts=chosen: all(f'"{h.address}"' in m["out"] + m["err"] for h in hosts)  # noqa: E731
            base = [str(TOOLS_BIN / "pyinfra"), "-y", "--parallel", str(n), str(inv), "fact"]
            three = [*base, "server.Os", "server.Arch", "server.KernelVersion"]
            self.add(label, "pyinfra: 3 facts", _timed(three, self.lab, self.repeat, self.home, every), floor, n)
            same = [*base, "server.Command", f"command=sh -c {shlex.quote(facts_script())}"]
            self.add(label, "pyinfra: pyinstall's facts", _timed(same, self.lab, self.repeat, self.home, every),
                     floor, n)  # fmt: skip
        if "ansible" not in self.skip:
            base = [str(TOOLS_BIN / "ansible"), "all", "-i", str(self.inventory), "--limit",
                    ",".join(h.name for h in chosen), "-f", str(n)]  # fmt: skip
            if not provisioned:  # the same, provisioned or not
                setup = _timed([*base, "-m", "setup"], self.lab, self.repeat, self.cold_ansible)
                self.add(label, "ansible -m setup", setup, floor, n)
            raw = [*base, "-m", "raw", "-a", facts_script()]
            self.add(label, "ansible raw: pyinstall's facts", _timed(raw, self.lab, self.repeat, self.cold_ansible),
                     floor, n)  # fmt: skip

    def provision(self, chosen: list) -> None:
        """The hosts provisioned, ten at a time (fifty package transactions at once starve two cores' lab
        hosts past yum's wait)."""
        done = measure(self.pyinstall("provision", chosen, "--retry-file", "", "--forks", "10"), self.lab, self.env)
        if done["exit"] != 0:
            raise SystemExit(f"provisioning failed:\n{done['out'][-3000:]}\n{done['err'][-2000:]}")

    def inputs(self, chosen: list) -> None:
        """The newer inventory inputs' cost apart: `pyinstall facts` on the same hosts, its inventory read
        through ansible-inventory, then with a vaulted variable per host; x floor: over the plain INI's run."""
        n, label = len(chosen), f"{len(chosen)} hosts, inventory inputs"
        plain = self.figures[f"{len(chosen)} hosts, provisioned: pyinstall facts"]
        self.add(label, "pyinstall facts: INI", plain, plain, n)
        if "ansible" in self.skip:
            return
        constructed = self.work / "inputs" / "constructed.yml"
        constructed.parent.mkdir(exist_ok=True)
        constructed.write_text(
            "plugin: ansible.builtin.constructed\ngroups:\n  benched: inventory_hostname is defined\n"
        )
        through = ["-i", str(self.inventory), "-i", str(constructed)]
        m = _timed(self.pyinstall("facts", chosen, inventory=through), self.lab, self.repeat, self.env)
        self.add(label, "pyinstall facts: through ansible-inventory", m, plain, n)
        vaulted = _vaulted_inputs(self.lab, chosen, self.work / "inputs" / "vaulted")
        m = _timed(self.pyinstall("facts", chosen, inventory=vaulted), self.lab, self.repeat, self.env)
        self.add(label, "pyinstall facts: a vaulted variable per host", m, plain, n)

    @property
    def home(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.work)}  # no user configuration of this machine's

    def cold_ansible(self) -> dict[str, str]:
        return _ansible_env(self.lab, self.work)  # a run of its own: no connection left open

    def rerun(self, chosen: list) -> None:
        n = len(chosen)
        label = f"{n} hosts, re-run, no change"
        provision = self.pyinstall("provision", chosen, "--retry-file", "")
        unchanged = lambda m: not any(h["changed"] for h in json.loads(m["out"])["hosts"].values())  # noqa: E731
        floor = _bare(self.lab, chosen, "true", self.repeat)
        self.add(label, "bare paramiko: true", floor, floor, n)
        self.add(label, "bare paramiko: one-command check", _bare(self.lab, chosen, STATE_CHECK, self.repeat), floor, n)
        self.add(label, "pyinstall provision", _timed(provision, self.lab, self.repeat, self.env, unchanged), floor, n)
        deploy, playbook = _no_change_deploys(self.lab, chosen[0], self.work)
        if "pyinfra" not in self.skip:
            inv = _pyinfra_inventory(self.lab, chosen, self.work / "inventory.py")
            argv = [str(TOOLS_BIN / "pyinfra"), "-y", "--parallel", str(n), str(inv), str(deploy)]
            nothing = lambda m: (m["out"] + m["err"]).count("No changes") >= 4 * n  # 4 operations a host  # noqa: E731
            self.add(label, "pyinfra deploy", _timed(argv, self.lab, self.repeat, self.home, nothing), floor, n)
        if "ansible" not in self.skip:
            argv = [str(TOOLS_BIN / "ansible-playbook"), "-i", str(self.inventory), "--limit",
                    ",".join(h.name for h in chosen), "-f", str(n), str(playbook)]  # fmt: skip
            still = lambda m: "changed=0" in m["out"] and " changed=1" not in m["out"]  # noqa: E731
            self.add(label, "ansible-playbook", _timed(argv, self.lab, self.repeat, self.cold_ansible, still), floor, n)


def facts_script() -> str:
    from installer.facts import script

    return script()


def _history(path: Path, figures: dict[str, dict], extra: dict[str, str]) -> str:
    """One line for this run in bench/history.csv: the date, the commit, bench/inventory.ini's checksum, each
    figure and its ratio to its floor. A figure new to the file gets a column of its own at the end (the
    lines before it leave it empty): the file keeps one column per figure, whenever it began."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    row = {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit.strip() or "-",
           "inventory sha256": hashlib.sha256(INVENTORY.read_bytes()).hexdigest()[:12], **extra}  # fmt: skip
    for name, m in figures.items():
        row[f"{name} wall s"] = f"{m['wall']:.2f}"
        row[f"{name} x floor"] = f"{m['wall'] / m['floor']:.2f}"
        row[f"{name} CPU ms/host"] = f"{m['cpu'] / m['hosts'] * 1000:.0f}"
    lines: list[dict[str, str]] = []
    header = list(row)
    if path.exists():
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            lines = list(reader)
            header = [*(reader.fieldnames or []), *(c for c in row if c not in (reader.fieldnames or []))]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, header, restval="")
        writer.writeheader()
        writer.writerows([*lines, row])
    return str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=50, help="hosts for the gather")
    parser.add_argument("--rerun-hosts", type=int, default=20, help="hosts for the no-change re-run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, the median is shown")
    parser.add_argument("--skip", default="", help="peers to leave out: pyinfra, ansible")
    parser.add_argument("--subnet", default="127.0.92")
    parser.add_argument(
        "--history",
        default=str(ROOT / "bench" / "history.csv"),
        help="the CSV file a line of this run's figures is appended to ('' for none)",
    )
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    for name in ("pyinfra", "ansible"):
        if name not in skip and not (TOOLS_BIN / name).exists():
            raise SystemExit(f"{name} is not installed beside this Python: pip install -e '.[test,bench]', "
                             f"or --skip {name}")  # fmt: skip

    root = Path(tempfile.mkdtemp(prefix="pyinstall-bench-compare-"))
    work = root / "work"
    work.mkdir()
    lab = Lab(root, subnet=args.subnet)
    try:
        hosts = lab.up(f"el7:{max(args.hosts, args.rerun_hosts) + 1}", prefix="cmp-")
        bench = Bench(lab, work, _inventory(lab, hosts, root / "bench-inventory.ini"), args.repeat, skip)
        subprocess.run(bench.pyinstall("facts", hosts[:1]), env=bench.env, capture_output=True)  # warm: the records
        fresh, fleet = hosts[:1], hosts[1 : max(args.hosts, args.rerun_hosts) + 1]
        bench.gather("1 host, fresh", fresh, provisioned=False)
        bench.gather(f"{args.hosts} hosts, gather", fleet[: args.hosts], provisioned=False)
        # One host first, measured while the only dockerd running: fifty idle ones take a share of two cores.
        bench.provision(fleet[:1])
        bench.gather("1 host, provisioned", fleet[:1], provisioned=True)
        bench.provision(fleet[1:])
        bench.gather(f"{args.hosts} hosts, provisioned", fleet[: args.hosts], provisioned=True)
        bench.inputs(fleet[: args.hosts])
        bench.rerun(fleet[: args.rerun_hosts])
    finally:
        lab.down(purge=True)
        shutil.rmtree(root, ignore_errors=True)

    header = ["work", "tool", "wall s", "x floor", "CPU ms/host", "peak MB", "conn/host", "cmd/host"]
    rows = bench.rows
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    figures = bench.figures
    extra = {"--help s": f"{_help_seconds(Path(tempfile.mkdtemp(prefix='pyinstall-bench-help-'))):.3f}"}
    for label in ("1 host, fresh", "1 host, provisioned"):  # what pyinstall adds to the SSH work itself
        check, bare = figures[f"{label}: pyinstall check"], figures[f"{label}: bare paramiko: facts command"]
        extra[f"{label}: check CPU beyond the bare facts command ms"] = f"{(check['cpu'] - bare['cpu']) * 1000:.0f}"
    print(f"\nmedian of {args.repeat} runs; x floor: wall time over the bare paramiko `true` fan-out on the same "
          f"hosts; {os.cpu_count()} CPUs, shared by the controller and the lab hosts")  # fmt: skip
    for name, value in extra.items():
        print(f"{name}: {value}")
    if args.history:
        print(f"appended to {_history(Path(args.history), figures, extra)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
