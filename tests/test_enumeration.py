"""check proves what provision and verify need: every code preflight knows is given by a check on some
recorded host (delete a check, and its code no longer appears here), and every verify test of a host
prerequisite, and every refusal of the daemon's own state validate makes, names the preflight code that
refuses the host first."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

from installer import checks, facts, migration
from installer.asked import Asked, Migration
from installer.bundle import Bundle, Image
from installer.connection import OutputTooLarge, Target
from installer.daytwo import DayTwo, Login
from installer.errors import BecomeError, CommandTimeout, HostDiskFull, HostError
from installer.outcome import PREFLIGHT_CODES
from installer.preflight import check_host
from installer.verify import SUITE

FACTS = Path(__file__).parent / "facts"


def recorded(name: str, **changes) -> facts.Facts:
    return replace(facts.parse((FACTS / f"{name}.txt").read_text()), **changes)


def release(name: str) -> dict:
    return facts.parse_release((FACTS / "release" / f"{name}.txt").read_text())


def uname(name: str) -> dict:
    return facts.parse_uname((FACTS / "uname" / f"{name}.txt").read_text())


EL6, EL7 = "lab-el6-full", "lab-el7-full"
VFS = {"storage_driver": "vfs"}
DM = {"storage_driver": "devicemapper"}
OWN_STORE = {"docker_fs": {"path": "/var/lib/docker", "fstype": "ext4", "avail_kb": 99_000_000,
                           "mount": "/var/lib/docker", "xfs_ftype": None}}  # fmt: skip
AVAILABLE = {"available": ["3:20.10.24-3.el7"]}
LVM = "lab-uml-el7-lvm-provisioned"  # docker-ce 20.10.24 on devicemapper, holding images and containers
MOVE = {"storage_driver": "overlay2", "version": "20.10.24", "migration": Migration(migrate=True)}
STOP = {**MOVE, "migration": Migration(migrate=True, stop_containers=True)}


def moving(**changes) -> dict:
    """The migration facts a devicemapper lab host gave (tests/facts/migration), changed."""
    state = migration.parse((FACTS / "migration" / "lab-el7-devicemapper.txt").read_text())
    return {"migration": replace(state, **changes)}


# code -> (recorded host, changes to its facts, what is asked): a host on which a check gives that code.
SCENARIOS: dict[str, tuple[str, dict, dict]] = {
    "FACTS": (EL7, {"missing_sections": ["docker_fs"]}, VFS),
    "ARCH": (EL6, uname("rhel-6.4-i686"), VFS),
    "OS": (EL7, release("ubuntu-22.04"), VFS),
    "KERNEL": (EL6, {"kernel_release": "2.6.32-358.el6.x86_64"}, VFS),
    "KERNEL_CONFIG": (EL7, {"kernel_config": {"NAMESPACES": "y"}}, VFS),
    "KERNEL_CONFIG_NOT_FOUND": (EL7, {"kernel_config_path": None}, VFS),
    "CGROUPS": ("lab-uml-el6-loop-fresh", {}, DM),
    "STORAGE_DRIVER": (EL7, {}, {"storage_driver": "zfs"}),  # a driver no platform runs
    "DEVICE_MAPPER": (EL7, {}, DM),
    "LOOP_DEVICES": (EL7, {"loop": {"devices": 8, "free": None, "control": False}}, DM),
    "DEVICEMAPPER_LOOP": ("lab-uml-el6-loop-fresh", {}, DM),
    "OVERLAY_EL6": (EL6, {}, {"storage_driver": "overlay2"}),
    "OVERLAY2_KERNEL": (EL7, {"kernel_release": "3.10.0-327.el7.x86_64", **OWN_STORE}, {"storage_driver": "overlay2"}),
    "OVERLAY": (EL7, {"filesystems": ["ext4"], "kernel_config": {}, **OWN_STORE}, {"storage_driver": "overlay2"}),
    "OVERLAY_BACKING": (EL7, {}, {"storage_driver": "overlay2"}),
    "XFS_FTYPE": (
        EL7,
        {"docker_fs": {**OWN_STORE["docker_fs"], "fstype": "xfs", "xfs_ftype": 0}},
        {"storage_driver": "overlay2"},
    ),
    "STORE_IN_USE": (EL7, {"docker_store_entries": ["devicemapper"]}, VFS),
    "DISK_SPACE": ("lab-uml-el6-loop-fresh", {}, DM),
    "YUM_LOCK": (
        EL7,
        {"yum_lock": {"pidfile": "/var/run/yum.pid", "pid": 4242, "alive": True, "command": "yum"}},
        VFS,
    ),
    "YUM_LOCK_STALE": (EL7, {"yum_lock": {"pidfile": "/var/run/yum.pid", "pid": 4242, "alive": False}}, VFS),
    "VERSION_UNCHECKED": (EL7, {"yum_lock": {"pidfile": "/var/run/yum.pid", "pid": 1, "alive": True}}, VFS),
    "REQUIRETTY": (EL7, {"user": {"uid": 1000, "login": "deploy", "requiretty": ["Defaults requiretty"]}}, VFS),
    "CONFLICTING_PACKAGES": (EL7, {"packages": {"docker": "2:1.13.1-209.el7.centos.x86_64"}, **AVAILABLE}, VFS),
    "PACKAGE": (EL7, {}, {**VFS, "package": "docker-io"}),
    "VERSION_UNAVAILABLE": (EL7, {"available": ["3:19.03.15-3.el7"]}, VFS),
    "REPOSITORY": (EL7, {"available_error": "Cannot retrieve repository metadata"}, VFS),
    # Rocky 8 with its container tools, podman containers in root's store and in alice's rootless one.
    "PODMAN_CONTAINERS": ("lab-el8-podman-containers-full", {}, VFS),
    "OS_UPGRADE": ("lab-el7-provisioned", {}, {**VFS, "upgrade_to": "el8"}),
    "OS_UPGRADE_BLOCKED": (LVM, {}, {**DM, "upgrade_to": "el8"}),
    "FOREIGN_BUILD": (EL7, {"packages": {"docker-ce": "3:20.10.24-3.el6.x86_64"}, **AVAILABLE}, VFS),
    "FIREWALL": (EL7, {"firewall": {"firewalld": "running", "iptables": "1.4.21"}}, VFS),
    "DOWNGRADE": ("lab-el7-provisioned", {"available": ["3:19.03.15-3.el7"]}, {**VFS, "version": "19.03.15"}),
    "VERSION_CEILING": (EL7, {"available": ["3:28.5.2-1.el7"]}, {**VFS, "version": "28.5.2"}),
    "DRIVER_REMOVED": (EL7, {"available": ["3:28.5.2-1.el7"]}, {**DM, "version": "28.5.2"}),
    "DAEMON_OPTION": (EL6, {}, {**VFS, "daemon_options": {"labels": ["a b"]}}),
    "FOREIGN_CONFIG": (
        EL7,
        {
            "docker_config": {
                "/etc/systemd/system/docker.service.d/x.conf": "ExecStart=/usr/bin/dockerd --log-driver=journald\n"
            }
        },
        VFS,
    ),
    "UNMANAGED_OPTIONS": (
        "lab-el7-provisioned",
        {"docker_config": {"/etc/docker/daemon.json": '{"debug": true}'}},
        VFS,
    ),
    "GPGCHECK_OFF": (EL7, {}, {**VFS, "yum_gpgcheck": False}),
    "BUNDLE_LOGIN": (EL6, {"user": {"uid": 1000, "login": "deploy"}}, {**VFS, "bundles": {"el6": None}}),
    "BUNDLE_PLATFORM": (EL7, {}, {**VFS, "bundles": {"el6": None}}),
    "IMAGE_FORMAT": (EL6, {}, {**VFS, "bundles": {"el6": [Image("images/a.tar", "sha256:1", (), "", "1.10.0")]}}),
    "THIN_POOL": ("lab-uml-el7-lvm-provisioned", {}, {**DM, "storage_options": ("dm.thinpooldev=/dev/mapper/nope",)}),
    "DIRECT_LVM_DEVICE": ("lab-uml-el7-lvm-fresh", {}, {**DM, "storage_options": ("dm.directlvm_device=/dev/ubdc",)}),
    "STORE_DEVICE": (LVM, {}, {"storage_driver": "overlay2", "storage_device": "/dev/ubdb"}),  # an LVM PV
    "MIGRATION": (LVM, moving(), STOP),
    "MIGRATE": (LVM, moving(error="the migration script did not finish"), STOP),
    "MIGRATE_PLATFORM": ("lab-uml-el6-loop-fresh", moving(), {**STOP, "version": None}),
    "MIGRATE_DATA_ROOT": (LVM, moving(), {**STOP, "daemon_options": {"data-root": "/srv/docker"}}),
    "MIGRATE_LEDGER": (LVM, moving(steps=["record"], source="devicemapper", target="vfs"), STOP),
    "MIGRATE_DAEMON": (LVM, moving(driver="", images=[], containers=[]), STOP),
    "MIGRATE_UPGRADE": (LVM, moving(), {**STOP, "version": "24.0.9"}),
    "MIGRATE_TARGET_DATA": (LVM, {**moving(), "docker_store_entries": ["devicemapper", "overlay2"]}, STOP),
    "MIGRATE_RUNNING": (LVM, moving(), MOVE),
    "MIGRATE_SPACE": (LVM, moving(layer_bytes={"devicemapper": 8 * 10**9}), STOP),
    "MIGRATE_PURGE": (
        LVM,
        moving(steps=["record"], source="devicemapper", target="overlay2"),
        {**MOVE, "migration": Migration(purge_old=True)},
    ),
    "DOCKER_USERS": (EL7, {"users": ["bob"]}, {**VFS, "day_two": DayTwo(users=("alice", "bob"))}),
    "REGISTRY_AUTH": (
        EL7,
        {"file_sums": {"/root/.docker/config.json": "0" * 64}},
        {**VFS, "day_two": DayTwo(logins=(Login("r:5000", "u", "pw"),))},
    ),
    "SYSCTL": (
        EL7,
        {"sysctls": {"net.ipv4.ip_forwad": None}},
        {**VFS, "day_two": DayTwo(sysctls={"net.ipv4.ip_forwad": "1"})},
    ),
    "SELINUX": (EL7, {"selinux": "enforcing"}, VFS),
    "CLOCK_SKEW": (EL7, {"clock_skew": 600.0}, VFS),
    "JOB_RUNNING": (EL7, {"jobs": [{"state": "running", "log": "/var/lib/pyinstall/jobs/x.log", "pid": 9}]}, VFS),
    "JOB_LOST": (EL7, {"jobs": [{"state": "lost", "log": "/var/lib/pyinstall/jobs/x.log", "pid": 9}]}, VFS),
    "JOB_FAILED": (EL7, {"jobs": [{"state": "done", "log": "/var/lib/pyinstall/jobs/x.log", "rc": 1}]}, VFS),
}
# Given by the connection, not by a check on the facts: the session's own errors.
FROM_THE_SESSION = {"BECOME": BecomeError, "TIMEOUT": CommandTimeout, "HOST_DISK_FULL": HostDiskFull,
                    "OUTPUT_TOO_LARGE": OutputTooLarge, "HOST_ERROR": HostError}  # fmt: skip


def _codes(code: str) -> set[str]:
    """The codes the checks give on the scenario's host."""
    name, changes, asked = SCENARIOS[code]
    asked = dict(asked)
    bundles = {p: Bundle(p, Path("/nonexistent"), (), (), tuple(images or ()))
               for p, images in asked.pop("bundles", {}).items()}  # fmt: skip
    return {f.code for f in checks.run_checks(recorded(name, **changes), Asked("h1", bundles=bundles, **asked))}


def test_every_code_has_a_scenario() -> None:
    assert set(SCENARIOS) | set(FROM_THE_SESSION) == set(PREFLIGHT_CODES)


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_a_check_gives_each_code_on_a_recorded_host(code: str) -> None:
    assert code in _codes(code), f"no check gives {code} any more"


@pytest.mark.parametrize("code", sorted(FROM_THE_SESSION))
def test_the_sessions_own_refusals_are_findings_too(code: str) -> None:
    error = FROM_THE_SESSION[code]("h1", "said by the host", "hint")

    class Refusing:
        target, commands_run = None, 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def run(self, *args, **kwargs):
            raise error

    report = check_host(Target("h1", "192.0.2.1"), Asked("h1"), connect=lambda target: Refusing())
    assert [f.code for f in report.findings] == [code]


# Each test of the bundled verify suite: the preflight codes that refuse a host before it could fail that
# test for a reason of the host's own, or None where the test proves what provision did (its outcome, not
# a prerequisite of the host).
VERIFY = {
    "test_the_runtime_packages_are_installed_at_the_pinned_version": ("VERSION_UNAVAILABLE", "REPOSITORY"),
    "test_no_conflicting_package_is_installed": None,
    "test_the_repository_files_are_as_provision_writes_them": None,
    "test_the_daemon_configuration_is_as_provision_writes_it": ("FOREIGN_CONFIG",),
    "test_the_service_is_enabled_and_running": None,
    "test_the_cgroup_hierarchies_are_mounted": ("CGROUPS",),
    "test_docker_info_reports_what_was_asked": ("STORAGE_DRIVER", "THIN_POOL", "XFS_FTYPE", "DRIVER_REMOVED"),
    "test_a_container_runs": ("KERNEL_CONFIG", "CGROUPS", "ARCH", "KERNEL"),
    "test_the_daemon_runs_with_the_proxy_asked": None,
    "test_the_registry_certificates_are_as_provision_writes_them": None,
    "test_the_docker_users_are_members_of_the_docker_group": ("DOCKER_USERS",),
    "test_the_kernel_settings_are_set_now_and_at_boot": ("SYSCTL",),
    "test_the_bundles_images_are_loaded": ("IMAGE_FORMAT",),
}
# validate's refusals of a running daemon that a host can cause, and the preflight code that says it first.
VALIDATE = {"STORAGE_DRIVER": "STORAGE_DRIVER", "THIN_POOL": "THIN_POOL", "D_TYPE": "XFS_FTYPE"}


def test_every_verify_test_is_tied_to_the_checks_that_refuse_its_host_first() -> None:
    suite = {
        node.name
        for path in SUITE.glob("test_*.py")
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    assert suite == set(VERIFY), "a verify test is new or gone: say which checks refuse its host first"
    for codes in filter(None, VERIFY.values()):
        for code in codes:
            assert code in _codes(code), code


def test_every_host_refusal_of_validate_has_its_preflight_twin() -> None:
    source = (Path(checks.__file__).parent / "validate.py").read_text()
    for said, twin in VALIDATE.items():
        assert f'"{said}"' in source, said
        assert twin in _codes(twin), twin
