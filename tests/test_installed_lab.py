"""What users install, on lab hosts: the wheel installed into a fresh virtualenv away from the checkout
(tests/conftest.py's ``installed``) checks, provisions, reports on and verifies an EL6 and an EL7 host,
with nothing of the checkout on its path; so does the single-file zipapp (image/zipapp.py), built for
Python 3.9 (EL9's python3) and for the Python running the tests."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from image import zipapp
from tests.lab.testing import Fleet

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("inst", "el6:1,el7:1")


def run(command: Path | list[str], home: Path, *argv: str) -> subprocess.CompletedProcess:
    """The installed command as a user runs it: its own HOME and working directory, and no variable that
    could lead it back to the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYINSTALL_HOME", "VIRTUAL_ENV")}
    argv0 = [str(c) for c in command] if isinstance(command, list) else [str(command)]
    env.update(HOME=str(home), COLUMNS="200", PATH=f"{Path(argv0[0]).parent}:/usr/sbin:/usr/bin:/sbin:/bin")
    return subprocess.run([*argv0, *argv], capture_output=True, text=True, env=env, cwd=home, timeout=600)


def test_the_installed_command_runs_its_own_copy(installed: Path, tmp_path: Path) -> None:
    proc = run(installed, tmp_path, "--version")
    assert proc.returncode == 0, proc.stderr
    where = proc.stdout.splitlines()[-1].removeprefix("  installed in ")
    assert Path(where).is_relative_to(installed.parent.parent) and not Path(where).is_relative_to(ROOT), where


def test_check_provision_info_and_verify_with_what_users_install(installed: Path, fleet: Fleet, tmp_path) -> None:
    names = [h.name for h in fleet.hosts]
    for command, verdict in (("check", "ok"), ("provision", "changed"), ("info", "ok"), ("verify", "ok")):
        proc = run(installed, tmp_path, command, "--json", "-i", str(fleet.inventory))
        assert proc.returncode == 0, (command, proc.stdout[-3000:], proc.stderr[-3000:])
        hosts = json.loads(proc.stdout)["hosts"]
        assert sorted(hosts) == sorted(names), command
        for name in names:
            assert hosts[name]["status"] == verdict, (command, name, hosts[name])
    ran = {t["name"].split("::")[1]: t["outcome"] for t in hosts[names[0]]["tests"]}
    assert ran["test_a_container_runs"] == "passed", ran


def _python(minor: int) -> str | None:
    """A Python 3.MINOR on this machine: on PATH, or one of pyenv's versions (its shim answers only for the
    version selected)."""
    name = f"python3.{minor}"
    candidates = [shutil.which(name)]
    if shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        candidates += sorted(glob.glob(f"{root}/versions/3.{minor}.*/bin/{name}"))
    for python in filter(None, candidates):
        if subprocess.run([python, "-c", "pass"], capture_output=True).returncode == 0:
            return python
    return None


@pytest.mark.parametrize("minor", [9, sys.version_info.minor])
def test_the_zipapp_checks_provisions_and_verifies(minor: int, dist: Path, fleet: Fleet, tmp_path: Path) -> None:
    python = sys.executable if minor == sys.version_info.minor else _python(minor)
    if python is None:
        pytest.skip(f"no Python 3.{minor} on this machine to build and run the zipapp for it")
    (wheel,) = dist.glob("pyinstall-*.whl")
    pyz = zipapp.build(python, wheel, tmp_path / f"pyinstall-py3{minor}.pyz")
    assert pyz.stat().st_size < 40e6, pyz.stat().st_size
    proc = run([python, pyz], tmp_path, "--version")
    assert proc.returncode == 0 and f"python CPython 3.{minor}." in proc.stdout, proc.stdout + proc.stderr
    assert ".shiv" in proc.stdout.splitlines()[-1], "runs from its own unpacked copy"
    for command in ("check", "provision", "verify"):
        proc = run([python, pyz], tmp_path, command, "--json", "-i", str(fleet.inventory))
        assert proc.returncode == 0, (command, proc.stdout[-3000:], proc.stderr[-3000:])
        hosts = json.loads(proc.stdout)["hosts"]
        assert {h["status"] for h in hosts.values()} <= {"ok", "changed", "passed"} and len(hosts) == 2, hosts
