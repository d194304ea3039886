"""Archives as `docker save` writes them, made here from the probe's root filesystem (runtime/probe) so that no
docker is needed to make one: Docker 1.10-24's layout (manifest.json, the configuration named by its digest,
and the v1 metadata older engines read), or Docker 25's (an OCI layout with manifest.json, no v1 metadata)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from installer.probe import PROBE


def save(path: Path, tag: str = "pyinstall/bundled:1", oci: bool = False) -> str:
    """Write an archive holding one image tagged ``tag`` that runs /echo; returns its id (sha256:HEX)."""
    layer = gzip.decompress(PROBE.read_bytes())
    diff = hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["/echo", "bundled"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff}"]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "tests/docker_archive.py"}],
    }, sort_keys=True).encode()  # fmt: skip
    digest = hashlib.sha256(config).hexdigest()
    name, version = tag.rsplit(":", 1)
    if oci:
        config_path, layer_path = f"blobs/sha256/{digest}", f"blobs/sha256/{diff}"
        members = {config_path: config, layer_path: layer, "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
                   "index.json": json.dumps({"schemaVersion": 2, "manifests": []}).encode()}  # fmt: skip
    else:
        v1 = hashlib.sha256(b"v1:" + config).hexdigest()
        config_path, layer_path = f"{digest}.json", f"{v1}/layer.tar"
        members = {config_path: config, layer_path: layer, f"{v1}/VERSION": b"1.0",
                   f"{v1}/json": json.dumps({"id": v1, "created": "2026-01-01T00:00:00Z"}).encode(),
                   "repositories": json.dumps({name: {version: v1}}).encode()}  # fmt: skip
    members["manifest.json"] = json.dumps([{"Config": config_path, "RepoTags": [tag], "Layers": [layer_path]}]).encode()
    with tarfile.open(path, "w") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return f"sha256:{digest}"
