"""The runtime on this host, as pyinstall provisions it. Every test compares the host, read through
testinfra's ``host``, with what provision would make of it (``desired``: the same model), and the last
one runs a container from the image pyinstall carries (runtime/probe: nothing is pulled)."""

from __future__ import annotations

import hashlib

import pytest

from installer import docker_info, probe
from installer.drift import differences
from installer.outcome import Level
from installer.validate import expected, validate
from installer.versions import satisfies


def test_the_runtime_packages_are_installed_at_the_pinned_version(host, desired) -> None:
    channel = desired.channel
    for name in (channel.package, *channel.extra_packages):
        package = host.package(name)
        assert package.is_installed, f"{name} is not installed"
        if (pin := desired.pin_of(name)) is not None:
            installed = f"{package.version}-{package.release}"
            assert satisfies(installed, pin), f"{name} {installed} is installed, {pin} pinned"


def test_no_conflicting_package_is_installed(host, desired) -> None:
    present = [name for name in desired.remove if host.package(name).is_installed]
    assert not present, f"installed, and in conflict with {desired.package}: {', '.join(present)}"


def test_the_repository_files_are_as_provision_writes_them(host, desired) -> None:
    for f in desired.files:
        if f.tag != "repo":
            continue
        found = host.file(f.path)
        assert found.exists, f"{f.path} is missing"
        assert (found.user, found.group, found.mode) == (f.owner, f.group, f.mode), (
            f"{f.path} is {found.user}:{found.group} {found.mode:o}, provision writes {f.owner}:{f.group} {f.mode:o}"
        )
        # Compared by digest: a repository file may hold a password, which no failure message may show.
        digest = hashlib.sha256(found.content_string.encode()).hexdigest()
        assert digest == hashlib.sha256(f.content.encode()).hexdigest(), f"{f.path} differs from what provision writes"


def test_the_daemon_configuration_is_as_provision_writes_it(host, desired, facts, asked) -> None:
    config = desired.config_file
    found = host.file(config.path)
    assert found.exists, f"{config.path} is missing"
    assert (found.user, found.group, found.mode) == (config.owner, config.group, config.mode), (
        f"{config.path} is {found.user}:{found.group} {found.mode:o}, "
        f"provision writes {config.owner}:{config.group} {config.mode:o}"
    )
    drift = [d for d in differences(facts, asked) if d.where == config.path]
    assert not drift, "; ".join(str(d) for d in drift)


def test_the_service_is_enabled_and_running(host, desired, facts) -> None:
    service = desired.platform.service
    assert facts.services.get("docker", {}).get("enabled"), "docker is not enabled at boot"
    running = host.run(service.running)
    assert running.rc == 0, f"the docker daemon is not running ({service.running})"


def test_the_cgroup_hierarchies_are_mounted(host, desired, facts) -> None:
    if not desired.platform.cgconfig:
        pytest.skip(f"{desired.platform.id}: its init system mounts the cgroup hierarchies")
    assert facts.services.get("cgconfig", {}).get("enabled"), "cgconfig is not enabled at boot"
    mounted = set()
    for line in host.file("/proc/mounts").content_string.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[2] == "cgroup":
            mounted.update(fields[3].split(","))
    missing = [c for c in desired.platform.cgroups.v1 if c not in mounted]
    lines = host.file("/proc/cgroups").content_string.splitlines()
    offered = {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}
    absent = [c for c in missing if c not in offered]
    assert not missing, f"cgroup hierarchies not mounted: {', '.join(missing)}" + (
        f" (the kernel offers no {', '.join(absent)} controller)" if absent else ""
    )


def test_docker_info_reports_what_was_asked(host, subject) -> None:
    """The storage driver asked (or defaulted), the pinned version, the cgroup driver and data root asked."""
    answer = host.run("docker info 2>&1")
    info = docker_info.parse(answer.stdout)
    errors = [f for f in validate(info, expected(subject)) if f.level == Level.ERROR]
    assert not errors, "; ".join(map(str, errors))


def test_a_container_runs(host) -> None:
    """The probe image imported, `echo` run in it, the image removed: air-gapped proof (installer/probe.py)."""
    command, token = probe.command()
    ran = host.run(command)
    assert ran.rc == 0, f"the container did not run: {(ran.stderr or ran.stdout).strip()}"
    assert ran.stdout.strip() == token, f"the container said {ran.stdout.strip()!r}, not {token!r}"
