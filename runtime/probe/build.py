"""Build the probe image `pyinstall verify` runs a container from: echo.c and pause.c compiled without a
C library (static x86_64 binaries: no loader, no glibc that wants a newer kernel than EL6's 2.6.32),
packed as a `docker import` tarball with fixed metadata: /echo prints its arguments, /pause waits to be
killed. Needs gcc; run it after changing a source and commit them with the tarball.

    python3 runtime/probe/build.py    ─▶ runtime/probe/probe.tar.gz
"""

import gzip
import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
FLAGS = ["-Os", "-static", "-nostdlib", "-ffreestanding", "-fno-tree-loop-distribute-patterns",
         "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-fno-pie", "-no-pie",
         "-Wl,--build-id=none", "-Wl,-z,norelro", "-s"]  # fmt: skip


def main() -> None:
    layer = io.BytesIO()
    with (
        tempfile.TemporaryDirectory() as tmp,
        tarfile.open(fileobj=layer, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        for name in ("echo", "pause"):
            binary = Path(tmp) / name
            subprocess.run(["gcc", *FLAGS, "-o", str(binary), str(HERE / f"{name}.c")], check=True)
            data = binary.read_bytes()
            entry = tarfile.TarInfo(name)
            entry.size, entry.mode, entry.mtime = len(data), 0o755, 0
            tar.addfile(entry, io.BytesIO(data))
    (HERE / "probe.tar.gz").write_bytes(gzip.compress(layer.getvalue(), mtime=0))


if __name__ == "__main__":
    main()
