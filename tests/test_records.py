"""Run records: every check, provision and info kept (SQLite by default), listed and shown again as
printed; a database that cannot be written is a warning, never a failed run."""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from alembic import command as migrations
from alembic.config import Config

from installer import records, runlog
from installer.cli import ExitStatus, main
from tests import postgres
from tests.lab.testing import PYINSTALL


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
    for options in (["runs", "show", str(check_id), "--json"], ["runs", "--json", "show", str(check_id)]):
        assert main(options) == ExitStatus.OK
        assert json.loads(capsys.readouterr().out)["hosts"]["web1"]["status"] == "unreachable"
    assert main(["runs", "show", str(check_id), "--html", "run.html"]) == ExitStatus.OK
    assert capsys.readouterr().out.strip() == shown.strip()
    page = Path("run.html").read_text()
    assert html.escape(shown.strip(), quote=False) in page and f"<title>Run {check_id} · pyinstall runs" in page
    assert "<script" not in page and "<style>" in page and 'href="/' not in page, "self-contained, offline"
    assert main(["runs", "host", "web1", "--json"]) == ExitStatus.OK
    history = json.loads(capsys.readouterr().out)
    assert [(h["command"], h["status"], h["changed"]) for h in history] == [
        ("info", "unreachable", []), ("provision", "unreachable", []), ("check", "unreachable", [])
    ]  # fmt: skip
    database = Path(kept[0]["inventory"]).parent / "state" / "pyinstall" / "runs.sqlite"
    assert oct(database.stat().st_mode & 0o777) == "0o600"
    assert b"canary-3f9d1c" not in database.read_bytes()


def test_the_report_is_rendered_once_and_kept_as_printed(
    unreachable: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from installer import report

    drawn: list[object] = []
    render = report.render
    monkeypatch.setattr(report, "render", lambda *args, **kwargs: (drawn.append(args), render(*args, **kwargs))[1])
    assert main(["check", str(unreachable)]) == ExitStatus.UNREACHABLE
    printed = capsys.readouterr().out
    assert len(drawn) == 1, "rendered for the terminal and again for the record"
    [kept], _ = records.runs(records.default_url())
    report_kept = records.run(records.default_url(), kept["id"])["report"]
    assert "1 unreachable" in report_kept and printed.endswith(report_kept), "after the progress lines: the report"


def test_a_json_run_is_shown_as_the_document_it_printed(unreachable: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --json run draws no text report nobody saw: `runs show` prints the document it printed."""
    assert main(["check", str(unreachable), "--json"]) == ExitStatus.UNREACHABLE
    printed = capsys.readouterr().out
    [kept], _ = records.runs(records.default_url())
    assert records.run(records.default_url(), kept["id"])["report"] is None
    assert main(["runs", "show", str(kept["id"])]) == ExitStatus.OK
    shown = capsys.readouterr().out
    assert shown == printed and json.loads(shown)["hosts"]["web1"]["status"] == "unreachable"


def test_a_database_that_cannot_be_written_is_a_warning(
    unreachable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'runs.sqlite'}"
    assert main(["check", str(unreachable), "--database", url]) == ExitStatus.UNREACHABLE
    captured = capsys.readouterr()
    assert "the run is not kept in sqlite:///" in captured.err and "1 unreachable" in captured.out


def test_an_unknown_run_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "show", "99"]) == ExitStatus.USAGE
    assert "no run 99" in capsys.readouterr().err


def test_a_hosts_history_says_what_changed_and_what_it_ran(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    record = {"status": "changed", "tasks": [{"name": "install docker-ce 20.10.24", "status": "changed"},
                                             {"name": "start docker", "status": "ok"}],
              "docker_info": {"server_version": "20.10.24", "storage_driver": "overlay2"}}  # fmt: skip
    for when, status, rec in ((1.0, "changed", record), (2.0, "ok", {**record, "tasks": []})):
        run_id = records.start(url, records.Start(when, "provision", "provision hosts.ini", "0.1.0", "hosts.ini", ""))
        records.finish(url, run_id, records.End(when + 1, 0, "", "{}", [("web1", status, json.dumps(rec)),
                                                                      ("web2", "ok", "{}")]))  # fmt: skip
    history = records.host_history(url, "web1")
    assert [(h["status"], h["changed"], h["version"], h["storage_driver"]) for h in history] == [
        ("ok", [], "20.10.24", "overlay2"),
        ("changed", ["install docker-ce 20.10.24"], "20.10.24", "overlay2"),
    ]


def _kept(database: str) -> list[dict]:
    proc = subprocess.run([*PYINSTALL, "runs", "--json", "--database", database], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _runs_at_once(controllers: list[list[str]], inventory: Path, database: str) -> list[subprocess.CompletedProcess]:
    """`pyinstall check INVENTORY` started at once from each controller (a command that runs one), all
    keeping their run in ``database``; waits for all."""
    env = {**os.environ, "PYINSTALL_DATABASE": database}
    started = [subprocess.Popen([*controller, *PYINSTALL, "check", str(inventory), "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for controller in controllers]  # fmt: skip
    return [subprocess.CompletedProcess(p.args, p.wait(60), *p.communicate()) for p in started]


def test_runs_at_once_on_a_new_database_are_all_kept(unreachable: Path, tmp_path: Path) -> None:
    """Twelve runs meet on a database that does not exist yet: one creates the schema, all are kept."""
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    done = _runs_at_once([[]] * 12, unreachable, url)
    assert [p.returncode for p in done] == [ExitStatus.UNREACHABLE] * 12, [p.stderr for p in done]
    assert not any(p.stderr for p in done), [p.stderr for p in done]
    kept = _kept(url)
    assert len({r["id"] for r in kept}) == 12
    assert all(r["exit_status"] == 4 and r["hosts"] == {"unreachable": 1} for r in kept)


def test_a_killed_run_is_listed_unfinished(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run is kept from its start (its record written beside its first connections): killed while it waits
    on a host, it is still listed."""
    with socket.socket() as silent:  # accepts connections and never says a word: the run waits on it
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        inventory = tmp_path / "hosts.ini"
        inventory.write_text(f"quiet ansible_host=127.0.0.1 ansible_port={silent.getsockname()[1]}\n")
        url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
        run = subprocess.Popen([*PYINSTALL, "check", str(inventory), "--database", url, "--timeout", "60"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        silent.settimeout(30)
        connection, _ = silent.accept()  # the run has started and reached the host
        deadline = time.monotonic() + 30
        while not records.runs(url)[0] and time.monotonic() < deadline:  # its record, written on a thread
            time.sleep(0.05)
        run.kill()
        run.wait()
        connection.close()
    [killed], _ = records.runs(url)
    assert (killed["command"], killed["ended"], killed["exit_status"], killed["hosts"]) == ("check", None, None, {})
    assert main(["runs", "--database", url]) == ExitStatus.OK
    assert "unfinished" in capsys.readouterr().out
    assert main(["runs", "show", str(killed["id"]), "--database", url]) == ExitStatus.OK
    assert f"run {killed['id']} is unfinished" in capsys.readouterr().out


def test_a_run_stopped_by_bad_input_is_kept_with_its_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[web\nweb1\n")
    assert main(["check", str(inventory)]) == ExitStatus.USAGE
    printed = capsys.readouterr().err
    [kept], _ = records.runs(records.default_url())
    assert kept["exit_status"] == ExitStatus.USAGE and kept["ended"] is not None
    assert records.run(records.default_url(), kept["id"])["report"].strip() == printed.strip()
    assert f"{inventory}:1" in printed


def test_a_database_of_an_older_pyinstall_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    config = Config()
    config.set_main_option("script_location", str(records.MIGRATIONS))
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        migrations.upgrade(config, "0001")  # the first schema: runs were written when they ended
        connection.execute(sa.text(
            "INSERT INTO runs (started, ended, command, argv, version, inventory, inventory_sha256, exit_status,"
            " report, report_json) VALUES (1, 2, 'check', 'check hosts.ini', '0.1.0', 'hosts.ini', '', 0, 'ok', '{}')"
        ))  # fmt: skip
    engine.dispose()
    [old], _ = records.runs(url)
    assert (old["command"], old["exit_status"], old["controller"]) == ("check", 0, "")
    run_id = records.start(url, records.Start(3.0, "info", "info hosts.ini", "0.1.0", "hosts.ini", ""))
    assert [r["id"] for r in records.runs(url)[0]] == [run_id, old["id"]]


def test_the_quick_way_in_writes_the_rows_records_writes(tmp_path: Path) -> None:
    """runlog writes a SQLite file at the schema's head with sqlite3 alone (no SQLAlchemy loaded): the same
    rows records writes, read back alike; a new file goes through records (created, migrated)."""
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    begun = runlog.Start(1.5, "provision", "provision hosts.ini -C", "0.1.0", "hosts.ini", "ab" * 32,
                         controller="ctl", username="ops", rollout="r1", shard="1/2", check_mode=True)  # fmt: skip
    end = runlog.End(2.5, 2, "web1  would change\n", '{"hosts": {}}', [("web1", "failed", "{}"), ("web2", "ok", "{}")],
                     failed=1, argv="provision hosts.ini -C --become-password ***")  # fmt: skip
    by_records = records.start(url, begun)  # a new file: created and migrated
    records.finish(url, by_records, end)
    script = f"""if True:
        import sys
        from installer.runlog import End, Start
        from installer import runlog
        begun, end = {begun!r}, {end!r}
        run_id = runlog.start({url!r}, begun)
        runlog.finish({url!r}, run_id, end)
        assert "sqlalchemy" not in sys.modules, "the quick way loaded SQLAlchemy"
        print(run_id)
    """
    quick = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env={
        **os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})  # fmt: skip
    assert quick.returncode == 0, quick.stderr
    by_runlog = int(quick.stdout)
    assert by_runlog == by_records + 1
    both = [records.run(url, by_records), records.run(url, by_runlog)]
    assert both[0] == {**both[1], "id": by_records} and both[0]["check_mode"] is True
    assert [r["hosts"] for r in records.runs(url)[0]] == [{"failed": 1, "ok": 1}] * 2
    assert records.host_history(url, "web2")[0]["run"] == by_runlog
    assert runlog.prune(url, 2.0) == 2 and records.runs(url) == ([], 0)


def test_the_quick_way_in_leaves_any_other_database_to_records(tmp_path: Path) -> None:
    """A file at an older schema is migrated, a URL with an escape is SQLAlchemy's to read, another program's
    database is refused: records does each, as it did before runlog."""
    begun = runlog.Start(1.0, "check", "check hosts.ini", "0.1.0", "hosts.ini", "")
    older = f"sqlite:///{tmp_path / 'older.sqlite'}"
    config = Config()
    config.set_main_option("script_location", str(records.MIGRATIONS))
    engine = sa.create_engine(older)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        migrations.upgrade(config, "0004")
    engine.dispose()
    run_id = runlog.start(older, begun)
    assert records.run(older, run_id)["command"] == "check"
    with contextlib.closing(sqlite3.connect(tmp_path / "older.sqlite")) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(records.HEAD,)]
    escaped = f"sqlite:///{tmp_path / 'a%20b.sqlite'}"
    assert runlog.plain_sqlite_path(escaped) is None and runlog.plain_sqlite_path("sqlite://") is None
    runlog.start(escaped, begun)
    assert (tmp_path / "a b.sqlite").is_file() and not (tmp_path / "a%20b.sqlite").exists()
    foreign = tmp_path / "foreign.sqlite"
    with contextlib.closing(sqlite3.connect(foreign)) as connection:
        connection.execute("CREATE TABLE accounts (id INTEGER)")
    with pytest.raises(runlog.DatabaseError, match="tables pyinstall did not create"):
        runlog.start(f"sqlite:///{foreign}", begun)


def test_runs_are_kept_in_postgresql(
    postgresql: str, unreachable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres.database(postgresql, "kept")
    log = tmp_path / "debug.log"
    for command in ("check", "provision", "info"):
        extra = ["--retry-file", ""] if command == "provision" else []
        assert main([command, str(unreachable), "--database", url, "--log-file", str(log), *extra]) == 4
    printed = capsys.readouterr()
    assert "warning" not in printed.err, printed.err
    assert main(["runs", "--database", url, "--json"]) == ExitStatus.OK
    kept = json.loads(capsys.readouterr().out)
    assert [(r["command"], r["exit_status"], r["hosts"]) for r in kept] == [
        (command, 4, {"unreachable": 1}) for command in ("info", "provision", "check")
    ]
    for r in kept:
        assert main(["runs", "show", str(r["id"]), "--database", url]) == ExitStatus.OK
        shown = capsys.readouterr().out.strip()
        assert shown and shown in printed.out
    everything = postgres.dump(url) + log.read_text()
    assert "postgresql+psycopg://" not in everything or "***" in everything
    for secret in ("canary-3f9d1c", postgres.PASSWORD, quote(postgres.PASSWORD, safe="")):
        assert secret not in everything, secret


def test_runs_at_once_on_several_controllers_share_postgresql(postgresql: str, unreachable: Path) -> None:
    """Three controllers (each a host name of its own) start four runs each at once on a new database."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("controllers with host names of their own need root and unshare(1) (a UTS namespace each)")
    url = postgres.database(postgresql, "shared")
    controllers = [["unshare", "--uts", "sh", "-c", f'hostname {name} && exec "$@"', "-"]
                   for name in ("ctl-a", "ctl-b", "ctl-c")]  # fmt: skip
    done = _runs_at_once(controllers * 4, unreachable, url)
    assert [p.returncode for p in done] == [ExitStatus.UNREACHABLE] * 12, [p.stderr for p in done]
    assert not any(p.stderr for p in done), [p.stderr for p in done]
    kept = _kept(url)
    assert len({r["id"] for r in kept}) == 12
    assert all(r["exit_status"] == 4 and r["hosts"] == {"unreachable": 1} for r in kept)
    assert sorted(r["controller"] for r in kept) == sorted(["ctl-a", "ctl-b", "ctl-c"] * 4)


def test_a_reader_that_goes_away_does_not_change_the_outcome(unreachable: Path, tmp_path: Path) -> None:
    """`pyinstall check hosts | head -1`: the pipe closes before the report is printed; the run still ends
    with its hosts' status and is kept whole, and no traceback reaches the terminal."""
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the first line
    proc = subprocess.run([*PYINSTALL, "check", str(unreachable), "--database", url], stdout=writer,
                          stderr=subprocess.PIPE, text=True)  # fmt: skip
    os.close(writer)
    assert proc.returncode == ExitStatus.UNREACHABLE, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    [kept], _ = records.runs(url)
    assert (kept["exit_status"], kept["hosts"]) == (4, {"unreachable": 1})


def test_head_is_the_newest_migration() -> None:
    """records.HEAD lets a run skip loading Alembic when the schema is current: it must be Alembic's head."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(records.MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == records.HEAD


def test_no_host_is_changed_before_the_run_is_kept() -> None:
    """The record is written on a thread beside the first connections; the first change to a host (a step,
    a hook, exec's command) waits for it, so a run that changed something is always listed."""
    from installer import events
    from installer.connection import CommandResult
    from installer.executor import execute
    from installer.plan import Operation, Plan

    order: list[str] = []

    class Session:
        target = type("Target", (), {"name": "web1"})()

        def run(self, command: str, timeout: float = 0, **_: object) -> CommandResult:
            order.append("changed the host")
            return CommandResult(command, 0, "", "", 0.01)

    def kept() -> None:
        time.sleep(0.3)
        order.append("kept")

    release = events.hold_changes(kept)
    try:
        execute(Session(), Plan([Operation("write a file", ("true",))]))  # type: ignore[arg-type]
    finally:
        release()
    assert order == ["kept", "changed the host"]
    execute(Session(), Plan([Operation("write a file", ("true",))]))  # type: ignore[arg-type]
    assert order[-1] == "changed the host" and order.count("kept") == 1, "released: nothing waits"
