"""Inventory size: loading, `inventory --list`, a host pattern, and every host's variables as a run reads
them (merged, and rendered: a group variable is a template) on generated inventories of many hosts (one big
group, a child group, group vars and a host variable on every line), to show they stay linear.

    python -m bench.inventory [--hosts 10000,50000,100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from installer import inventory, patterns


def generate(path: Path, hosts: int) -> None:
    lines = ["[web]"] + [f"web{i:06d} ansible_host=10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(hosts)]
    lines += ["[db]", *(f"db{i:03d}" for i in range(100)), "[prod:children]", "web", "db", "[all:vars]", "ntp=ntp1",
              "fqdn='{{ inventory_hostname }}.{{ group_names | first }}.example.com'"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="10000,50000,100000", help="inventory sizes, comma separated")
    args = parser.parse_args()
    print(f"{'hosts':>7} {'load s':>7} {'--list s':>8} {'pattern s':>9} {'vars s':>7} {'us/host':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(n) for n in args.hosts.split(",")):
            path = Path(tmp) / f"{size}.ini"
            generate(path, size)
            start = time.perf_counter()
            inv = inventory.load(path)
            loaded = time.perf_counter()
            inv.to_ansible_list()
            listed = time.perf_counter()
            patterns.select(inv, "prod:&web:!web00001*")
            selected = time.perf_counter()
            assert inv.hosts()[-1].vars["fqdn"].endswith(".example.com")
            done = time.perf_counter()
            total = done - start
            print(f"{size:>7} {loaded - start:>7.2f} {listed - loaded:>8.2f} {selected - listed:>9.2f} "
                  f"{done - selected:>7.2f} {total / size * 1e6:>8.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
