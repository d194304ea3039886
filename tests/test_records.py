"""Run records: every check, provision and info kept (SQLite by default), listed and shown again as
printed; a database that cannot be written is a warning, never a failed run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from installer import records
from installer.cli import ExitStatus, main


@pytest.fixture
def unreachable(unreachable: Path) -> Path:
    """The unreachable host with a become password: a canary the records must not keep."""
    unreachable.write_text(unreachable.read_text().replace("\n", " ansible_become_password=canary-3f9d1c\n"))
    return unreachable


def test_runs_are_kept_listed_and_shown_as_printed(unreachable: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "provision", "info"):
        assert main([command, str(unreachable), "--retry-file", ""] if command == "provision"
                    else [command, str(unreachable)]) == ExitStatus.UNREACHABLE  # fmt: skip
    printed = capsys.readouterr().out
    assert main(["runs", "--json"]) == ExitStatus.OK
    kept = json.loads(capsys.readouterr().out)
    assert [r["command"] for r in kept] == ["info", "provision", "check"], "newest first"
    assert all(r["hosts"] == {"unreachable": 1} and r["exit_status"] == 4 for r in kept)
    check_id = kept[-1]["id"]
    assert main(["runs", "show", str(check_id)]) == ExitStatus.OK
    shown = capsys.readouterr().out
    assert "1 host(s): 0 passed, 0 failed, 1 unreachable" in shown and shown.strip() in printed
    assert main(["runs", "show", str(check_id), "--json"]) == ExitStatus.OK
    assert json.loads(capsys.readouterr().out)["hosts"]["web1"]["status"] == "unreachable"
    assert main(["runs", "host", "web1", "--json"]) == ExitStatus.OK
    history = json.loads(capsys.readouterr().out)
    assert [(h["command"], h["status"], h["changed"]) for h in history] == [
        ("info", "unreachable", []), ("provision", "unreachable", []), ("check", "unreachable", [])
    ]  # fmt: skip
    database = Path(kept[0]["inventory"]).parent / "state" / "pyinstall" / "runs.sqlite"
    assert oct(database.stat().st_mode & 0o777) == "0o600"
    assert b"canary-3f9d1c" not in database.read_bytes()


def test_a_database_that_cannot_be_written_is_a_warning(
    unreachable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'runs.sqlite'}"
    assert main(["check", str(unreachable), "--database", url]) == ExitStatus.UNREACHABLE
    captured = capsys.readouterr()
    assert "the run was not kept" in captured.err and "1 unreachable" in captured.out


def test_an_unknown_run_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "show", "99"]) == ExitStatus.USAGE
    assert "no run 99" in capsys.readouterr().err


def test_a_hosts_history_says_what_changed_and_what_it_ran(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    record = {"status": "changed", "tasks": [{"name": "install docker-ce 20.10.24", "status": "changed"},
                                             {"name": "start docker", "status": "ok"}],
              "docker_info": {"server_version": "20.10.24", "storage_driver": "overlay2"}}  # fmt: skip
    for when, status, rec in ((1.0, "changed", record), (2.0, "ok", {**record, "tasks": []})):
        run = records.Run(when, when + 1, "provision", "provision hosts.ini", "0.1.0", "hosts.ini", "", 0, "", "{}",
                          [("web1", status, json.dumps(rec)), ("web2", "ok", "{}")])  # fmt: skip
        records.record(url, run)
    history = records.host_history(url, "web1")
    assert [(h["status"], h["changed"], h["version"], h["storage_driver"]) for h in history] == [
        ("ok", [], "20.10.24", "overlay2"),
        ("changed", ["install docker-ce 20.10.24"], "20.10.24", "overlay2"),
    ]
