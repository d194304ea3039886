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


def upgrade(name: str, to: str = "el8", **variables: object) -> list[checks.Finding]:
    """check --upgrade-to's findings on a recorded host."""
    a = replace(asked.parse("h1", {**LAB_VARS, **variables}), upgrade_to=to)
    return [f for f in checks.run_checks(recorded(name), a) if f.code.startswith("OS_UPGRADE")]


def test_an_el7_host_ready_for_el8_is_told_what_the_upgrade_changes() -> None:
    (said,) = upgrade("lab-el7-provisioned")
    assert (said.code, said.level) == ("OS_UPGRADE", checks.INFO)
    assert said.message == (
        "in place to EL8: docker-ce 20.10.24-3.el7 (an EL7 build) is replaced by EL8's at 20.10.24; storage driver "
        "overlay2 on tmpfs; Docker's repository file:///srv/lab-repo/docker-ce/linux/centos/7/x86_64/stable now, "
        "file:///srv/lab-repo/docker-ce/linux/rhel/8/x86_64/stable after"
    )
    assert "`pyinstall provision` takes the host to EL8's definition" in said.hint


def test_what_must_change_before_the_upgrade_fails_the_host() -> None:
    """devicemapper (EL8's Docker has none), Red Hat's docker from extras (no EL8 build), XFS without d_type,
    podman's containers: each an error of its own, with what to do on EL7 first."""
    (moved, said) = upgrade("lab-uml-el7-lvm-provisioned", docker_storage_driver="devicemapper")
    assert (moved.code, moved.level) == ("OS_UPGRADE_BLOCKED", checks.ERROR)
    assert moved.message == (
        "before an in-place upgrade to EL8: devicemapper (/var/lib/docker/devicemapper holds data) is not run on EL8"
    )
    assert "provision --migrate-storage" in moved.hint and "docker_storage_driver=overlay2" in moved.hint
    assert said.code == "OS_UPGRADE"

    host = recorded("lab-el7-full")
    extras = replace(host, packages={"docker": "2:1.13.1-209.git7d71120.el7.centos.x86_64"},
                     docker_fs={**host.docker_fs, "fstype": "xfs", "xfs_ftype": 0},
                     podman_containers={"root": ["web"]})  # fmt: skip
    a = replace(asked.parse("h1", {**LAB_VARS, "docker_storage_driver": "vfs"}), upgrade_to="el8")
    blocked = [f.message for f in checks.run_checks(extras, a) if f.code == "OS_UPGRADE_BLOCKED"]
    assert blocked == [
        "before an in-place upgrade to EL8: docker 1.13.1-209.git7d71120.el7.centos has no EL8 build in "
        "any channel pyinstall knows",
        "before an in-place upgrade to EL8: /var/lib/docker is on XFS with ftype=0 (/): EL8's overlay2 needs d_type",
        "before an in-place upgrade to EL8: podman has containers (root: web): EL8's Docker packages replace podman",
    ]


def test_only_one_release_at_a_time_and_never_from_el6() -> None:
    (el6,) = upgrade("lab-el6-full")
    assert el6.message == (
        "EL6 has no in-place upgrade to EL8: Leapp (ELevate) moves EL7 to EL8 and EL8 to EL9, one release at a time"
    )
    assert el6.hint == "reinstall the host with EL8"
    (skip,) = upgrade("lab-el7-provisioned", "el9")
    assert skip.level == checks.ERROR and skip.hint == "upgrade to EL8 first"
    assert upgrade("lab-el8-full") == [], "a host already there has nothing to report"
    (el8,) = upgrade("lab-el8-full", "el9", docker_storage_driver="vfs")
    assert el8.code == "OS_UPGRADE" and "docker-ce/linux/centos/9/x86_64/stable after" in el8.message


def test_where_docker_comes_from_after_the_upgrade_follows_the_distribution() -> None:
    """RHEL stays RHEL; a CentOS host may become any EL9 rebuild, whose repository the message names too."""
    rhel = replace(recorded("lab-el8-full"), **facts.parse_release((FACTS / "release/rhel-9.4.txt").read_text()))
    rhel = replace(rhel, distro_version="8.10", release_text="Red Hat Enterprise Linux release 8.10 (Ootpa)")
    a = replace(asked.parse("h1", {**LAB_VARS, "docker_storage_driver": "vfs"}), upgrade_to="el9")
    (said,) = [f for f in checks.run_checks(rhel, a) if f.code == "OS_UPGRADE"]
    assert said.message.endswith("file:///srv/lab-repo/docker-ce/linux/rhel/9/x86_64/stable after")
    centos = replace(recorded("lab-el8-full"), **facts.parse_release((FACTS / "release/centos-8.txt").read_text()))
    (said,) = [f for f in checks.run_checks(centos, a) if f.code == "OS_UPGRADE"]
    assert said.message.endswith(
        "file:///srv/lab-repo/docker-ce/linux/centos/9/x86_64/stable (rocky, almalinux, oracle, centos), "
        "file:///srv/lab-repo/docker-ce/linux/rhel/9/x86_64/stable (rhel) after"
    )
