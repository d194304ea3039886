"""Checks on recorded facts: each finding's code and level, from real release strings and kernels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from installer import asked, facts, platforms
from installer.asked import Asked
from installer.checks import (
    ERROR,
    INFO,
    WARNING,
    Subject,
    check_conflicts,
    check_firewall,
    default_storage_driver,
    passed,
    run_checks,
    subject,
)

FACTS = Path(__file__).parent / "facts"


def lab(kind: str) -> facts.Facts:
    """A complete, passing set of facts recorded from a lab host (el6, el7, el8, uml-el9)."""
    return facts.parse((FACTS / f"lab-{kind}-full.txt").read_text())


def host(release: str, uname: str, base: str = "el6", **changes) -> facts.Facts:
    """Lab facts with the release files and uname of a recorded real host."""
    f = lab(base)
    for key, value in facts.parse_release((FACTS / "release" / f"{release}.txt").read_text()).items():
        setattr(f, key, value)
    for key, value in facts.parse_uname((FACTS / "uname" / f"{uname}.txt").read_text()).items():
        setattr(f, key, value)
    return replace(f, **changes)


def codes(findings, level: str | None = None) -> set[str]:
    return {f.code for f in findings if level is None or f.level == level}


def ask(**values) -> Asked:
    return Asked(host="h1", **values)


def own_store(f: facts.Facts) -> facts.Facts:
    """The facts with /var/lib/docker on a filesystem of its own (the lab's roots are overlayfs)."""
    fs, _ = facts.parse_docker_fs("path: /var/lib/docker\ndf: store ext4 100 1 99000000 1% /var/lib/docker")
    return replace(f, docker_fs=fs)


VFS = ask(storage_driver="vfs")
EL6, EL7 = platforms.by_id("el6"), platforms.by_id("el7")


def test_centos_6_5_with_the_6_5_kernel_passes() -> None:
    findings = run_checks(host("centos-6.5", "centos-6.5"), VFS)
    assert passed(findings), findings
    assert codes(findings, ERROR) == set()


def test_centos_7_9_passes() -> None:
    findings = run_checks(own_store(host("centos-7.9", "centos-7.9", base="el7")), ask(storage_driver="overlay2"))
    assert passed(findings), findings


def test_rhel_6_4_fails_on_release_and_kernel() -> None:
    findings = run_checks(host("rhel-6.4", "rhel-6.4-i686"), VFS)
    assert codes(findings, ERROR) == {"OS", "KERNEL", "ARCH"}
    os_finding = next(f for f in findings if f.code == "OS")
    assert "6.4" in os_finding.message and "6.5" in os_finding.hint
    kernel = next(f for f in findings if f.code == "KERNEL")
    assert "2.6.32-358.el6.i686" in kernel.message and "2.6.32-431" in kernel.message


@pytest.mark.parametrize(
    "release, uname, base, expected",
    [
        ("scientific-6.5", "centos-6.5", "el6", set()),
        ("oracle-7.6", "centos-7.9", "el7", set()),
        ("centos-5.11", "centos-6.5", "el6", {"OS"}),
        ("rocky-8.10", "rocky-8.10", "el8", set()),
        ("oracle-8.10", "rocky-8.10", "el8", set()),
        ("centos-8", "rocky-8.10", "el8", set()),
        # Recorded on cgroup v2 under the lab's User-Mode Linux kernel, which has no cpuset controller.
        ("almalinux-9.4", "almalinux-9.4", "uml-el9", {"CGROUPS"}),
        ("rhel-9.4", "almalinux-9.4", "uml-el9", {"CGROUPS"}),
        ("centos-8", "centos-7.9", "el7", {"KERNEL", "KERNEL_CONFIG"}),  # an EL8 userland on an EL7 kernel
        ("almalinux-10.0", "almalinux-9.4", "uml-el9", {"OS"}),
        ("ubuntu-22.04", "centos-7.9", "el7", {"OS"}),
    ],
)
def test_release_families(release: str, uname: str, base: str, expected: set[str]) -> None:
    findings = run_checks(host(release, uname, base=base), VFS)
    assert codes(findings, ERROR) == expected


def test_a_refused_release_names_the_distributions_and_releases_the_definitions_cover() -> None:
    (ubuntu,) = [f for f in run_checks(host("ubuntu-22.04", "centos-7.9", base="el7"), VFS) if f.code == "OS"]
    assert "CentOS" in ubuntu.message and "Rocky Linux" in ubuntu.message and "6.5+, 7, 8 and 9" in ubuntu.message
    assert "Adding a platform" in ubuntu.hint
    (newer,) = [f for f in run_checks(host("almalinux-10.0", "almalinux-9.4", base="uml-el9"), VFS) if f.code == "OS"]
    assert "EL 10 is too new" in newer.message and "no platform definition covers EL 10" in newer.hint


def test_old_el6_kernel_under_a_new_release() -> None:
    f = replace(lab("el6"), kernel_release="2.6.32-71.el6.x86_64")
    assert codes(run_checks(f, VFS), ERROR) == {"KERNEL"}
    f = replace(lab("el6"), kernel_release="2.6.32-431.29.2.el6.x86_64")
    assert "KERNEL" not in codes(run_checks(f, VFS))


def test_i686_is_refused() -> None:
    f = replace(lab("el6"), arch="i686", long_bit=32)
    assert codes(run_checks(f, VFS), ERROR) == {"ARCH"}
    f = replace(lab("el6"), long_bit=32)  # 64-bit kernel, 32-bit userland
    assert "32-bit userland" in run_checks(f, VFS)[0].message


def test_devicemapper_on_the_lab_kernel_has_no_device_mapper() -> None:
    findings = run_checks(lab("el6"), ask(storage_driver="devicemapper"))
    assert "DEVICE_MAPPER" in codes(findings, ERROR)
    assert "DEVICEMAPPER_LOOP" in codes(findings, WARNING)  # loop-lvm: advise direct-lvm


@pytest.mark.parametrize("direct_lvm", ["dm.thinpooldev=/dev/mapper/tp", "dm.directlvm_device=/dev/xvdf"])
def test_devicemapper_with_modules_and_direct_lvm(direct_lvm: str) -> None:
    """A thin pool given, or a block device Docker makes one on: no loop files either way."""
    dm = facts.parse_device_mapper((FACTS / "device_mapper/el7-loaded.txt").read_text())
    f = replace(lab("el7"), device_mapper=dm)
    findings = run_checks(f, ask(storage_driver="devicemapper", storage_options=(direct_lvm,)))
    assert codes(findings) & {"DEVICE_MAPPER", "LOOP_DEVICES", "DEVICEMAPPER_LOOP"} == set()


def test_dm_thin_pool_without_dm_mod_is_no_device_mapper() -> None:
    """Found on a real kernel whose dm-mod.ko was deleted: the thin-pool module alone cannot load."""
    dm = facts.parse_device_mapper("module: /lib/modules/3.10.0-1160.el7.x86_64/kernel/drivers/md/dm-thin-pool.ko.xz\n")
    findings = run_checks(replace(lab("el7"), device_mapper=dm), ask(storage_driver="devicemapper"))
    assert "DEVICE_MAPPER" in codes(findings, ERROR)


def test_no_free_loop_device() -> None:
    dm = facts.parse_device_mapper((FACTS / "device_mapper/el6-modules-only.txt").read_text())
    loop = facts.parse_loop((FACTS / "loop/all-busy-el6.txt").read_text())
    f = replace(lab("el6"), device_mapper=dm, loop=loop)
    assert "LOOP_DEVICES" in codes(run_checks(f, ask(storage_driver="devicemapper")), ERROR)


def test_overlay2_on_el6_is_refused() -> None:
    findings = run_checks(lab("el6"), ask(storage_driver="overlay2"))
    assert codes(findings, ERROR) == {"OVERLAY_EL6", "KERNEL_CONFIG"}
    assert "CONFIG_OVERLAY_FS" in next(f.message for f in findings if f.code == "KERNEL_CONFIG")


def test_overlay2_needs_the_7_3_kernel_and_d_type() -> None:
    old = replace(own_store(lab("el7")), kernel_release="3.10.0-327.el7.x86_64")
    assert codes(run_checks(old, ask(storage_driver="overlay2")), ERROR) == {"OVERLAY2_KERNEL"}
    assert codes(run_checks(old, ask(storage_driver="overlay")), ERROR) == set()
    fs, _ = facts.parse_docker_fs((FACTS / "docker_fs/xfs-ftype0.txt").read_text())
    xfs = replace(lab("el7"), docker_fs=fs)
    assert codes(run_checks(xfs, ask(storage_driver="overlay2")), ERROR) == {"XFS_FTYPE"}
    assert default_storage_driver(xfs, EL7) == "devicemapper"
    assert default_storage_driver(own_store(lab("el7")), EL7) == "overlay2"
    assert default_storage_driver(old, EL7) == "devicemapper"
    assert default_storage_driver(lab("el6"), EL6) == "devicemapper"


def test_overlay_cannot_stack_on_an_overlayfs_store() -> None:
    findings = run_checks(lab("el7"), ask(storage_driver="overlay2"))  # the lab's root is overlayfs
    assert codes(findings, ERROR) == {"OVERLAY_BACKING"}
    assert default_storage_driver(lab("el7"), EL7) == "devicemapper"


def test_unknown_driver() -> None:
    assert codes(run_checks(lab("el7"), ask(storage_driver="aufs")), ERROR) == {"STORAGE_DRIVER"}


def test_kernel_config() -> None:
    config = dict(lab("el7").kernel_config)
    del config["VETH"]
    config["CGROUPS"] = "n"
    findings = run_checks(replace(own_store(lab("el7")), kernel_config=config), ask(storage_driver="overlay2"))
    message = next(f.message for f in findings if f.code == "KERNEL_CONFIG")
    assert "CONFIG_VETH" in message and "CONFIG_CGROUPS" in message
    missing = run_checks(replace(lab("el7"), kernel_config_path=None, kernel_config={}), VFS)
    assert codes(missing, WARNING) >= {"KERNEL_CONFIG_NOT_FOUND"} and passed(missing)


def test_cgroups() -> None:
    assert codes(run_checks(replace(lab("el7"), cgroup_mounts={"cpu": "/x"}), VFS), ERROR) == {"CGROUPS"}
    assert codes(run_checks(lab("el6"), VFS), INFO) >= {"CGROUPS"}  # cgconfig will mount them
    no_cgroupfs = replace(lab("el6"), filesystems=["ext4", "proc"])
    assert codes(run_checks(no_cgroupfs, VFS), ERROR) == {"CGROUPS"}


def test_disk_space() -> None:
    fs, _ = facts.parse_docker_fs((FACTS / "docker_fs/ext4-nearly-full.txt").read_text())
    findings = run_checks(replace(lab("el6"), docker_fs=fs), VFS)
    assert codes(findings, ERROR) == {"DISK_SPACE"}
    disk = next(f for f in findings if f.code == "DISK_SPACE")
    assert "0.6 GiB free under /var/lib (ext4, mounted on /)" in disk.message


def test_yum_lock_names_its_holder() -> None:
    held = facts.parse_yum_lock((FACTS / "yum_lock/held.txt").read_text())
    finding = next(f for f in run_checks(replace(lab("el6"), yum_lock=held), VFS) if f.code == "YUM_LOCK")
    assert finding.level == ERROR
    assert "PID 2817" in finding.message and "/usr/bin/yum -y update" in finding.message
    stale = facts.parse_yum_lock((FACTS / "yum_lock/stale.txt").read_text())
    findings = run_checks(replace(lab("el6"), yum_lock=stale), VFS)
    assert passed(findings) and "YUM_LOCK_STALE" in codes(findings, INFO)


def test_requiretty_for_a_non_root_login() -> None:
    user = facts.parse_user((FACTS / "user/requiretty.txt").read_text())
    assert "REQUIRETTY" in codes(run_checks(replace(lab("el7"), user=user), VFS), WARNING)
    root = facts.parse_user((FACTS / "user/root.txt").read_text())
    assert "REQUIRETTY" not in codes(run_checks(replace(lab("el7"), user=root), VFS))


def test_conflicting_packages() -> None:
    pkgs = facts.parse_packages((FACTS / "packages/el7-extras-docker.txt").read_text())
    findings = run_checks(replace(lab("el7"), packages=pkgs, docker_store_entries=["overlay2"]), VFS)
    finding = next(f for f in findings if f.code == "CONFLICTING_PACKAGES")
    assert finding.level == WARNING
    assert "docker-2:1.13.1" in finding.message and "docker-client" in finding.message
    assert "back it up" in finding.hint
    # The extras channel wants exactly those packages: no conflict.
    assert "CONFLICTING_PACKAGES" not in codes(run_checks(replace(lab("el7"), packages=pkgs), ask(package="docker")))


def test_flags_an_administrator_added_to_the_extras_environment_files_are_named() -> None:
    """provision writes /etc/sysconfig/docker with the package's own values: a flag the inventory does not
    ask for would go; one daemon.json sets (log-driver) or the package ships (--selinux-enabled) is no loss."""
    text = "OPTIONS='--selinux-enabled --log-driver=journald --insecure-registry r:5000'\n"
    host = replace(lab("el7"), docker_config={"/etc/sysconfig/docker": text})
    (finding,) = [f for f in run_checks(host, ask(package="docker")) if f.code == "UNMANAGED_OPTIONS"]
    assert finding.level == WARNING and "/etc/sysconfig/docker: --insecure-registry" in finding.message
    assert "--log-driver" not in finding.message and "--selinux-enabled" not in finding.message
    kept = ask(package="docker", daemon_options={"insecure-registries": ["r:5000"]})
    assert "UNMANAGED_OPTIONS" not in codes(run_checks(host, kept))
    # docker-ce's unit reads no /etc/sysconfig/docker: nothing there is lost or in conflict.
    assert not {"UNMANAGED_OPTIONS", "FOREIGN_CONFIG"} & codes(run_checks(host, VFS))


def test_selinux_and_clock() -> None:
    findings = run_checks(replace(lab("el7"), selinux="enforcing", clock_skew=-300.0), VFS)
    assert "SELINUX" in codes(findings, INFO)
    skew = next(f for f in findings if f.code == "CLOCK_SKEW")
    assert skew.level == WARNING and "300s behind" in skew.message
    assert "CLOCK_SKEW" not in codes(run_checks(replace(lab("el7"), clock_skew=5.0), VFS))


def test_incomplete_facts_fail() -> None:
    f = replace(lab("el7"), missing_sections=["yum_lock", "end"])
    assert "FACTS" in codes(run_checks(f, VFS), ERROR)


def test_ignore_preflight_errors() -> None:
    f = replace(lab("el6"), kernel_release="2.6.32-358.el6.x86_64", arch="i686")
    findings = run_checks(f, ask(storage_driver="vfs", ignore=frozenset({"KERNEL"})))
    kernel = next(x for x in findings if x.code == "KERNEL")
    assert kernel.level == WARNING and kernel.ignored
    assert not passed(findings)  # ARCH is still an error
    everything = run_checks(f, ask(storage_driver="vfs", ignore=frozenset({"ALL"})))
    assert passed(everything) and {x.code for x in everything if x.ignored} == {"KERNEL", "ARCH"}
    assert asked.parse("h1", {}, ignore=["kernel", " arch "]).ignore == {"KERNEL", "ARCH"}
    assert asked.unknown_codes(["KERNEL", "all", "KERNAL"]) == ["KERNAL"]


def test_transactions_left_by_an_earlier_run() -> None:
    jobs = facts.parse_jobs((FACTS / "jobs/left-behind.txt").read_text())
    findings = run_checks(replace(lab("el6"), jobs=jobs), VFS)
    assert {(f.code, f.level) for f in findings if f.code.startswith("JOB_")} == {
        ("JOB_RUNNING", ERROR), ("JOB_FAILED", WARNING), ("JOB_LOST", WARNING),
    }  # fmt: skip
    running = next(f for f in findings if f.code == "JOB_RUNNING")
    assert "PID 4242" in running.message and "/var/lib/pyinstall/jobs/ab12.log" in running.hint


def _pinned(version: str, kind: str = "el7", **changes) -> facts.Facts:
    """Lab facts whose repositories offer ``version`` of the channel's package."""
    return replace(lab(kind), available=[f"3:{version}-1.el7" if kind == "el7" else f"{version}-1.el6"], **changes)


def test_a_pin_past_the_driver_dockerd_removed_is_refused_before_anything_changes() -> None:
    """dockerd 25.0 has no devicemapper: asked for, or run by the host (its data in /var/lib/docker)."""
    asked_dm = run_checks(_pinned("28.5.2"), ask(storage_driver="devicemapper", version="28.5.2"))
    (removed,) = [f for f in asked_dm if f.code == "DRIVER_REMOVED"]
    assert removed.level == ERROR and "Docker 28.5.2 has no devicemapper" in removed.message
    assert "is asked for it" in removed.message and "below 25.0" in removed.hint
    running = run_checks(_pinned("25.0.0", docker_store_entries=["devicemapper"]), ask(storage_driver="vfs",
                         version="25.0.0"))  # fmt: skip
    assert "runs it (/var/lib/docker/devicemapper)" in next(f.message for f in running if f.code == "DRIVER_REMOVED")
    assert "DRIVER_REMOVED" not in codes(run_checks(_pinned("24.0.9"), ask(storage_driver="devicemapper",
                                                                           version="24.0.9")))  # fmt: skip
    assert "DRIVER_REMOVED" in codes(run_checks(_pinned("24.0.0"), ask(storage_driver="overlay", version="24.0.0")))


def test_a_pin_past_the_real_repositories_warns_naming_their_last_release() -> None:
    (ceiling,) = [f for f in run_checks(_pinned("28.5.2"), ask(storage_driver="vfs", version="28.5.2"))
                  if f.code == "VERSION_CEILING"]  # fmt: skip
    assert ceiling.level == WARNING and "they stop at 26.1.4" in ceiling.message
    assert "VERSION_CEILING" not in codes(run_checks(_pinned("26.1.4"), ask(storage_driver="vfs", version="26.1.4")))
    el6 = run_checks(_pinned("20.10.24", "el6"), ask(storage_driver="vfs", version="20.10.24"))
    assert "VERSION_CEILING" in codes(el6, WARNING), "the lab's EL6 pin is past EPEL's docker-io 1.7.1"


def test_an_unreadable_extras_repository_says_where_centos_7_went() -> None:
    failed = replace(lab("el7"), available=None, available_error="Cannot find a valid baseurl for repo: extras/7")
    (finding,) = [f for f in run_checks(failed, ask(package="docker", storage_driver="vfs")) if f.code == "REPOSITORY"]
    assert "vault.centos.org" in finding.hint
    (ce,) = [f for f in run_checks(failed, ask(storage_driver="vfs")) if f.code == "REPOSITORY"]
    assert "yum_mirror" in ce.hint


def uml(name: str, **changes) -> facts.Facts:
    """Facts recorded from a lab host under a kernel of its own (device-mapper, disks, cgroups its own)."""
    return replace(facts.parse((FACTS / f"lab-uml-{name}.txt").read_text()), **changes)


DM = {"storage_driver": "devicemapper"}


@pytest.mark.parametrize(
    ("host", "options", "said"),
    [
        ("el7-lvm-fresh", ("dm.directlvm_device=/dev/ubdb",), None),  # a blank disk
        ("el7-lvm-provisioned", ("dm.directlvm_device=/dev/ubdb",), None),  # a re-run: the pool Docker made there
        ("el7-lvm-provisioned", ("dm.thinpooldev=/dev/mapper/docker-thinpool",), None),
        ("el7-lvm-fresh", ("dm.directlvm_device=/dev/ubdc",), "carries a filesystem or LVM signature (ext4)"),
        ("el7-lvm-fresh", ("dm.directlvm_device=/dev/sdz",), "is not a block device on this host"),
        ("el6-loop-fresh", ("dm.directlvm_device=/dev/ubdb",), "is mounted on /var/lib/docker"),
        ("el7-lvm-provisioned", ("dm.thinpooldev=/dev/mapper/nope-thinpool",), "is not a device-mapper device here"),
        ("el7-lvm-provisioned", ("dm.thinpooldev=/dev/mapper/docker-thinpool_tdata",), "is a linear device"),
        ("el7-lvm-fresh", ("dm.thinpooldev=/dev/mapper/docker-thinpool",), "is not a device-mapper device here"),
    ],
)
def test_the_thin_pool_or_disk_asked_is_proved_before_provision_uses_it(host: str, options: tuple, said: str) -> None:
    found = [f for f in run_checks(uml(host), ask(**DM, storage_options=options))
             if f.code in ("THIN_POOL", "DIRECT_LVM_DEVICE")]  # fmt: skip
    if said is None:
        assert found == []
    else:
        (finding,) = found
        assert finding.level == ERROR and said in finding.message, finding


def test_cgroup_controllers_the_kernel_lacks_are_refused_before_cgconfig_tries() -> None:
    (finding,) = [f for f in run_checks(uml("el6-loop-fresh"), ask(**DM)) if f.code == "CGROUPS"]
    assert finding.level == ERROR and "offers no cpuset, memory cgroup controllers" in finding.message


def test_disk_space_under_a_thin_pool_is_not_the_images_space() -> None:
    loop = uml("el6-loop-fresh")  # 7.8 GiB free under /var/lib/docker
    assert "DISK_SPACE" in codes(run_checks(loop, ask(**DM)), WARNING)
    pooled = ask(**DM, storage_options=("dm.thinpooldev=/dev/mapper/docker-thinpool",))
    assert "DISK_SPACE" not in codes(run_checks(loop, pooled))


def test_bundles_given_must_cover_the_hosts_platform() -> None:
    el7_only = ask(storage_driver="vfs", bundles={"el7": object()})
    (finding,) = [f for f in run_checks(lab("el6"), el7_only) if f.code == "BUNDLE_PLATFORM"]
    assert finding.level == ERROR and "for el7; this el6 host would install from its network" in finding.message
    assert "BUNDLE_PLATFORM" not in codes(run_checks(lab("el6"), ask(storage_driver="vfs")))


def test_disk_space_elsewhere_than_var_lib_docker_is_said_unmeasured() -> None:
    low = replace(lab("el7"), docker_fs={**lab("el7").docker_fs, "avail_kb": 1 << 20})  # 1 GiB free
    assert "DISK_SPACE" in codes(run_checks(low, VFS), ERROR)
    moved = run_checks(low, ask(storage_driver="vfs", daemon_options={"data-root": "/srv/docker"}))
    (finding,) = [f for f in moved if f.code == "DISK_SPACE"]
    assert finding.level == INFO and "data-root /srv/docker was not measured" in finding.message


def test_podman_is_not_removed_while_it_has_containers() -> None:
    """EL8's container tools conflict with Docker's packages; podman's containers (root's and rootless, from
    the host's stores) refuse its removal, each named with its owner. Recorded on the lab's el8-podman host."""
    host = lab("el8-podman-containers")
    s = subject(host, asked.parse("h1", {"docker_storage_driver": "vfs"}))
    assert s.platform is not None and s.platform.id == "el8"
    found = {f.code: f for f in check_conflicts(s)}
    assert found["PODMAN_CONTAINERS"].level == ERROR
    assert found["PODMAN_CONTAINERS"].message == (
        "podman has 3 container(s), which removing it would strand: alice: alice-db, cache; root: web"
    )
    assert found["CONFLICTING_PACKAGES"].level == WARNING
    assert found["CONFLICTING_PACKAGES"].message == (
        "installed packages conflict with docker-ce: podman-4:4.9.4-12.el8.x86_64, buildah-2:1.33.8-4.el8.x86_64, "
        "runc-1:1.1.12-4.el8.x86_64, podman-docker-4:4.9.4-12.el8.x86_64"
    )
    # An unreadable store counts as a container: never taken for an empty one.
    unread = replace(host, podman_containers={"alice": ["(unreadable /home/alice/x.json)"]})
    assert "alice: (unreadable /home/alice/x.json)" in {f.code: f for f in check_conflicts(subject(
        unread, asked.parse("h1", {"docker_storage_driver": "vfs"})))}["PODMAN_CONTAINERS"].message  # fmt: skip
    empty = subject(lab("el8-podman"), asked.parse("h1", {"docker_storage_driver": "vfs"}))
    assert [f.code for f in check_conflicts(empty)] == ["CONFLICTING_PACKAGES"]


def test_the_firewall_docker_meets_is_reported() -> None:
    fw = facts.parse_firewall((FACTS / "firewall/el8-firewalld-nftables.txt").read_text())
    s = Subject(replace(lab("el7"), firewall=fw), asked.parse("h1", {}), None, None, None)
    (found,) = check_firewall(s)
    assert (found.code, found.level) == ("FIREWALL", INFO)
    assert found.message == "firewalld running (nftables backend); iptables 1.8.4 (nf_tables)"
    assert "restart docker after firewall-cmd --reload" in found.hint
    assert check_firewall(Subject(replace(lab("el7"), firewall={}), asked.parse("h1", {}), None, None, None)) == []
