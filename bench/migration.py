"""Storage migration cost against the images' size: `pyinstall provision --migrate-storage` (devicemapper on
loop files -> overlay2) on lab hosts under a real kernel (User-Mode Linux), each holding images of a given
size (incompressible layers), one host per size.

    python -m bench.migration [--sizes 0,256,1024] [--subnet 127.0.92]

Prints, per size: the layers' size as Docker records it, the migration's wall time, and the throughput
beyond the fixed cost (the smallest size's time: the steps that do not depend on the data, such as the
daemon's stop and start). The hosts' disks are sparse images on this machine's filesystem, and the
kernel is User-Mode Linux (every system call a ptrace round trip): a real host's disks and kernel are
faster, so read the figures as a lower bound and as the shape of the cost (linear in the data).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.preflight import measure
from tests.lab import Lab

# Layers of incompressible data: N MiB in 4 layers, imported then committed on top of each other.
MAKE = """set -e
n={mib}; [ "$n" -gt 0 ] || exit 0
docker import /tmp/probe.tgz big:0 >/dev/null
for i in 1 2 3 4; do
    head -c $((n * 262144)) /dev/urandom > /tmp/layer && tar -C /tmp -cf /tmp/layer.tar layer
    docker create --name mk big:$((i - 1)) /pause >/dev/null
    docker cp /tmp/layer.tar mk:/layer$i.tar && docker commit mk big:$i >/dev/null && docker rm mk >/dev/null
done
rm -f /tmp/layer /tmp/layer.tar
"""


def _ssh(lab: Lab, host, command: str, stdin: bytes = b"") -> None:
    argv = ["ssh", "-i", str(lab.key), "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-p", str(host.port), f"root@{host.address}", command]  # fmt: skip
    subprocess.run(argv, input=stdin, check=True, capture_output=True, timeout=3600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="0,256,1024", help="MiB of image data per host, comma-separated")
    parser.add_argument("--subnet", default="127.0.92")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="pyinstall-bench-migration-"))
    lab = Lab(root, subnet=args.subnet)
    rows = []
    try:
        lab.prepare()
        hosts = lab.up(f"el7@uml:{len(sizes)}", prefix="mg-")
        inventory = root / "inventory.ini"
        run = [sys.executable, "-m", "installer.cli", "provision", "--json", "-i", str(inventory)]
        first = measure(run, lab)
        assert first["exit"] == 0, first["out"][-3000:] + first["err"][-2000:]
        probe = Path(__file__).resolve().parent.parent / "runtime" / "probe" / "probe.tar.gz"
        for host, mib in zip(hosts, sizes):
            _ssh(lab, host, "cat > /tmp/probe.tgz", stdin=probe.read_bytes())
            _ssh(lab, host, MAKE.format(mib=mib))
        moved = inventory.with_name("overlay2.ini")
        moved.write_text(re.sub(r"docker_storage_driver=devicemapper", "docker_storage_driver=overlay2",
                                inventory.read_text()))  # fmt: skip
        for host, mib in zip(hosts, sizes):
            check = measure([*run[:3], "check", "--json", "-i", str(moved), "--limit", host.name,
                             "--migrate-storage"], lab)  # fmt: skip
            state = json.loads(check["out"])["hosts"][host.name]["facts"]["migration"]
            layers = state["layer_bytes"].get("devicemapper", 0)
            print(host.name, mib, "MiB asked:", state["layer_bytes"], len(state["images"]), "images", flush=True)
            done = measure([*run[:5], "-i", str(moved), "--limit", host.name, "--migrate-storage"], lab)
            report = json.loads(done["out"])["hosts"][host.name]
            assert done["exit"] == 0, (report["error"], [(t["name"], t["msg"]) for t in report["tasks"]])
            rows.append((mib, layers, done["wall"], len(state["images"])))
    finally:
        lab.down(purge=True)
    base = rows[0][2]
    print(f"{'asked MiB':>9} {'layers MB':>10} {'images':>6} {'wall s':>7} {'beyond fixed MB/s':>18}")
    for mib, layers, wall, images in rows:
        rate = f"{(layers - rows[0][1]) / 1e6 / (wall - base):.1f}" if wall > base and layers > rows[0][1] else "-"
        print(f"{mib:>9} {layers / 1e6:>10.1f} {images:>6} {wall:>7.1f} {rate:>18}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
