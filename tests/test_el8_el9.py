"""EL8 and EL9 as their definitions (runtime/el8.yml, el9.yml) make them, on facts recorded from the lab's
Rocky 8, Rocky 8 with podman, and AlmaLinux 9 (cgroup v2) hosts, and on real hosts' release files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from installer import asked, checks, facts, platforms, runtime
from installer.plan import plan
from tests.lab.spec import LAB_VARS

FACTS = Path(__file__).parent / "facts"
STAMP = "20261201T000000Z"


def recorded(name: str, release: str | None = None) -> facts.Facts:
    """A lab host's recorded facts, with a real host's release files when given."""
    f = facts.parse((FACTS / f"{name}.txt").read_text())
    if release:
        return replace(f, **facts.parse_release((FACTS / "release" / f"{release}.txt").read_text()))
    return f


def subject(f: facts.Facts, **variables: object) -> checks.Subject:
    return checks.subject(f, asked.parse("h1", {**LAB_VARS, **variables}))


@pytest.mark.parametrize(
    "name, release, platform, repository",
    [
        # Docker's CentOS 8 repository stopped at 26.1.3 (CentOS Stream 8's end): every EL8 gets RHEL's.
        ("lab-el8-full", None, "el8", "docker-ce/linux/rhel/$releasever/$basearch/stable"),
        ("lab-el8-full", "oracle-8.10", "el8", "docker-ce/linux/rhel/$releasever/$basearch/stable"),
        ("lab-el8-full", "centos-8", "el8", "docker-ce/linux/rhel/$releasever/$basearch/stable"),
        # EL9: RHEL gets RHEL's, the rebuilds CentOS Stream 9's.
        ("lab-uml-el9-full", None, "el9", "docker-ce/linux/centos/$releasever/$basearch/stable"),
        ("lab-uml-el9-full", "rhel-9.4", "el9", "docker-ce/linux/rhel/$releasever/$basearch/stable"),
    ],
)
def test_each_distribution_gets_its_docker_repository(name: str, release: str | None, platform: str,
                                                      repository: str) -> None:  # fmt: skip
    s = subject(recorded(name, release), docker_storage_driver="vfs")
    assert s.platform is not None and s.platform.id == platform
    (repo,) = runtime.desired(s, "20.10.24").repos
    assert repo.baseurl == f"file:///srv/lab-repo/{repository}"


def test_el8_installs_the_plugins_at_their_pins_and_lets_dnf_erase_the_container_tools() -> None:
    host = recorded("lab-el8-podman-full")
    s = subject(host, docker_storage_driver="vfs")
    d = runtime.desired(s, "20.10.24")
    assert d.installs == ("docker-ce-20.10.24", "docker-ce-cli-20.10.24", "containerd.io",
                          "docker-buildx-plugin-0.29.1", "docker-compose-plugin-2.40.3")  # fmt: skip
    ops = plan(host, d, STAMP).operations
    (remove,) = [op for op in ops if op.name == "remove conflicting packages"]
    assert remove.why == "installed: podman, buildah, runc, podman-docker"
    (install,) = [op for op in ops if op.name.startswith("install docker-ce")]
    command = install.commands[0]
    assert "/var/lib/dnf/rpmdb_lock.pid" in command, "the install waits for dnf's lock, not yum's"
    assert " -y --allowerasing install docker-ce-20.10.24 " in command


@pytest.mark.parametrize("driver", ["devicemapper", "overlay"])
def test_the_drivers_docker_removed_are_refused_by_name(driver: str) -> None:
    variables = {**LAB_VARS, "docker_storage_driver": driver}
    findings = checks.run_checks(recorded("lab-el8-full"), asked.parse("h1", variables))
    (refused,) = [f for f in findings if f.code == "DRIVER_REMOVED"]
    assert refused.level == checks.ERROR
    assert refused.message == (
        f"{driver} is gone from Docker (overlay in 24.0, devicemapper in 25.0): el8 hosts run overlay2"
    )
    assert "docker_storage_driver=overlay2" in refused.hint and "--migrate-storage" in refused.hint


def test_overlay2_is_the_default_driver_on_el8_and_el9() -> None:
    for name in ("lab-el8-full", "lab-uml-el9-full"):
        assert checks.subject(recorded(name), asked.parse("h1", {})).platform.default_storage_drivers == ("overlay2",)


def test_el9_on_cgroup_v2_is_checked_on_its_unified_hierarchy() -> None:
    """Recorded under the lab's User-Mode Linux kernel: cgroup2 alone, without the cpuset controller."""
    host = recorded("lab-uml-el9-full")
    assert host.cgroup2 == {"/sys/fs/cgroup": ["cpu", "io", "memory", "pids"]}
    (missing,) = [f for f in checks.run_checks(host, asked.parse("h1", LAB_VARS)) if f.code == "CGROUPS"]
    assert "cgroup v2 controllers not available: cpuset" in missing.message
    full = replace(host, cgroup2={"/sys/fs/cgroup": ["cpuset", "cpu", "io", "memory", "pids"]})
    assert "CGROUPS" not in {f.code for f in checks.run_checks(full, asked.parse("h1", LAB_VARS))}


def test_adding_el8_and_el9_gave_each_distribution_one_platform() -> None:
    for p in platforms.all_platforms():
        if p.major >= 8:
            assert set(p.distributions) == {"rocky", "almalinux", "rhel", "oracle", "centos"}
            assert "devicemapper" in p.storage_drivers and p.storage_drivers["devicemapper"].refused is not None
