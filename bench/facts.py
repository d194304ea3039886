"""What the facts command costs a host, section by section.

    python -m bench.facts [--repeat 5]

On four lab hosts (EL6 and EL7, fresh and provisioned by pyinstall), each section of the facts command
provision sends (check sends the sections before `services`) runs --repeat times on its own, in a
subshell, its output thrown away: the median wall time and the host CPU it took (user + system of the
processes it started, from the shell's `times`). The lab's stand-ins count too (its systemctl is
docker-systemctl-replacement, a Python program), so the EL7 `services` figure is the lab's more than a
real host's.
"""

from __future__ import annotations

import argparse
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import paramiko

from installer import facts
from tests.lab import Lab

MARK = "@@bench-facts"


def split_sections(script: str) -> tuple[str, list[tuple[str, str]]]:
    """The script's prelude (settings and functions) and its sections, in order."""
    prelude, *parts = re.split(r"^section (\w+)\n", script, flags=re.M)
    return prelude, list(zip(parts[::2], parts[1::2]))


def measuring_script(repeat: int) -> str:
    prelude, sections = split_sections(facts.script(provision=True))
    lines = [prelude]
    for _ in range(repeat):
        for name, body in sections:
            if name == "end":
                continue
            lines.append(f"printf '{MARK} {name} %s\\n' \"$(date +%s%N)\"; times")
            lines.append(f"( {body}\n) >/dev/null 2>&1")
            lines.append(f"printf '{MARK} end %s\\n' \"$(date +%s%N)\"; times")
    return "\n".join(lines) + "\n"


def _seconds(text: str) -> float:
    """bash's `times` field: 0m0.012s."""
    minutes, _, seconds = text.rstrip("s").partition("m")
    return int(minutes) * 60 + float(seconds)


def parse(output: str) -> dict[str, list[tuple[float, float]]]:
    """{section: [(wall ms, CPU ms), ...]} from the measuring script's output."""
    found: dict[str, list[tuple[float, float]]] = {}
    blocks = output.split(MARK + " ")[1:]
    for start, end in zip(blocks[::2], blocks[1::2]):
        (name, t0), before = start.splitlines()[0].split(), start.splitlines()[2].split()
        (_, t1), after = end.splitlines()[0].split(), end.splitlines()[2].split()
        cpu = sum(_seconds(a) - _seconds(b) for a, b in zip(after, before))
        found.setdefault(name, []).append(((int(t1) - int(t0)) / 1e6, cpu * 1000))
    return found


def run_on(lab: Lab, host, script: str) -> str:
    client = paramiko.SSHClient()
    client.load_host_keys(str(lab.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(host.address, port=host.port, username="root", key_filename=str(lab.key), allow_agent=False,
                   look_for_keys=False)  # fmt: skip
    try:
        _, out, _ = client.exec_command("bash -c " + shlex.quote(script), timeout=600)
        return out.read().decode(errors="replace")
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--subnet", default="127.0.93")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pyinstall-bench-facts-"))
    lab = Lab(root, subnet=args.subnet)
    script = measuring_script(args.repeat)
    columns: dict[str, dict[str, list[tuple[float, float]]]] = {}
    try:
        hosts = lab.up("el6:2,el7:2", prefix="bf-")
        provisioned = [hosts[1], hosts[3]]
        proc = subprocess.run([sys.executable, "-m", "installer.cli", "provision", "-i", str(root / "inventory.ini"),
                               "--limit", ",".join(h.name for h in provisioned), "--retry-file", ""],
                              capture_output=True, text=True)  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"provisioning failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        for host, label in zip(hosts, ("el6 fresh", "el6 provisioned", "el7 fresh", "el7 provisioned")):
            columns[label] = parse(run_on(lab, host, script))
    finally:
        lab.down(purge=True)
    _, sections = split_sections(facts.script(provision=True))
    names = [name for name, _ in sections if name != "end"]
    width = max(len(n) for n in names)
    print(f"{'section':<{width}}  " + "  ".join(f"{label:>22}" for label in columns))
    print(f"{'':<{width}}  " + "  ".join(f"{'wall ms':>10} {'CPU ms':>11}" for _ in columns))
    totals = {label: [0.0, 0.0] for label in columns}
    for name in names:
        cells = []
        for label, found in columns.items():
            wall = statistics.median(w for w, _ in found[name])
            cpu = statistics.median(c for _, c in found[name])
            totals[label][0] += wall
            totals[label][1] += cpu
            cells.append(f"{wall:>10.1f} {cpu:>11.1f}")
        print(f"{name:<{width}}  " + "  ".join(cells))
    print(f"{'total':<{width}}  " + "  ".join(f"{w:>10.1f} {c:>11.1f}" for w, c in totals.values()))
    print(f"\nmedian of {args.repeat} runs of each section; check sends the sections before `services`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
