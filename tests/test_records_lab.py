"""Run records of real runs: check, provision and info on lab hosts, kept in SQLite and in PostgreSQL,
each shown again as it was printed, with no secret in either database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import postgres
from tests.lab.testing import Fleet, pyinstall

pytestmark = pytest.mark.lab

CANARY = "canary-kept-2b7e90"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_check_provision_and_info_are_kept_and_shown_as_printed(
    backend: str, make_fleet, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet: Fleet = make_fleet("kept", "el7+tmpfs:1")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(fleet.inventory.read_text() + f"ansible_become_password={CANARY}\n")
    sqlite = tmp_path / "state" / "pyinstall" / "runs.sqlite"  # the default: XDG_STATE_HOME is the test's
    if backend == "postgresql":
        database = postgres.database(request.getfixturevalue("postgresql"), "lab")
        monkeypatch.setenv("PYINSTALL_DATABASE", database)
    printed = {}
    for command in ("check", "provision", "info"):
        proc = pyinstall(command, "-i", str(inventory), home=tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "warning" not in proc.stderr, proc.stderr
        printed[command] = proc.stdout
    kept = json.loads(pyinstall("runs", "--json", home=tmp_path).stdout)
    assert [(r["command"], r["exit_status"]) for r in kept] == [("info", 0), ("provision", 0), ("check", 0)]
    for r in kept:
        shown = pyinstall("runs", "show", str(r["id"]), home=tmp_path).stdout.strip()
        assert shown and shown in printed[r["command"]], r["command"]
    host = fleet.hosts[0].name
    history = json.loads(pyinstall("runs", "host", host, "--json", home=tmp_path).stdout)
    assert [h["command"] for h in history] == ["info", "provision", "check"]
    assert history[0]["storage_driver"] == "overlay2" and history[0]["version"]
    stored = postgres.dump(database) if backend == "postgresql" else sqlite.read_text(errors="replace")
    assert host in stored and "overlay2" in stored
    assert CANARY not in stored
