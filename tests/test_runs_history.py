"""`pyinstall runs` for a team's history: dry runs told apart (and those kept before, migrated), the list
filtered and limited with how many more, old runs pruned (by hand and by keep_runs), a run's metadata in
JSON, unknown ids and hosts refused, and `runs diff` between two runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command as migrations
from alembic.config import Config

from installer import records, rundiff
from installer.cli import ExitStatus, main

DAY = 86400.0


def _record(status: str, tasks: list[tuple[str, str]] = (), **more) -> dict:
    return {"status": status, "tasks": [{"name": n, "status": s} for n, s in tasks], "findings": [], **more}


def _keep(url: str, command: str, hosts: dict[str, dict], exit_status: int = 0, started: float | None = None,
          argv: str = "", check_mode: bool = False) -> int:  # fmt: skip
    started = time.time() if started is None else started
    run_id = records.start(url, records.Start(started, command, argv or f"{command} hosts.ini", "1.0", "hosts.ini",
                                              "", check_mode=check_mode))  # fmt: skip
    records.finish(url, run_id, records.End(
        started + 1, exit_status, f"{command} report\n", json.dumps({"hosts": hosts}),
        [(name, h["status"], json.dumps(h)) for name, h in hosts.items()],
    ))  # fmt: skip
    return run_id


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    database = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    monkeypatch.setenv("PYINSTALL_DATABASE", database)
    return database


def test_check_runs_kept_before_are_migrated_by_their_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    config = Config()
    config.set_main_option("script_location", str(records.MIGRATIONS))
    engine = sa.create_engine(url)
    changed = _record("changed", [("install docker-ce", "changed"), ("enable docker", "ok")], changed=1)
    argvs = ["provision hosts.ini --check", "provision -vC hosts.ini", "provision -lC hosts.ini",
             "remove hosts.ini -C", "provision hosts.ini -- --check"]  # fmt: skip
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        migrations.upgrade(config, "0004")
        for i, argv in enumerate(argvs):
            connection.execute(
                sa.text(
                    "INSERT INTO runs (id, started, ended, command, argv, version, inventory, inventory_sha256, "
                    "exit_status, report, report_json) VALUES (:id, 1, 2, :command, :argv, '0.9', 'hosts.ini', '', 0, "
                    "'changed', :doc)"
                ),
                {
                    "id": i + 1,
                    "command": argv.split()[0],
                    "argv": argv,
                    "doc": json.dumps({"hosts": {"web1": changed}}),
                },
            )
            connection.execute(sa.text("INSERT INTO run_hosts VALUES (:id, 'web1', 'changed', :result)"),
                               {"id": i + 1, "result": json.dumps(changed)})  # fmt: skip
    engine.dispose()
    kept, _ = records.runs(url)  # migrates
    assert [(r["argv"], r["check_mode"], r["hosts"]) for r in reversed(kept)] == [
        (argvs[0], True, {"would change": 1}), (argvs[1], True, {"would change": 1}),
        (argvs[2], False, {"changed": 1}), (argvs[3], True, {"would change": 1}), (argvs[4], False, {"changed": 1}),
    ]  # fmt: skip
    dry = records.run(url, 1)["report_json"]["hosts"]["web1"]
    assert [t["status"] for t in dry["tasks"]] == ["would change", "ok"] and dry["would_change"] == 1
    assert records.host_history(url, "web1")[-1]["would_change"] == ["install docker-ce"]
    with engine.begin() as connection:  # and back: an older pyinstall reads its own words again
        config.attributes["connection"] = connection
        migrations.downgrade(config, "0004")
        statuses = connection.execute(sa.text("SELECT status FROM run_hosts ORDER BY run_id")).scalars().all()
    assert statuses == ["changed"] * 5


def test_a_check_run_printed_before_is_shown_with_a_warning(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _keep(url, "provision", {"web1": _record("would change")}, check_mode=True)
    with records._connected(url, write=True) as connection:  # as kept by an older pyinstall, then migrated
        connection.execute(records.runs_table.update().values(report="web1  changed\nchanged=1\n"))
    assert main(["runs", "show", str(run_id)]) == ExitStatus.OK
    assert capsys.readouterr().out.startswith("--check: nothing was changed; 'changed' below means would change")


def test_the_list_is_filtered_limited_and_says_how_many_more(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    now = time.time()
    _keep(url, "check", {"web1": _record("ok")}, started=now - 9 * DAY)
    _keep(url, "provision", {"web1": _record("failed"), "web2": _record("changed")}, 2, started=now - 2 * DAY)
    _keep(url, "provision", {"web2": _record("would change")}, argv="provision hosts.ini -C", check_mode=True)
    _keep(url, "info", {"web2": _record("unreachable")}, 4)
    unfinished = records.start(url, records.Start(now, "provision", "provision hosts.ini", "1.0", "hosts.ini", ""))

    def listed(*options: str) -> list[int]:
        assert main(["runs", "--json", *options]) == ExitStatus.OK
        return [r["id"] for r in json.loads(capsys.readouterr().out)]

    assert listed() == [5, 4, 3, 2, 1]
    assert listed("--command", "provision") == [5, 3, 2]
    assert listed("--status", "failed") == [2] and listed("--status", "unreachable") == [4]
    assert listed("--status", "unfinished") == [unfinished] and listed("--status", "ok") == [3, 1]
    assert listed("--host", "web1") == [2, 1] and listed("--host", "nosuch") == []
    assert listed("--since", "3d") == [5, 4, 3, 2]
    assert listed("--since", time.strftime("%Y-%m-%dT%H:%M", time.localtime(now - 5 * DAY))) == [5, 4, 3, 2]
    assert main(["runs", "--json", "--command", "provision", "--limit", "1"]) == ExitStatus.OK
    captured = capsys.readouterr()
    assert [r["id"] for r in json.loads(captured.out)] == [5]
    assert "2 more (--limit N to see more)" in captured.err, "said on stderr: stdout stays JSON"
    assert main(["runs", "--limit", "2"]) == ExitStatus.OK
    text = capsys.readouterr().out.splitlines()
    assert len(text) == 3 and text[-1] == "3 more (--limit N to see more)"
    assert main(["runs", "--command", "provision", "--status", "ok"]) == ExitStatus.OK
    (line,) = capsys.readouterr().out.splitlines()
    assert "provision -C" in line and "1 would change" in line
    assert main(["runs", "--since", "yesterday"]) == ExitStatus.USAGE
    assert "--since: 'yesterday' is neither a date" in capsys.readouterr().err
    assert main(["runs", "--host", "web1", "show", "2"]) == ExitStatus.USAGE, "a filter an action would ignore"
    assert "choose the runs listed, not the ones shown" in capsys.readouterr().err


def test_show_json_carries_the_run_and_unknowns_are_usage_errors(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _keep(url, "provision", {"web1": _record("changed")}, argv="provision hosts.ini --limit web1")
    assert main(["runs", "show", str(run_id), "--json"]) == ExitStatus.OK
    shown = json.loads(capsys.readouterr().out)
    assert shown["hosts"]["web1"]["status"] == "changed"
    run = shown["run"]
    assert (run["id"], run["command"], run["argv"], run["exit_status"], run["status"], run["check_mode"]) == (
        run_id, "provision", "provision hosts.ini --limit web1", 0, "ok", False
    )  # fmt: skip
    assert run["ended"] - run["started"] == 1 and run["version"] == "1.0" and "report" not in run
    for argv, said in (
        (["runs", "show", "99"], "no run 99"),
        (["runs", "host", "web9"], "named 'web9'"),
        (["runs", "diff", str(run_id), "7"], "B: no run 7"),
        (["runs", "diff", "x", "1"], "not a run"),
    ):
        assert main(argv) == ExitStatus.USAGE, argv
        assert said in capsys.readouterr().err, argv  # fmt: skip


def test_prune_forgets_old_runs_and_keep_runs_does_it_after_each_run(
    url: str, unreachable: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    for age in (40, 20, 1):
        _keep(url, "check", {"web1": _record("ok")}, started=now - age * DAY)
    assert main(["runs", "prune", "--older-than", "30"]) == ExitStatus.OK
    assert "1 run(s) started more than 30 day(s) ago forgotten" in capsys.readouterr().out
    assert [r["started"] for r in records.runs(url)[0]] == pytest.approx([now - DAY, now - 20 * DAY], abs=5)
    with records._connected(url) as connection:  # the run's hosts went with it
        assert connection.execute(sa.select(sa.func.count()).select_from(records.hosts_table)).scalar() == 2
    monkeypatch.setenv("PYINSTALL_KEEP_RUNS", "7")
    assert main(["check", str(unreachable)]) == ExitStatus.UNREACHABLE
    assert [r["command"] for r in records.runs(url)[0]] == ["check", "check"], "the 20-day-old run forgotten"
    monkeypatch.setenv("PYINSTALL_KEEP_RUNS", "0")
    assert main(["runs"]) == ExitStatus.USAGE
    assert "PYINSTALL_KEEP_RUNS" in capsys.readouterr().err


def _info(status: str, version: str, drift: list[dict], findings: list[dict] = ()) -> dict:
    return {"status": status, "docker_info": {"server_version": version, "storage_driver": "overlay2"},
            "findings": list(findings), "drift": drift}  # fmt: skip


DEBUG = {"where": "/etc/docker/daemon.json", "key": "debug", "asked": None, "found": "true"}
GPG = {"code": "GPGCHECK_OFF", "level": "warning", "message": "gpgcheck=0 in docker.repo"}


def test_diff_names_what_changed_between_two_runs(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    provisioned = {name: {**_record("changed"), "docker_info": {"server_version": "20.10.24",
                                                                "storage_driver": "overlay2"}}
                   for name in ("web1", "web2", "old1")}  # fmt: skip
    a = _keep(url, "provision", provisioned)
    b = _keep(url, "info", {"web1": _info("failed", "20.10.24", [DEBUG]), "web2": _info("ok", "20.10.24", []),
                            "new1": _info("ok", "24.0.9", [])}, exit_status=2)  # fmt: skip
    assert main(["runs", "diff", str(a), str(b), "--json"]) == ExitStatus.OK
    d = json.loads(capsys.readouterr().out)
    assert (d["added"], d["gone"], d["unchanged"]) == (["new1"], ["old1"], ["web2"]), "changed -> ok is no change"
    assert d["changed"] == {"web1": [
        {"what": "status", "old": "changed", "new": "failed"},
        {"what": "drift", "change": "appeared", **DEBUG},
    ]}  # fmt: skip
    assert main(["runs", "diff", str(a), str(b)]) == ExitStatus.OK
    text = capsys.readouterr().out
    assert "drift appeared: /etc/docker/daemon.json: debug (asked None, found true)" in text
    assert "added (1): new1" in text and "gone (1): old1" in text
    assert "1 host(s) changed, 1 unchanged, 1 added, 1 gone" in text


def test_diff_of_two_infos_clears_and_upgrades() -> None:
    def run(run_id: int, hosts: dict) -> dict:
        return {"id": run_id, "command": "info", "status": "ok", "check_mode": False, "report_json": {"hosts": hosts}}

    a = run(1, {"web1": _info("failed", "20.10.24", [DEBUG], [GPG])})
    b = run(2, {"web1": _info("ok", "24.0.9", [])})
    assert rundiff.diff(a, b)["changed"]["web1"] == [
        {"what": "status", "old": "failed", "new": "ok"},
        {"what": "version", "old": "20.10.24", "new": "24.0.9"},
        {"what": "finding", "change": "cleared", "code": "GPGCHECK_OFF", "level": "warning",
         "message": "gpgcheck=0 in docker.repo"},
        {"what": "drift", "change": "cleared", **DEBUG},
    ]  # fmt: skip
    # A check's findings against an info's: the info does not look for them, so none is said to clear.
    check = {**run(3, {"web1": {"status": "ok", "findings": [GPG], "facts": {"docker_info": None}}}),
             "command": "check"}  # fmt: skip
    assert rundiff.diff(check, b)["changed"] == {}
    assert [c["change"] for c in rundiff.diff(b, {**a, "id": 4})["changed"]["web1"] if "change" in c] == [
        "appeared", "appeared"
    ]  # fmt: skip
