"""Offline bundles: built from the lab's real RPMs, read back by dnf, and provisioned with every network
repository gone; an interrupted push resumes; a corrupt push is caught on the host."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from installer import bundle
from tests.lab.testing import Fleet, pyinstall

pytestmark = pytest.mark.lab


def test_bundle_has_a_manifest_and_repodata_dnf_reads(el6_bundle: Path, tmp_path: Path) -> None:
    with tarfile.open(el6_bundle) as tar:
        tar.extractall(tmp_path, filter="data")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    docker = next(p for p in manifest["packages"] if p["name"] == "docker-io")
    assert (docker["version"], docker["release"], docker["arch"]) == ("20.10.24", "1.el6", "x86_64")
    rpm = tmp_path / docker["file"]
    assert hashlib.sha256(rpm.read_bytes()).hexdigest() == docker["sha256"]
    listed = subprocess.run(
        ["dnf", "-q", "--setopt=reposdir=/nonexistent", "--releasever=6", f"--repofrompath=b,file://{tmp_path}",
         "--repo=b", "list", "--available"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in ("docker-io.x86_64", "libcgroup.noarch", "device-mapper-libs.noarch"):
        assert name in listed
    (archive,) = manifest["images"]
    assert archive["file"] == "images/bundled.tar" and archive["min_engine"] is None
    assert [i["tags"] for i in archive["images"]] == [["pyinstall/bundled:1"]] and manifest["format"] == 2


def test_a_tampered_bundle_is_refused(el6_bundle: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.bundle"
    with tarfile.open(el6_bundle) as src, tarfile.open(tampered, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.startswith("packages/libcgroup"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(bundle.BundleError, match=r"libcgroup.*does not match its sha256"):
        bundle.load(tampered, tmp_path / "out")


def test_provision_from_the_bundle_with_every_network_repo_gone(make_fleet, el6_bundle: Path, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet("offline", "el6:1")
    host = fleet.testinfra(fleet["el6-01"])
    host.run_test("mkdir -p /root/away && mv /etc/yum.repos.d/* /root/away/")
    # A push interrupted half way through the biggest file: the host keeps the part it received.
    with tarfile.open(el6_bundle) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith("packages/docker-io"))
        data = tar.extractfile(member).read()
    half = data[: len(data) // 2]
    part = f"/var/cache/pyinstall/bundle/el6/{member.name}.part"
    host.run_test("mkdir -p /var/cache/pyinstall/bundle/el6/packages")
    with fleet.paramiko(fleet["el6-01"]) as client, client.open_sftp() as sftp, sftp.open(part, "wb") as f:
        f.write(half)

    proc = pyinstall("provision", "--json", "-i", str(fleet.inventory), "--bundle", str(el6_bundle), home=tmp_path)
    report = json.loads(proc.stdout)["hosts"][fleet["el6-01"].name]
    assert proc.returncode == 0, report
    push = next(t for t in report["tasks"] if t["name"].startswith("push offline bundle"))
    total = sum(p["size"] for p in json.loads(_manifest(el6_bundle))["files"])
    assert f"sent {total - len(half)} bytes" in push["msg"], "the interrupted file resumes where it stopped"
    assert host.check_output("rpm -q --qf '%{VERSION}' docker-io") == "20.10.24"
    assert host.run("docker info").rc == 0
    loaded = next(t for t in report["tasks"] if t["name"] == "load pyinstall/bundled:1 from the bundle")
    assert loaded["status"] == "changed", loaded
    # The application's image came with the bundle: it runs with no registry and no network repository.
    assert host.check_output("docker run --rm --net=none pyinstall/bundled:1") == "bundled"
    assert host.file("/etc/yum.repos.d/pyinstall-bundle.repo").contains(
        "baseurl=file:///var/cache/pyinstall/bundle/el6"
    )

    proc = pyinstall("provision", "--json", "-i", str(fleet.inventory), "--bundle", str(el6_bundle), home=tmp_path)
    again = json.loads(proc.stdout)["hosts"][fleet["el6-01"].name]
    assert proc.returncode == 0 and again["changed"] == 0 and again["commands"] == 1
    proc = pyinstall("verify", "--json", "-i", str(fleet.inventory), "--bundle", str(el6_bundle), home=tmp_path)
    tests = {t["name"].rsplit("::", 1)[-1]: t["outcome"] for t in json.loads(proc.stdout)["hosts"][
        fleet["el6-01"].name]["tests"]}  # fmt: skip
    assert proc.returncode == 0 and tests["test_the_bundles_images_are_loaded"] == "passed", tests

    # remove, without the bundle: its repository file and its cache go with the rest, and yum still works.
    proc = pyinstall("remove", "--json", "-i", str(fleet.inventory), home=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    left = host.check_output("ls -d /etc/yum.repos.d/*.repo /var/cache/pyinstall /var/lib/pyinstall 2>/dev/null; true")
    assert left == "", "nothing of pyinstall's but its backups"
    assert host.run("ls /etc/yum.repos.d/pyinstall-bundle.repo.pyinstall-backup.*").rc == 0
    assert host.run("rpm -q docker-io libcgroup").rc != 0
    host.run_test("mv /root/away/* /etc/yum.repos.d/ && yum -q makecache")


def test_a_corrupted_push_is_caught_on_the_host(make_fleet, el6_bundle: Path, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet("corrupt", "el6:1")
    host = fleet.testinfra(fleet["el6-01"])
    part = "/var/cache/pyinstall/bundle/el6/packages/libcgroup-0.40.rc1-27.el6_10.noarch.rpm.part"
    host.run_test(f"mkdir -p /var/cache/pyinstall/bundle/el6/packages && printf 'garbage' > {part}")
    proc = pyinstall("provision", "--json", "-i", str(fleet.inventory), "--bundle", str(el6_bundle), home=tmp_path)
    report = json.loads(proc.stdout)["hosts"][fleet["el6-01"].name]
    assert proc.returncode == 2
    assert "sha256 mismatch" in report["tasks"][-1]["stderr"]
    assert not host.file(part).exists, "the bad part is removed"
    assert host.run("rpm -q docker-io").rc != 0, "nothing is installed from an unverified bundle"
    proc = pyinstall("provision", "--json", "-i", str(fleet.inventory), "--bundle", str(el6_bundle), home=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]


def _manifest(path: Path) -> str:
    with tarfile.open(path) as tar:
        return tar.extractfile("manifest.json").read().decode()


def test_check_preflights_against_the_bundle_and_refuses_a_platform_it_lacks(make_fleet, el6_bundle: Path,
                                                                             tmp_path: Path) -> None:  # fmt: skip
    """An air-gapped fleet checks against its bundle: the el6 host's versions come from the bundle (its
    network repositories gone), the el7 host, which no bundle covers, is refused instead of falling back."""
    fleet: Fleet = make_fleet("chkb", "el6:1,el7:1")
    el6, el7 = fleet["el6-01"], fleet["el7-01"]
    fleet.testinfra(el6).run_test("mkdir -p /root/away && mv /etc/yum.repos.d/* /root/away/")
    proc = pyinstall("check", "--json", "-i", str(fleet.inventory), "--bundle", str(el6_bundle), home=tmp_path)
    hosts = json.loads(proc.stdout)["hosts"]
    assert proc.returncode == 2, hosts
    assert hosts[el6.name]["status"] == "ok", hosts[el6.name]["findings"]
    assert hosts[el6.name]["facts"]["available"] == ["0:20.10.24-1.el6"]
    errors = [f for f in hosts[el7.name]["findings"] if f["level"] == "error"]
    assert [f["code"] for f in errors] == ["BUNDLE_PLATFORM"], errors
    rc = pyinstall("provision", "--json", "-i", str(fleet.inventory), "--limit", el7.name, "--bundle", str(el6_bundle),
                   home=tmp_path).returncode  # fmt: skip
    assert rc == 2 and fleet.testinfra(el7).run("rpm -q docker-ce").rc != 0, "refused: nothing installed"
