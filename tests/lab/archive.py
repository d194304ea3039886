"""Packages from Debian's archive that the lab machine's own suite lacks, fetched with `apt-get download`
into a scratch directory (a private package index: nothing is installed on the machine, its apt
configuration is untouched) and unpacked there.

    download(suite, packages, work) -> work/root   # the packages' files, as dpkg would lay them out
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ARCHIVE = "http://deb.debian.org/debian"


class ArchiveError(RuntimeError):
    """A package cannot be fetched or unpacked."""


def download(suite: str, packages: tuple[str, ...], work: Path) -> Path:
    lists = work / "lists"
    (lists / "partial").mkdir(parents=True)
    sources = work / "sources.list"
    sources.write_text(f"deb {ARCHIVE} {suite} main\n")
    apt = [
        "-o", f"Dir::Etc::sourcelist={sources}", "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::Lists={lists}", "-o", "APT::Get::List-Cleanup=0", "-q",
    ]  # fmt: skip
    _run(["apt-get", *apt, "update"], "read Debian's package index")
    _run(["apt-get", *apt, "download", *packages], f"download {', '.join(packages)}", cwd=work)
    root = work / "root"
    for deb in work.glob("*.deb"):
        _run(["dpkg-deb", "-x", str(deb), str(root)], f"unpack {deb.name}")
    return root


def _run(argv: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise ArchiveError(f"could not {what}: {' '.join(argv[:2])} said {proc.stderr.strip()[-500:]}")
