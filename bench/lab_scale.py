"""Lab scale: N sshd-only hosts come up, all answer SSH in parallel, and go down leaving nothing.

    python -m bench.lab_scale [--hosts 50] [--root DIR]

Prints wall times for up, a parallel `ssh hostname` fan-out and down, the machine memory the running
hosts took, and exits non-zero if any host did not answer or anything was left behind.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko

from tests.lab import Lab


def mem_available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--root", type=Path, help="lab directory (default: a new temporary one)")
    parser.add_argument("--subnet", default="127.0.88")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="pyinstall-bench-lab-"))
    lab = Lab(root, subnet=args.subnet)
    lab.prepare()  # builds the repo and layers once, outside the timings

    before = mem_available_kib()
    t0 = time.monotonic()
    hosts = lab.up(f"el6:{args.hosts}", prefix="bench-")
    t_up = time.monotonic() - t0
    used_mib = (before - mem_available_kib()) / 1024

    def hostname(h) -> str:
        client = paramiko.SSHClient()
        client.load_host_keys(str(lab.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            h.address,
            port=h.port,
            username="root",
            key_filename=str(lab.key),
            timeout=30,
            allow_agent=False,
            look_for_keys=False,
        )
        try:
            return client.exec_command("hostname", timeout=30)[1].read().decode().strip()
        finally:
            client.close()

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(100, len(hosts))) as pool:
        names = list(pool.map(hostname, hosts))
    t_ssh = time.monotonic() - t0
    wrong = [h.name for h, n in zip(hosts, names) if n != h.name]

    t0 = time.monotonic()
    lab.down()
    t_down = time.monotonic() - t0
    left = [f"{kind}: {item}" for kind, items in lab.leftovers().items() for item in items]
    lab.down(purge=args.root is None)

    print(f"hosts:            {len(hosts)}")
    print(f"up:               {t_up:.1f} s ({t_up / len(hosts) * 1000:.0f} ms/host)")
    print(f"ssh fan-out:      {t_ssh:.2f} s ({len(hosts) - len(wrong)}/{len(hosts)} answered with their name)")
    print(f"down:             {t_down:.1f} s")
    print(f"memory (running): {used_mib:.0f} MiB ({used_mib / len(hosts):.1f} MiB/host, MemAvailable delta)")
    print(f"left behind:      {len(left)}")
    for item in left:
        print(f"  {item}")
    return 1 if wrong or left else 0


if __name__ == "__main__":
    sys.exit(main())
