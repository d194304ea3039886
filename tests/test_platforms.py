"""The platform definitions are data: every key honoured or refused when loaded, and what the facts script
looks at comes from them."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from installer import checks, facts, platforms
from installer.asked import Asked
from installer.outcome import PREFLIGHT_CODES, Level

FACTS = Path(__file__).parent / "facts"


def edited(directory: Path, platform_id: str, edit, name: str = "") -> Path:
    """A copy of runtime/<platform_id>.yml with ``edit`` applied to its data, as DIRECTORY/<name>.yml."""
    data = yaml.safe_load((platforms.RUNTIME_DIR / f"{platform_id}.yml").read_text())
    edit(data)
    path = directory / f"{name or platform_id}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_shipped_definitions_load() -> None:
    assert {p.id for p in platforms.all_platforms()} >= {"el6", "el7"}
    assert set(platforms.storage().drivers) == {"devicemapper", "overlay2", "overlay", "vfs"}


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda d: d["storage_drivers"]["overlay"]["refused"].update(code="NO_SUCH_CODE"),
         r"storage_drivers\.overlay\.refused\.code: 'NO_SUCH_CODE' is not a finding code"),
        (lambda d: d.update(cgconfig=True), r"the file: unknown key 'cgconfig'"),
        (lambda d: d["channels"]["epel"].update(gpgcheck=False), r"channels\.epel: unknown key 'gpgcheck'"),
        (lambda d: d["storage_drivers"].update(zfs={}), r"storage_drivers\.zfs: not a driver of runtime/storage\.yml"),
        (lambda d: d["storage_drivers"]["overlay"]["refused"].update(message="{drvier} is refused"),
         r"only \{driver\} and \{platform\} are filled in"),
        (lambda d: d["channels"]["epel"].update(conflicts=["docker; rm -rf /"]), r"channels\.epel\.conflicts\[0\]"),
        (lambda d: d["package_manager"].update(locks=["/var/run/$(reboot).pid"]), r"package_manager\.locks\[0\]"),
        (lambda d: d["config"].update(units=["/etc/systemd/system/docker.service d"]), r"config\.units\[0\]"),
        (lambda d: d.update(kernel_options=["OVERLAY_FS|.*"]), r"kernel_options\[0\]"),
        (lambda d: d["cgroups"].update(mounted_by="openrc"), r"cgroups\.mounted_by: 'openrc' is not systemd"),
        (lambda d: d.pop("min_kernel"), r"the file: 'min_kernel' is missing"),
        (lambda d: d["channels"]["epel"].update(unit_options=["exec-opt"]),
         r"channels\.epel\.unit_options\[0\]: 'exec-opt' is not a daemon option"),
        (lambda d: d["channels"]["epel"].update(environment={"/etc/sysconfig/docker": {"options": ""}}),
         r"channels\.epel\.environment\./etc/sysconfig/docker: 'options' is not allowed"),
        (lambda d: d["channels"]["epel"].update(environment={"/etc/sysconfig/docker": {"OPTIONS": "a\nb"}}),
         r"environment\./etc/sysconfig/docker\.OPTIONS: must be one line"),
        (lambda d: d["package_manager"].update(install_options=["--allowerasing; reboot"]),
         r"package_manager\.install_options\[0\]"),
        (lambda d: d["channels"]["epel"].update(versions={"docker-io-plugin": "1.0"}),
         r"channels\.epel\.versions\.docker-io-plugin: only a pinned package of extra_packages"),
        (lambda d: d["channels"]["epel"]["repos"][0].update(distributions=["rocky"]),
         r"channels\.epel\.repos\[0\]\.distributions: 'rocky' is not one of this platform's distributions"),
        (lambda d: d["channels"]["epel"]["repos"][0].update(
            distributions=["centos", "ol", "oracle", "redhat", "rhel", "scientific"]),
         r"channels\.epel\.repos: no repository is for 'sl'"),
    ],
    ids=["refusal-code", "unknown-key", "unknown-channel-key", "unknown-driver", "message-field", "package-name",
         "lock-path", "unit-pattern", "kernel-option", "cgroups-mounter", "missing-key", "unit-option",
         "environment-variable", "environment-value", "install-option", "version-of-no-extra", "repo-distribution",
         "distribution-without-repo"],
)  # fmt: skip
def test_a_definition_pyinstall_would_not_honour_is_refused_when_loaded(tmp_path: Path, edit, said: str) -> None:
    path = edited(tmp_path, "el6", edit)
    with pytest.raises(platforms.DefinitionError, match=said) as raised:
        platforms.load(path)
    assert str(path) in raised.value.message


def test_any_refusal_code_written_in_a_definition_is_the_finding_preflight_gives(tmp_path: Path) -> None:
    """Not only OVERLAY_EL6: the code, message and hint are the definition's."""
    refusal = {"code": "STORAGE_DRIVER", "message": "{driver} is not for {platform} here", "hint": "use overlay2"}
    path = edited(tmp_path, "el7", lambda d: d["storage_drivers"].update(vfs={"refused": refusal}))
    platform = platforms.load(path)
    recorded = facts.parse((FACTS / "lab-el7-full.txt").read_text())
    s = checks.Subject(recorded, Asked("h1", storage_driver="vfs"), platform, platform.channels["docker-ce"], "vfs")
    (finding,) = checks.check_storage_driver(s)
    assert (finding.code, finding.level, finding.message, finding.hint) == (
        "STORAGE_DRIVER", Level.ERROR, f"vfs is not for {platform.id} here", "use overlay2"
    )  # fmt: skip


def test_every_driver_prerequisite_has_its_check() -> None:
    assert set(checks.PREREQUISITES) == set(platforms.PREREQUISITES)
    for driver in platforms.storage().drivers.values():
        assert driver.kernel_code in PREFLIGHT_CODES


def test_the_facts_script_asks_for_what_every_platform_names() -> None:
    """A package a definition names (a conflict, a requirement, an update) is one rpm is asked about, so a
    plan never installs a requirement it cannot see; the same for files, lock files and kernel options."""
    script = facts.script()
    (rpm,) = [line for line in script.splitlines() if line.startswith("rpm -q ")]
    (grep,) = re.findall(r"CONFIG_\(([A-Z0-9_|]+)\)", script)
    for p in platforms.all_platforms():
        assert set(p.packages) <= set(rpm.split()), p.id
        assert {*p.requires, *p.update} <= set(p.packages)
        assert set(p.kernel_options) <= set(grep.split("|"))
        for path in (p.config_file, *p.environment_files, *p.unit_files, *p.lock_files):
            assert f" {path}" in script, path
    for driver in platforms.storage().drivers.values():
        assert set(driver.kernel_options) <= set(grep.split("|"))


def test_cgroup_v2_is_a_fact_and_checked_by_its_own_controllers() -> None:
    el7 = facts.parse((FACTS / "lab-el7-full.txt").read_text())
    assert el7.cgroup_version == 1 and el7.cgroup2_controllers == []
    hybrid = replace(el7, cgroup_mounts={**el7.cgroup_mounts, "cgroup2": "/sys/fs/cgroup/unified"},
                     cgroup2=facts.parse_cgroup2((FACTS / "cgroup2" / "hybrid-debian12.txt").read_text()))  # fmt: skip
    assert hybrid.cgroup_version == 1, "Docker uses v1 on a hybrid host"
    unified = replace(el7, cgroup_mounts={"cgroup2": "/sys/fs/cgroup"},
                      cgroup2={"/sys/fs/cgroup": ["cpuset", "cpu", "io", "memory", "pids"]})  # fmt: skip
    assert unified.cgroup_version == 2
    vfs = Asked("h1", storage_driver="vfs")
    assert "CGROUPS" not in {f.code for f in checks.run_checks(unified, vfs)}
    short = replace(unified, cgroup2={"/sys/fs/cgroup": ["cpu", "io", "pids"]})
    (finding,) = [f for f in checks.run_checks(short, vfs) if f.code == "CGROUPS"]
    assert finding.level == Level.ERROR and "cpuset, memory" in finding.message
    assert "CGROUPS" in {f.code for f in checks.run_checks(replace(el7, cgroup_mounts={}), vfs)}


# Run in a fresh interpreter whose PYINSTALL_HOME holds the runtime directory given: pyinstall as installed
# beside a platform definition it has never seen, with no code changed.
THROWAWAY = r"""
import json, sys
from dataclasses import replace
from installer import asked, checks, facts, platforms, runtime
from installer.plan import plan

recorded = facts.parse(open(sys.argv[1]).read())
model = asked.parse("h1", {"docker_storage_driver": "vfs", "yum_gpgcheck": "false"})
s = checks.subject(replace(recorded, available=["3:20.10.24-3.el7"]), model)
found = checks.run_checks(s.facts, model)
desired = runtime.desired(s)
print(json.dumps({
    "platform": s.platform and s.platform.id,
    "distribution": s.platform and s.platform.distribution(s.facts),
    "errors": [str(f) for f in found if f.level == "error"],
    "installs": list(desired.installs),
    "operations": [op.name for op in plan(s.facts, desired, "x").operations],
    "script_asks_rpm_for_the_new_conflict": "acme-container-tools" in facts.script(),
}))
"""


def test_a_new_platform_is_one_yaml_file(tmp_path: Path) -> None:
    """A copy of el7.yml under another id and distribution, dropped into the runtime directory, is the
    platform of a host whose release files name that distribution: checked, planned and its facts script
    widened (a conflict of its own), with no code changed."""
    import json
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    (home / "runtime").mkdir(parents=True)
    for path in platforms.RUNTIME_DIR.glob("*.yml"):
        (home / "runtime" / path.name).write_text(path.read_text())
    (home / "templates").symlink_to(platforms.TEMPLATES_DIR)

    def acme(data: dict) -> None:
        data["platform"] = "acme7"
        data["distributions"] = {"acme": "Acme Linux"}
        data["channels"]["docker-ce"]["conflicts"].append("acme-container-tools")

    edited(home / "runtime", "el7", acme, name="acme7")
    # A lab EL7 host's recorded answer, its release files those of Acme Linux 7.9.
    text = (FACTS / "lab-el7-full.txt").read_text()
    head, rest = text.split("@@pyinstall-section:release\n", 1)
    _, tail = rest.split("\n@@pyinstall-section:packages", 1)
    release = (
        '==> /etc/os-release <==\nNAME="Acme Linux"\nID="acme"\nID_LIKE="rhel"\nVERSION_ID="7.9"\n'
        'PRETTY_NAME="Acme Linux 7.9"\n\n==> /etc/redhat-release <==\nAcme Linux release 7.9 (Sprocket)\n'
    )
    answer = tmp_path / "acme.txt"
    answer.write_text(f"{head}@@pyinstall-section:release\n{release}\n@@pyinstall-section:packages{tail}")

    env = {**os.environ, "PYINSTALL_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", THROWAWAY, str(answer)], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    assert (got["platform"], got["distribution"]) == ("acme7", "Acme Linux")
    assert got["errors"] == []
    assert got["installs"][0] == "docker-ce-20.10.24"
    assert "install docker-ce 20.10.24" in got["operations"]
    assert got["script_asks_rpm_for_the_new_conflict"]
    # And in this interpreter (the shipped runtime/), such a host runs no platform pyinstall knows.
    recorded = facts.parse(answer.read_text())
    assert platforms.of(recorded) is None
    assert "OS" in {f.code for f in checks.run_checks(recorded, Asked("h1", storage_driver="vfs"))}
