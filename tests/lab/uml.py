"""A real kernel for `@uml` lab hosts: User-Mode Linux, a Linux kernel that runs as a process.

Debian 12's user-mode-linux (6.1) and Debian 13's (6.12) cannot start a single user process on a CPU
with AMX state (Sapphire Rapids and later): the host's ptrace refuses their short XSTATE buffer ("ptrace
set fp regs failed, errno = 14"). Debian unstable's build (7.x) sizes it from the host. So the lab takes
that package and the C library it is built against from Debian's archive with `apt-get download`
(nothing is installed on the machine), unpacks both into a cache, and points the kernel's ELF
interpreter at that C library (patchelf).

    kernel() -> Kernel(binary, modroot, release)      # fetched once per machine, then reused

``modroot`` holds ``usr/lib/modules/RELEASE`` (EL7's /lib is a link to usr/lib, the lab machine's too),
plus a link to it under each lab kind's simulated release (what `uname -r` says on the host), to be laid
under a host's root.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import archive
from .spec import KINDS

CACHE = Path(os.environ.get("PYINSTALL_LAB_CACHE", "/var/cache/pyinstall-lab")) / "uml"
SUITE = "sid"  # the suite whose user-mode-linux runs on AMX hosts (see above)
PACKAGES = ("user-mode-linux", "libc6")


class KernelError(RuntimeError):
    """The User-Mode Linux kernel cannot be fetched or prepared."""


@dataclass(frozen=True)
class Kernel:
    binary: Path  # linux.uml, its interpreter patched to the cache's C library
    modroot: Path  # a tree with usr/lib/modules/RELEASE
    release: str  # the kernel's own release


def kernel(cache: Path = CACHE) -> Kernel:
    """The cached kernel, fetched and prepared first if missing (about 40 MB from Debian's archive)."""
    ready = cache / "ready"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:  # two test workers (or labs) asking at once: one fetches
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            _fetch(cache)
    binary, modroot = cache / "linux.uml", cache / "modroot"
    release = next((p.name for p in (modroot / "usr/lib/modules").iterdir() if not p.is_symlink()), None)
    if not binary.exists() or release is None:
        raise KernelError(f"{cache} is incomplete: remove it and run again")
    return Kernel(binary, modroot, release)


def _fetch(cache: Path) -> None:
    if not shutil.which("patchelf"):
        raise KernelError("patchelf is missing (bash setup.sh deps installs it)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        work = Path(tmp)
        try:
            root = archive.download(SUITE, PACKAGES, work)
        except archive.ArchiveError as exc:
            raise KernelError(str(exc)) from None
        binary = work / "linux.uml"
        shutil.copy2(root / "usr/bin/linux.uml", binary)
        final_root = cache / "root"
        interpreter = final_root / "usr/lib64/ld-linux-x86-64.so.2"
        library = final_root / "usr/lib/x86_64-linux-gnu"
        _run(["patchelf", "--set-interpreter", str(interpreter), "--set-rpath", str(library), str(binary)],
             "point the kernel at its own C library")  # fmt: skip
        modules = work / "modroot/usr/lib/modules"
        modules.parent.mkdir(parents=True)
        (root / "usr/lib/uml/modules").rename(modules)
        (release,) = (p.name for p in modules.iterdir())
        for simulated in {kind.kernel_release for kind in KINDS.values()}:  # what the hosts' `uname -r` says
            (modules / simulated).symlink_to(release)
        for name in ("root", "modroot"):
            shutil.rmtree(cache / name, ignore_errors=True)
            (work / name).rename(cache / name)
        binary.rename(cache / "linux.uml")
    (cache / "ready").write_text(f"{SUITE}\n")


def _run(argv: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise KernelError(f"could not {what}: {' '.join(argv[:2])} said {proc.stderr.strip()[-500:]}")
