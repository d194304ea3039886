"""Fact parsers on recorded outputs (golden files): tests/facts/<section>/<case>.txt -> <case>.json.

Set PYINSTALL_UPDATE_GOLDEN=1 to (re)write the .json files, then review the diff before committing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from installer import facts, migration

HERE = Path(__file__).parent / "facts"
PARSERS = {
    "uname": facts.parse_uname,
    "release": facts.parse_release,
    "packages": facts.parse_packages,
    "cgroups": facts.parse_cgroups,
    "cgroup2": facts.parse_cgroup2,  # unified-el9-shape: written after the kernel's format (no EL9 host here)
    "kernel_config": facts.parse_kernel_config,
    "device_mapper": facts.parse_device_mapper,
    "loop": facts.parse_loop,
    "cgroup_subsystems": facts.parse_cgroup_subsystems,
    "block_devices": facts.parse_block_devices,
    "docker_fs": facts.parse_docker_fs,
    "yum_lock": facts.parse_yum_lock,
    "yum_config": facts.parse_yum_config,
    "firewall": facts.parse_firewall,  # written after iptables -V and firewalld.conf (no EL8 host here)
    "podman": facts.parse_podman,  # written after containers/storage's containers.json (no podman host here)
    "user": facts.parse_user,
    "selinux": facts.parse_selinux,
    "docker_config": facts.parse_docker_config,
    # el7-provisioned from a lab host; users-proxy-registry written after the script's format (secrets: checksums only)
    "day_two": lambda text: dict(zip(("files", "users", "docker_group", "sysctls"), facts.parse_day_two(text))),
    "service_manager": facts.parse_service_manager,
    "services": facts.parse_services,
    # lab-el6-provisioned from a lab host; planted written by hand: entries of two words only, the rest dropped
    "ledger": lambda text: dict(zip(("entries", "state_dirs"), facts.parse_ledger(text))),
    "jobs": facts.parse_jobs,
    "migration": lambda text: migration.parse(text).to_dict(),  # its own script (--migrate-storage)
    "migration_report": migration.parse_report,  # what a finished migration kept
}
CASES = sorted(HERE.glob("*/*.txt"))


def _golden(path: Path, value: object) -> object:
    expected = path.with_suffix(".json")
    rendered = json.loads(json.dumps(value))
    if os.environ.get("PYINSTALL_UPDATE_GOLDEN"):
        expected.write_text(json.dumps(rendered, indent=2, sort_keys=True) + "\n")
    return json.loads(expected.read_text()), rendered


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_section_parser(case: Path) -> None:
    expected, got = _golden(case, PARSERS[case.parent.name](case.read_text()))
    assert got == expected


@pytest.mark.parametrize("case", sorted(HERE.glob("*.txt")), ids=lambda p: p.stem)
def test_whole_script_output(case: Path) -> None:
    """A real answer of FACTS_SCRIPT (from the lab's hosts), parsed whole."""
    parsed = facts.parse(case.read_text())
    expected, got = _golden(case, parsed.to_dict())
    assert got == expected
    assert got["missing_sections"] == []
    assert len(parsed.yum_config) == 64 and "yum_config" not in got, "the yum digest stays on the controller"


def test_every_section_has_a_parser_and_a_case() -> None:
    script_sections = [line.split()[1] for line in facts.script().splitlines() if line.startswith("section ")]
    for name in script_sections:
        if name in ("end", "filesystems", "clock"):
            continue  # one-liners, covered by the whole-output cases
        assert name in PARSERS, name
        assert list((HERE / name).glob("*.txt")), f"no recorded case for section {name}"


@pytest.mark.parametrize("with_dd", [True, False], ids=["dd", "cat when dd is missing"])
def test_buffered_script_prints_all_it_would_have_printed(tmp_path: Path, with_dd: bool) -> None:
    """Run by this machine's sh: the same bytes, in order (a NUL byte and a missing last newline
    included), the script's own variables set, exit status 0; without dd on the PATH, cat passes the
    output on."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("cat", "printf", *(("dd",) if with_dd else ())):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
    script = "x=1; printf 'a %s\\n' \"$x\"; printf 'b\\0c\\n'; printf 'no newline at the end'"
    expected = subprocess.run(["/bin/sh", "-c", script], capture_output=True, env={"PATH": str(bin_dir)}).stdout
    said = subprocess.run(["/bin/sh", "-c", facts.buffered(script)], capture_output=True, env={"PATH": str(bin_dir)})
    assert expected == b"a 1\nb\0c\nno newline at the end"
    assert said.stdout == expected
    assert said.returncode == 0


def test_split_sections_ignores_a_banner_and_crlf() -> None:
    text = f"Welcome to db01\r\n{facts.MARKER}uname\r\nh\r\n2.6.32-431.el6.x86_64\r\n{facts.MARKER}end\r\n"
    assert facts.split_sections(text) == {"uname": "h\n2.6.32-431.el6.x86_64", "end": ""}


def test_truncated_output_reports_missing_sections() -> None:
    text = (HERE / "lab-el6-full.txt").read_text()
    cut = text[: text.index(f"{facts.MARKER}yum_lock")]
    assert facts.parse(cut).missing_sections == [
        "yum_lock", "yum_config", "user", "selinux", "clock", "firewall", "podman", "docker_config", "day_two",
        "ledger", "service_manager",
        "end",
    ]  # fmt: skip


def test_bundle_sums_record() -> None:
    text = (HERE / "lab-el6-provisioned.txt").read_text()
    record = (
        "== /var/cache/pyinstall/bundle/el6/.pyinstall-sums\n"
        "abc123  packages/docker-io.rpm\ndef456  repodata/repomd.xml\n"
    )
    marker = f"{facts.MARKER}bundle\n"
    patched = text.replace(marker, marker + record)
    assert facts.parse(patched).bundle_sums == {
        "el6": {"packages/docker-io.rpm": "abc123", "repodata/repomd.xml": "def456"}
    }


def test_available_versions_from_yum_list() -> None:
    """`yum list --showduplicates` as EL7's yum prints it (a long name wraps its line), then the frame."""
    text = (
        "Available Packages\n"
        "docker-ce.x86_64                 3:20.10.24-3.el7                 docker-ce-stable\n"
        "docker-ce.x86_64\n"
        "                                 3:28.5.2-3.el7                   docker-ce-stable\n"
        "docker-ce-cli.x86_64             1:20.10.24-3.el7                 docker-ce-stable\n"
        f"\n{facts.AVAILABLE_RC}0\n"
    )
    assert facts.parse_available(text, "docker-ce") == (["3:20.10.24-3.el7", "3:28.5.2-3.el7"], "")
    nothing = f"Error: No matching Packages to list\n\n{facts.AVAILABLE_RC}1\n"
    assert facts.parse_available(nothing, "docker-ce") == ([], "")
    failed = (
        f"Cannot retrieve repository metadata (repomd.xml) for repository: docker-ce-stable\n\n{facts.AVAILABLE_RC}1\n"
    )
    versions, why = facts.parse_available(failed, "docker-ce")
    assert versions is None and "repomd.xml" in why


def test_available_versions_keep_only_what_an_rpm_version_may_be() -> None:
    """A host's answer may be used for its like (preflight.Answers): what is not [EPOCH:]VERSION-RELEASE
    in RPM's alphabet is no version, whatever the host printed."""
    text = (
        "docker-ce.x86_64   3:20.10.24-3.el7   docker-ce-stable\n"
        "docker-ce.x86_64   $(reboot)-1   evil\n"
        "docker-ce.x86_64   9:99.0;id-1\x07   evil\n"
        "docker-ce.x86_64   99.0   evil\n"
        f"\n{facts.AVAILABLE_RC}0\n"
    )
    assert facts.parse_available(text, "docker-ce") == (["3:20.10.24-3.el7"], "")
