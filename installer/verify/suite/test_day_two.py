"""Day two on this host, as pyinstall provisions it (installer/daytwo.py): the daemon's proxy, the registries'
certificates, the docker group's members, the kernel settings, and an offline bundle's images. Each test skips
where nothing of its kind is asked. No failure message quotes a secret: files are compared by digest, the proxy by
variable name."""

from __future__ import annotations

import hashlib
import shlex

import pytest

from installer import daytwo


def _files(desired, tag: str) -> list:
    return [f for f in desired.files if f.tag == tag]


def _as_written(host, f) -> None:
    found = host.file(f.path)
    assert found.exists, f"{f.path} is missing"
    assert (found.user, found.group, found.mode) == (f.owner, f.group, f.mode), (
        f"{f.path} is {found.user}:{found.group} {found.mode:o}, provision writes {f.owner}:{f.group} {f.mode:o}"
    )
    digest = host.run(f"sha256sum < {shlex.quote(f.path)}").stdout.split()[0]
    assert digest == hashlib.sha256(f.content.encode()).hexdigest(), f"{f.path} differs from what provision writes"


def test_the_daemon_runs_with_the_proxy_asked(host, desired) -> None:
    proxy = desired.day_two.proxy
    if proxy is None:
        pytest.skip("no docker_proxy asked")
    for f in _files(desired, "proxy"):
        _as_written(host, f)
    pid = host.run("cat /var/run/docker.pid").stdout.strip()
    assert pid.isdigit(), "the daemon's pid file names no process"
    environ = host.run(f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout.splitlines()
    running = dict(line.split("=", 1) for line in environ if "=" in line)
    wrong = [name for name, value in proxy.environment().items() if running.get(name) != value]
    assert not wrong, f"the running daemon's {', '.join(wrong)} is not what docker_proxy asks (restart it?)"


def test_the_registry_certificates_are_as_provision_writes_them(host, desired) -> None:
    written = _files(desired, "registries")
    if not written:
        pytest.skip("no docker_registries asked")
    for f in written:
        _as_written(host, f)


def test_the_docker_users_are_members_of_the_docker_group(host, desired) -> None:
    users = desired.day_two.users
    if not users:
        pytest.skip("no docker_users asked")
    outside = [u for u in users if daytwo.GROUP not in host.run(f"id -nG {shlex.quote(u)}").stdout.split()]
    assert not outside, f"not in the {daytwo.GROUP} group: {', '.join(outside)}"


def test_the_kernel_settings_are_set_now_and_at_boot(host, desired) -> None:
    settings = desired.day_two.sysctls
    if not settings:
        pytest.skip("every docker_sysctls setting is dropped")
    for f in _files(desired, "sysctl"):
        _as_written(host, f)
    wrong = {}
    for key, value in settings.items():
        now = host.run(f"cat /proc/sys/{key.replace('.', '/')}")
        if " ".join(now.stdout.split()) != " ".join(value.split()):
            wrong[key] = now.stdout.strip() or "missing"
    assert not wrong, "; ".join(f"{k} is {v}, asked {settings[k]}" for k, v in wrong.items())


def test_the_bundles_images_are_loaded(host, desired) -> None:
    bundle = desired.bundle
    if bundle is None or not bundle.images:
        pytest.skip("no offline bundle with images given (--bundle)")
    missing = [
        i.name
        for i in bundle.images
        if all(host.run(f"docker inspect {shlex.quote(name)}").rc != 0 for name in (i.id, i.legacy_id) if name)
    ]
    assert not missing, f"not loaded: {', '.join(missing)}"
