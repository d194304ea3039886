"""Large output: how long `Session.run` takes to read N MB that a host prints (e.g. a huge `docker info`).

    python -m bench.output [--mb 2,10,20]

On one lab host, for each size: wall time of one command printing that many bytes of text, through the
same session pyinstall uses. The target (a benchmark figure, not a test): linear in the size, 20 MB in a
few seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from installer.connection import connect, target_from_vars
from installer.inventory import load
from tests.lab import Lab


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", default="2,10,20", help="sizes in MB, comma separated")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pyinstall-bench-output-"))
    lab = Lab(root, subnet="127.0.91")
    try:
        (host,) = lab.up("el7:1", prefix="out-")
        inventory = load(root / "inventory.ini")
        target = target_from_vars(host.name, inventory.host(host.name).vars)
        print(f"{'MB':>4} {'wall s':>7} {'MB/s':>7}")
        with connect(target) as session:
            for mb in (int(n) for n in args.mb.split(",")):
                size = mb * 1_000_000
                start = time.monotonic()
                result = session.run(f"head -c {size} /dev/zero | tr '\\000' x | fold -w 99", timeout=600)
                wall = time.monotonic() - start
                assert len(result.stdout) >= size, (len(result.stdout), result.stderr[-300:])
                print(f"{mb:>4} {wall:>7.2f} {mb / wall:>7.1f}")
    finally:
        lab.down(purge=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
