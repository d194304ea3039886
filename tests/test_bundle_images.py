"""Images in offline bundles: what a `docker save` archive holds and which engines load it, the load a host
needs (by id, once its daemon runs), and the engine check refuses. Built and provisioned for real on a lab
host: tests/test_bundle_lab.py."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from installer import asked, checks, facts
from installer.bundle import Bundle, BundleError, Image, read_archive
from installer.executor import execute
from installer.plan import plan, tagged
from tests import docker_archive
from tests.test_day_two import desired, recorded


def test_an_archive_with_v1_metadata_loads_anywhere_and_docker_25s_needs_1_10(tmp_path: Path) -> None:
    image = docker_archive.save(tmp_path / "old.tar")
    (held,), min_engine = read_archive(tmp_path / "old.tar")
    assert held["id"] == image and held["tags"] == ["pyinstall/bundled:1"] and len(held["legacy_id"]) == 64
    assert min_engine is None
    oci = docker_archive.save(tmp_path / "oci.tar", oci=True)
    assert read_archive(tmp_path / "oci.tar") == ([{"id": oci, "tags": ["pyinstall/bundled:1"], "legacy_id": ""}],
                                                   "1.10.0")  # fmt: skip


def _rewritten(src: Path, dst: Path, change) -> Path:
    with tarfile.open(src) as tar, tarfile.open(dst, "w") as out:
        for member in tar.getmembers():
            data = change(member.name, tar.extractfile(member).read())
            if data is None:
                continue
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    return dst


@pytest.mark.parametrize(
    "change, said",
    [
        (lambda name, data: None if name == "manifest.json" else data, "no manifest.json"),
        (lambda name, data: b"{" if name == "manifest.json" else data, "manifest.json is not JSON"),
        (
            lambda name, data: (
                data + b" " if name.endswith(".json") and "/" not in name and name != "manifest.json" else data
            ),
            "does not match its digest",
        ),
        (lambda name, data: None if name.endswith("layer.tar") else data, "is missing"),
    ],
)
def test_an_archive_docker_would_not_load_is_refused_when_the_bundle_is_made(tmp_path: Path, change, said) -> None:
    docker_archive.save(tmp_path / "good.tar")
    bad = _rewritten(tmp_path / "good.tar", tmp_path / "bad.tar", change)
    with pytest.raises(BundleError, match=said):
        read_archive(bad)
    (tmp_path / "text.tar").write_text("not a tar")
    with pytest.raises(BundleError, match="cannot read it"):
        read_archive(tmp_path / "text.tar")


IMAGE = Image("images/app.tar", "sha256:" + "a" * 64, ("app:1",), "b" * 64, None)
NEW = Image("images/new.tar", "sha256:" + "c" * 64, ("new:1",), "", "1.10.0")


def bundled(platform: str, *images: Image) -> dict:
    return {platform: Bundle(platform, Path("/nonexistent"), (), (), images)}


def test_provision_loads_the_images_a_host_lacks_once_its_daemon_runs() -> None:
    host = replace(recorded("lab-el7-provisioned"), bundle_sums={})
    wanted = replace(desired("el7", {}, "overlay2"), bundle=bundled("el7", IMAGE, NEW)["el7"])
    steps = plan(host, wanted)
    assert [op.name for op in steps.after] == ["load app:1 from the bundle", "load new:1 from the bundle"]
    load = steps.after[0].commands[0]
    assert load.startswith("docker load -i /var/cache/pyinstall/bundle/el7/images/app.tar >/dev/null && ")
    assert f"docker inspect sha256:{'a' * 64}" in load and f"docker inspect {'b' * 64}" in load
    assert [t.name for t in execute(None, steps, check=True)][-2:] == [op.name for op in steps.after]
    assert not tagged(steps, None, frozenset({"images"})).after
    present = replace(host, docker_images=[IMAGE.id, f"sha256:{'c' * 64}"])
    assert not plan(present, wanted).after, "compared by id: nothing to load"
    legacy = replace(host, docker_images=[f"sha256:{'b' * 64}"])  # an engine older than 1.10 names it so
    assert [op.name for op in plan(legacy, wanted).after] == ["load new:1 from the bundle"]


def test_check_refuses_an_archive_the_hosts_engine_cannot_load() -> None:
    el6 = asked.parse("h1", {"docker_storage_driver": "vfs"}, bundles=bundled("el6", IMAGE, NEW))
    found = {f.code: f for f in checks.run_checks(recorded("lab-el6-full"), el6)}
    assert found["IMAGE_FORMAT"].message == (
        "the bundle's images cannot be loaded by docker 1.7.1: new:1 (images/new.tar, docker 1.10.0 or later)"
    )
    newer = asked.parse("h1", {"docker_storage_driver": "vfs", "docker_version": "20.10.24"},
                        bundles=bundled("el6", IMAGE, NEW))  # fmt: skip
    assert "IMAGE_FORMAT" not in {f.code for f in checks.run_checks(recorded("lab-el6-full"), newer)}


def test_the_facts_list_the_daemons_images_only_when_a_bundle_has_some() -> None:
    assert "pyinstall_images=1" in facts.script(provision=True, images=True)
    assert "pyinstall_images=\n" in facts.script(provision=True)
    text = (Path(__file__).parent / "facts" / "lab-el7-provisioned.txt").read_text()
    listed = text.replace("rc: 0\n", f"rc: 0\nimage: sha256:{'a' * 64}\nimage: {'b' * 64}\nimage: $(evil)\n", 1)
    assert facts.parse(listed).docker_images == [f"sha256:{'a' * 64}", f"sha256:{'b' * 64}"]
    assert json.loads(json.dumps(facts.parse(listed).to_dict()))["docker_images"]
