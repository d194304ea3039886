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


def edited(tmp_path: Path, platform_id: str, edit) -> Path:
    """A copy of runtime/<platform_id>.yml with ``edit`` applied to its data."""
    data = yaml.safe_load((platforms.RUNTIME_DIR / f"{platform_id}.yml").read_text())
    edit(data)
    path = tmp_path / f"{platform_id}.yml"
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
    ],
    ids=["refusal-code", "unknown-key", "unknown-channel-key", "unknown-driver", "message-field", "package-name",
         "lock-path", "unit-pattern", "kernel-option", "cgroups-mounter", "missing-key"],
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
        for path in (p.config_file, *p.foreign_config, *p.unit_files, *p.lock_files):
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
