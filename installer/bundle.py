"""Offline bundles: RPMs, their manifest and yum repodata in one tar file, for air-gapped fleets.

DIR/*.rpm ─▶ create() ─▶ FILE.tar (manifest.json, packages/*.rpm, repodata/)
FILE.tar ─▶ load() (every sha256 checked) ─▶ Bundle ─▶ provision pushes what the host lacks
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from installer import localfiles, platforms
from installer.errors import UsageError

REMOTE_ROOT = "/var/cache/pyinstall/bundle"
REPO_ID = "pyinstall-bundle"
SUMS_FILE = ".pyinstall-sums"  # written on the host after every file was verified there
FORMAT = 1


class BundleError(UsageError):
    pass


@dataclass(frozen=True)
class BundleFile:
    path: str  # relative to the bundle root: packages/x.rpm, repodata/...
    sha256: str
    size: int


@dataclass(frozen=True)
class Bundle:
    platform: str
    root: Path  # where it was unpacked on this machine
    files: tuple[BundleFile, ...]
    packages: tuple[dict, ...]

    @property
    def remote_dir(self) -> str:
        return f"{REMOTE_ROOT}/{self.platform}"

    def sums_text(self) -> str:
        """The record written on the host once every file checked out: ``sha256  path`` lines."""
        return "".join(f"{f.sha256}  {f.path}\n" for f in self.files)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _header(path: Path) -> dict:
    import rpmfile

    try:
        with rpmfile.open(str(path)) as rpm:
            h = rpm.headers
    except Exception as exc:  # rpmfile raises bare errors on bad input
        raise BundleError(f"{path}: not a readable RPM ({exc})") from None

    def text(key: str) -> str:
        value = h.get(key, b"")
        return value.decode() if isinstance(value, bytes) else str(value or "")

    epoch = h.get("epoch")
    return {
        "name": text("name"),
        "epoch": str(epoch) if epoch not in (None, b"") else "0",
        "version": text("version"),
        "release": text("release"),
        "arch": text("arch"),
    }


def _repodata(root: Path, files: list[str]) -> None:
    """yum repodata (sha256, gzip: what EL6's yum 3.2 reads) with createrepo_c's library."""
    import createrepo_c as cr

    repodata = root / "repodata"
    repodata.mkdir()
    paths = {kind: repodata / f"{kind}.xml.gz" for kind in ("primary", "filelists", "other")}
    writers = {
        "primary": cr.PrimaryXmlFile(str(paths["primary"])),
        "filelists": cr.FilelistsXmlFile(str(paths["filelists"])),
        "other": cr.OtherXmlFile(str(paths["other"])),
    }
    for w in writers.values():
        w.set_num_of_pkgs(len(files))
    for rel in files:
        pkg = cr.package_from_rpm(str(root / rel))
        pkg.location_href = rel
        for w in writers.values():
            w.add_pkg(pkg)
    for w in writers.values():
        w.close()
    repomd = cr.Repomd()
    for kind, path in paths.items():
        record = cr.RepomdRecord(kind, str(path))
        record.fill(cr.SHA256)
        repomd.set_record(record)
    (repodata / "repomd.xml").write_text(repomd.xml_dump())


def create(platform: str, source: Path, output: Path) -> dict:
    """Pack every RPM below ``source`` for ``platform`` (a runtime/<id>.yml) into ``output``; returns the manifest."""
    known = [p.id for p in platforms.all_platforms()]
    if platform not in known:
        raise BundleError(f"--platform {platform!r}: choose {' or '.join(known)}")
    rpms = sorted(p for p in Path(source).rglob("*.rpm") if p.is_file())
    if not rpms:
        raise BundleError(f"no RPMs found under {source}", "point --from at a directory of downloaded RPMs")
    with tempfile.TemporaryDirectory(prefix="pyinstall-bundle-") as tmp:
        root = Path(tmp)
        (root / "packages").mkdir()
        packages, rels = [], []
        for rpm in rpms:
            header = _header(rpm)
            rel = f"packages/{rpm.name}"
            if rel in rels:
                raise BundleError(f"two RPMs named {rpm.name} under {source}")
            shutil.copy2(rpm, root / rel)
            rels.append(rel)
            packages.append({**header, "file": rel, "sha256": file_sha256(rpm), "size": rpm.stat().st_size})
        _repodata(root, rels)
        files = [{"path": rel, "sha256": file_sha256(root / rel), "size": (root / rel).stat().st_size}
                 for rel in rels + sorted(f"repodata/{p.name}" for p in (root / "repodata").iterdir())]  # fmt: skip
        manifest = {"format": FORMAT, "platform": platform, "created": int(time.time()), "packages": packages,
                    "files": files}  # fmt: skip
        (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        output.parent.mkdir(parents=True, exist_ok=True)
        try:
            written = localfiles.open_private(str(output), binary=True)
        except localfiles.LocalFileError as exc:
            raise BundleError(exc.message, exc.hint or "give -o a path of your own") from None
        with written, tarfile.open(fileobj=written, mode="w") as tar:  # RPMs are compressed already
            for item in ["manifest.json", *(f["path"] for f in files)]:
                tar.add(root / item, arcname=item)
    return manifest


def load(path: Path, into: Path) -> Bundle:
    """Unpack a bundle and check every file against its manifest."""
    try:
        with tarfile.open(path) as tar:
            if hasattr(tarfile, "data_filter"):  # refuses links and paths that leave ``into``
                tar.extractall(into, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                tar.extractall(into)
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"{path}: cannot read the bundle ({exc})") from None
    try:
        manifest = json.loads((into / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: no readable manifest.json ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: bundle format {manifest.get('format')!r}, this pyinstall reads {FORMAT}")
    files = []
    for entry in manifest["files"]:
        local = into / entry["path"]
        if not local.is_file() or file_sha256(local) != entry["sha256"]:
            raise BundleError(f"{path}: {entry['path']} is missing or does not match its sha256", "rebuild the bundle")
        files.append(BundleFile(entry["path"], entry["sha256"], entry["size"]))
    return Bundle(manifest["platform"], into, tuple(files), tuple(manifest["packages"]))
