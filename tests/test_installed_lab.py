"""What users install, on lab hosts: the wheel installed into a fresh virtualenv away from the checkout
(tests/conftest.py's ``installed``) checks, provisions, reports on and verifies an EL6 and an EL7 host,
with nothing of the checkout on its path."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.lab.testing import Fleet

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("inst", "el6:1,el7:1")


def run(command: Path, home: Path, *argv: str) -> subprocess.CompletedProcess:
    """The installed command as a user runs it: its own HOME and working directory, and no variable that
    could lead it back to the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYINSTALL_HOME", "VIRTUAL_ENV")}
    env.update(HOME=str(home), COLUMNS="200", PATH=f"{command.parent}:/usr/sbin:/usr/bin:/sbin:/bin")
    return subprocess.run([str(command), *argv], capture_output=True, text=True, env=env, cwd=home, timeout=600)


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
