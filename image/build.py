"""Build pyinstall's container image without a registry or a Dockerfile: a root filesystem from Debian's
packages (mmdebstrap), the wheel and its dependencies installed into it, one layer, written as an image
archive that `docker load` and `podman load` read.

    python -m image.build [--wheel FILE] [-o dist/pyinstall-image.tar]     (as root: mmdebstrap, chroot)

    wheel + dependency wheels (pip download, for the image's Python) ─┐
    mmdebstrap: Debian's python3 (variant essential) ─────────────────┴─▶ pip install in a chroot
        ─▶ compiled (.pyc, hash-checked) ─▶ user pyinstall (10001) ─▶ one tar, sorted, times clamped
        ─▶ config (entry point, user, environment) ─▶ image archive

Reproducible: the same wheels and the same Debian packages give the same layer digest (every time is
clamped to SOURCE_DATE_EPOCH, the commit's time by default; names sorted; owners numeric). What went in
is listed in the image at /usr/share/pyinstall/image-inputs.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from installer.bundle import file_sha256

ROOT = Path(__file__).resolve().parent.parent
SUITE = "bookworm"  # its python3 is 3.11: the dependency wheels are chosen for it
PYTHON = "3.11"
MIRROR = "http://deb.debian.org/debian"
UID = 10001
USER = "pyinstall"
HOME = f"/home/{USER}"
# What a run reads or writes beyond the inventory: ~/.ssh (a secret mounted there), the run records.
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": HOME,
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",  # compiled at build time; the image's files are not the user's
}
# Left out of the root filesystem: documentation, translations, caches a container never reads, and glibc's
# iconv modules (Python has codecs of its own).
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*",
                 "/usr/share/lintian/*", "/usr/lib/x86_64-linux-gnu/gconv/*")  # fmt: skip
# usrmerge (and with it Perl, 55 MB) comes with the essential set; usr-is-merged, installed instead, says the
# same, since mmdebstrap lays /usr out merged itself.
UNWANTED = ("usrmerge", "libfile-find-rule-perl", "libnumber-compare-perl", "libtext-glob-perl", "perl",
            "perl-modules-5.36", "libperl5.36")  # fmt: skip
EMPTIED = (
    "var/cache/ldconfig",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/log",
    "tmp",
    "run",
    "dev",
    "proc",
    "sys",
    "wheels",
)


class BuildError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m image.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help="the pyinstall wheel to install (default: built from here)")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "dist/pyinstall-image.tar")
    parser.add_argument("--tag", default=None, help="the image's name (default pyinstall:VERSION)")
    args = parser.parse_args(argv)
    try:
        built = build(args.wheel, args.output, args.tag)
    except BuildError as exc:
        print(f"image.build: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(built, indent=1))
    return 0


def build(wheel: Path | None, output: Path, tag: str | None = None) -> dict:
    """Build the image archive at ``output``; returns its tag, layer digest and sizes."""
    if os.geteuid() != 0:
        raise BuildError("run as root: mmdebstrap and chroot need it")
    if not shutil.which("mmdebstrap"):
        raise BuildError("mmdebstrap is missing: apt-get install mmdebstrap (bash setup.sh image does)")
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or commit_time())
    with tempfile.TemporaryDirectory(prefix="pyinstall-image-") as work:
        work = Path(work)
        wheels = work / "wheels"
        wheel = wheel or build_wheel(work / "dist", epoch)
        version = wheel.name.split("-")[1]
        _download(wheel, wheels)
        rootfs = work / "rootfs"
        _debootstrap(rootfs, epoch)
        run("chroot", str(rootfs), "dpkg", "--purge", *UNWANTED)
        _install(rootfs, wheel, wheels)
        _add_user(rootfs)
        _record_inputs(rootfs, wheels)
        for path in EMPTIED:
            _empty(rootfs / path)
        layer = work / "layer.tar"
        _tar(rootfs, layer, epoch)
        digest = file_sha256(layer)
        tag = tag or f"pyinstall:{version}"
        config = _config(digest, epoch, version)
        output.parent.mkdir(parents=True, exist_ok=True)
        _archive(output, layer, digest, config, tag)
        return {
            "tag": tag,
            "layer": f"sha256:{digest}",
            "image": f"sha256:{hashlib.sha256(config).hexdigest()}",
            "size_mb": round(layer.stat().st_size / 1e6, 1),
            "archive": str(output),
            "source_date_epoch": epoch,
        }


def run(*argv: str, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise BuildError(
            f"{' '.join(argv[:3])}... failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        )
    return proc


def commit_time() -> str:
    return run("git", "log", "-1", "--format=%ct", cwd=ROOT).stdout.strip()


def build_wheel(out: Path, epoch: int) -> Path:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}  # the wheel's zip times: the same wheel each time
    run(sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT), env=env)
    (wheel,) = out.glob("pyinstall-*.whl")
    return wheel


def _download(wheel: Path, wheels: Path) -> None:
    """The wheel, every dependency and pip itself, as binary wheels for the image's Python and machine."""
    platforms = [
        f"--platform={p}_x86_64" for p in ("manylinux_2_36", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
    ]
    run(sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", f"--python-version={PYTHON}",
         "--implementation=cp", *platforms, "-d", str(wheels), str(wheel), "pip")  # fmt: skip
    shutil.copy2(wheel, wheels)


def _debootstrap(rootfs: Path, epoch: int) -> None:
    excludes = [f"--dpkgopt=path-exclude={p}" for p in DPKG_EXCLUDES]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    run("mmdebstrap", "--quiet", "--variant=essential", "--include=python3,usr-is-merged",
         *excludes, "--format=directory", SUITE, str(rootfs), MIRROR, env=env)  # fmt: skip


def _install(rootfs: Path, wheel: Path, wheels: Path) -> None:
    """pip, run from its own wheel inside the image (so the image carries no pip), installs from the
    downloaded wheels only; everything is then compiled with hash-checked .pyc files (no timestamps in them)."""
    shutil.copytree(wheels, rootfs / "wheels")
    (pip,) = (rootfs / "wheels").glob("pip-*.whl")
    run("chroot", str(rootfs), "python3", f"/wheels/{pip.name}/pip", "install", "-q", "--no-index",
         "--find-links=/wheels", "--no-compile", "--break-system-packages", "--root-user-action=ignore",
         "--disable-pip-version-check", f"/wheels/{wheel.name}")  # fmt: skip
    # Debug symbols in the dependencies' compiled modules (SQLAlchemy's, cryptography's): 19 MB nobody reads.
    # pip's RECORD then lists their old hashes; nothing checks them at run time.
    for so in sorted((rootfs / "usr/local/lib").rglob("*.so*")):
        if so.is_file() and not so.is_symlink():
            run("strip", "--strip-unneeded", str(so))
    run("chroot", str(rootfs), "python3", "-m", "compileall", "-q", "-j1", "--invalidation-mode=checked-hash",
         "/usr/local/lib", "/usr/lib/python3.11")  # fmt: skip
    run("chroot", str(rootfs), "pyinstall", "--version")


def _add_user(rootfs: Path) -> None:
    with open(rootfs / "etc/passwd", "a") as f:
        f.write(f"{USER}:x:{UID}:{UID}:pyinstall:{HOME}:/bin/sh\n")
    with open(rootfs / "etc/group", "a") as f:
        f.write(f"{USER}:x:{UID}:\n")
    with open(rootfs / "etc/shadow", "a") as f:
        f.write(f"{USER}:!:1::::::\n")
    home = rootfs / HOME.lstrip("/")
    (home / ".ssh").mkdir(parents=True)
    for d in (home, home / ".ssh"):
        os.chown(d, UID, UID)
        d.chmod(0o700)


def _record_inputs(rootfs: Path, wheels: Path) -> None:
    packages = run("chroot", str(rootfs), "dpkg-query", "-W", "-f=${Package} ${Version}\\n").stdout
    sums = "".join(f"{file_sha256(w)}  {w.name}\n" for w in sorted(wheels.glob("*.whl")))
    out = rootfs / "usr/share/pyinstall"
    out.mkdir(parents=True, exist_ok=True)
    (out / "image-inputs.txt").write_text(f"# Debian {SUITE} packages\n{''.join(sorted(packages.splitlines(True)))}"
                                          f"# wheels\n{sums}")  # fmt: skip


def _empty(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


def _tar(rootfs: Path, layer: Path, epoch: int) -> None:
    """One layer: names sorted, times clamped to ``epoch``, owners as numbers, no device files."""
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted([*dirnames, *filenames]):
                _add(tar, rootfs, Path(dirpath) / name, epoch, links)


def _add(tar: tarfile.TarFile, rootfs: Path, path: Path, epoch: int, links: dict) -> None:
    st = path.lstat()
    info = tarfile.TarInfo(str(path.relative_to(rootfs)))
    info.mode, info.uid, info.gid = st.st_mode & 0o7777, st.st_uid, st.st_gid
    info.mtime = min(int(st.st_mtime), epoch)
    key = (st.st_dev, st.st_ino)
    if path.is_symlink():
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif path.is_dir():
        info.type = tarfile.DIRTYPE
    elif path.is_file() and st.st_nlink > 1 and key in links:
        info.type, info.linkname = tarfile.LNKTYPE, links[key]
    elif path.is_file():
        links[key] = info.name
        info.size = st.st_size
        with open(path, "rb") as f:
            tar.addfile(info, f)
        return
    else:
        return  # devices and sockets: the container runtime gives /dev
    tar.addfile(info)


def _config(digest: str, epoch: int, version: str) -> bytes:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "User": f"{UID}:{UID}",
            "Entrypoint": ["pyinstall"],
            "Cmd": ["--help"],
            "Env": [f"{k}={v}" for k, v in ENV.items()],
            "WorkingDir": HOME,
            "StopSignal": "SIGTERM",
            "Labels": {
                "org.opencontainers.image.title": "pyinstall",
                "org.opencontainers.image.version": version,
                "org.opencontainers.image.licenses": "Apache-2.0",
                "org.opencontainers.image.base.name": f"debian:{SUITE} (mmdebstrap, variant essential)",
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest}"]},
        "history": [{"created": created, "created_by": "python -m image.build"}],
    }
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def _archive(output: Path, layer: Path, digest: str, config: bytes, tag: str) -> None:
    """The archive `docker save` writes (manifest.json, the config, the layer), which both docker and
    podman load."""
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [f"{digest}/layer.tar"]}]).encode()
    tmp = output.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        tar.add(layer, arcname=f"{digest}/layer.tar", filter=_plain)
    tmp.replace(output)


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime, info.mode = 0, 0o644
    return info


if __name__ == "__main__":
    sys.exit(main())
