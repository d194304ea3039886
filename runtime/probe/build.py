"""Build the probe image `pyinstall verify` runs a container from: echo.c compiled without a C library
(a static x86_64 binary: no loader, no glibc that wants a newer kernel than EL6's 2.6.32), packed as
a `docker import` tarball with fixed metadata. Needs gcc; run it after changing echo.c and commit both.

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
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "echo"
        subprocess.run(["gcc", *FLAGS, "-o", str(binary), str(HERE / "echo.c")], check=True)
        data = binary.read_bytes()
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        entry = tarfile.TarInfo("echo")
        entry.size, entry.mode, entry.mtime = len(data), 0o755, 0
        tar.addfile(entry, io.BytesIO(data))
    (HERE / "probe.tar.gz").write_bytes(gzip.compress(layer.getvalue(), mtime=0))


if __name__ == "__main__":
    main()
