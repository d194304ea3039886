"""Offline bundles: RPMs, their manifest and yum repodata in one tar file, for air-gapped fleets, and the
images `docker save` wrote, loaded once the daemon runs.

DIR/*.rpm + IMAGE.tar ─▶ create() ─▶ FILE.tar (manifest.json, packages/*.rpm, repodata/, images/*.tar)
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
FORMAT = 1  # a bundle of packages alone; one with images is FORMAT_IMAGES, which older pyinstalls refuse
FORMAT_IMAGES = 2
IMAGES_DIR = "images"
_METADATA_LIMIT = 16 << 20  # bytes of an archive's manifest or an image's config read at most


class BundleError(UsageError):
    pass


@dataclass(frozen=True)
class BundleFile:
    path: str  # relative to the bundle root: packages/x.rpm, repodata/...
    sha256: str
    size: int


@dataclass(frozen=True)
class Image:
    """One image of a `docker save` archive in the bundle."""

    file: str  # the archive, relative to the bundle root: images/NAME.tar
    id: str  # sha256:HEX, its configuration's digest: what `docker images --no-trunc` says on 1.10 and later
    tags: tuple[str, ...]
    legacy_id: str = ""  # its top layer's v1 id: what an engine older than 1.10 calls it (none in newer archives)
    min_engine: str | None = None  # the oldest docker that loads the archive; None: any pyinstall installs

    @property
    def name(self) -> str:
        return self.tags[0] if self.tags else self.id[:19]


@dataclass(frozen=True)
class Bundle:
    platform: str
    root: Path  # where it was unpacked on this machine
    files: tuple[BundleFile, ...]
    packages: tuple[dict, ...]
    images: tuple[Image, ...] = ()

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


def read_archive(path: Path) -> tuple[list[dict], str | None]:
    """The images a `docker save` archive holds ({id, tags, legacy_id}) and the oldest engine that loads it:
    an archive with v1 metadata (a `repositories` file, a json per layer: Docker 1.10 to 24 write them) loads
    anywhere; one with manifest.json alone (Docker 25's OCI layout) needs 1.10; an OCI layout without it,
    25.0. Each configuration is checked against the digest that names it."""
    try:
        with tarfile.open(path) as tar:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}

            def read(name: str) -> bytes:
                member = members.get(name)
                if member is None or member.size > _METADATA_LIMIT:
                    raise BundleError(f"--image {path}: {name} is missing or too large", _SAVE_HINT)
                data = tar.extractfile(member)
                return data.read() if data else b""

            if "manifest.json" not in members:
                if "index.json" in members and "oci-layout" in members:
                    raise BundleError(f"--image {path}: an OCI layout without manifest.json, which only Docker 25 "
                                      "and later load", _SAVE_HINT)  # fmt: skip
                raise BundleError(f"--image {path}: not an archive `docker save` writes (no manifest.json)", _SAVE_HINT)
            try:
                entries = json.loads(read("manifest.json"))
            except ValueError:
                raise BundleError(f"--image {path}: manifest.json is not JSON", _SAVE_HINT) from None
            if not isinstance(entries, list) or not entries:
                raise BundleError(f"--image {path}: manifest.json lists no image", _SAVE_HINT)
            images, legacy = [], "repositories" in members
            for entry in entries:
                config, layers = entry.get("Config"), entry.get("Layers")
                if not isinstance(config, str) or not isinstance(layers, list) or not layers:
                    raise BundleError(f"--image {path}: manifest.json's entry {entry!r:.80} is not an image's")
                digest = hashlib.sha256(read(config)).hexdigest()
                named = config.rsplit("/", 1)[-1].removesuffix(".json")
                if digest != named:
                    raise BundleError(f"--image {path}: {config} does not match its digest", _SAVE_HINT)
                missing = [layer for layer in layers if layer not in members]
                if missing:
                    raise BundleError(f"--image {path}: layer {missing[0]} is missing", _SAVE_HINT)
                top = layers[-1].rsplit("/", 1)[0]
                v1 = legacy and all(f"{layer.rsplit('/', 1)[0]}/json" in members for layer in layers)
                legacy = v1
                tags = entry.get("RepoTags") or []
                images.append({"id": f"sha256:{digest}", "tags": [str(t) for t in tags],
                               "legacy_id": top if v1 else ""})  # fmt: skip
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"--image {path}: cannot read it ({exc})", _SAVE_HINT) from None
    return images, None if legacy else "1.10.0"


_SAVE_HINT = "give what `docker save -o FILE IMAGE...` wrote"


def create(platform: str, source: Path, output: Path, images: list[Path] | None = None) -> dict:
    """Pack every RPM below ``source`` for ``platform`` (a runtime/<id>.yml), and the image archives
    ``images``, into ``output``; returns the manifest."""
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
        archives = []
        for archive in images or []:
            held, min_engine = read_archive(archive)
            rel = f"{IMAGES_DIR}/{archive.name}"
            if any(a["file"] == rel for a in archives):
                raise BundleError(f"two image archives named {archive.name}", "rename one")
            (root / IMAGES_DIR).mkdir(exist_ok=True)
            shutil.copy2(archive, root / rel)
            archives.append({"file": rel, "min_engine": min_engine, "images": held})
        stored = rels + sorted(f"repodata/{p.name}" for p in (root / "repodata").iterdir())
        stored += [a["file"] for a in archives]
        files = [{"path": rel, "sha256": file_sha256(root / rel), "size": (root / rel).stat().st_size}
                 for rel in stored]  # fmt: skip
        manifest = {"format": FORMAT_IMAGES if archives else FORMAT, "platform": platform,
                    "created": int(time.time()), "packages": packages, "files": files}  # fmt: skip
        if archives:
            manifest["images"] = archives
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
    if manifest.get("format") not in (FORMAT, FORMAT_IMAGES):
        raise BundleError(f"{path}: bundle format {manifest.get('format')!r}, this pyinstall reads {FORMAT} and "
                          f"{FORMAT_IMAGES}", "make it again with this pyinstall: pyinstall bundle create")  # fmt: skip
    files = []
    for entry in manifest["files"]:
        local = into / entry["path"]
        if not local.is_file() or file_sha256(local) != entry["sha256"]:
            raise BundleError(f"{path}: {entry['path']} is missing or does not match its sha256", "rebuild the bundle")
        files.append(BundleFile(entry["path"], entry["sha256"], entry["size"]))
    images = tuple(
        Image(archive["file"], image["id"], tuple(image["tags"]), image.get("legacy_id", ""), archive["min_engine"])
        for archive in manifest.get("images", [])
        for image in archive["images"]
    )
    return Bundle(manifest["platform"], into, tuple(files), tuple(manifest["packages"]), images)
