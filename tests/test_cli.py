"""The pyinstall command line, in process: views of the inventory, usage errors and exit codes."""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import installer
from installer import __version__
from installer.cli import ExitStatus, main

ROOT = Path(__file__).resolve().parent.parent
PRECEDENCE = ROOT / "tests/inventories/precedence/hosts.ini"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    first, python, where = capsys.readouterr().out.splitlines()
    assert first == f"pyinstall {__version__}"
    assert python == f"  python {platform.python_implementation()} {platform.python_version()} ({sys.executable})"
    assert where == f"  installed in {Path(installer.__file__).parent}"


def test_help_says_what_it_is_for_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: pyinstall" in out
    assert "CentOS/RHEL 6 to 9" in out
    for command in ("inventory", "facts", "check"):
        assert command in out
    assert "4  one or more hosts were unreachable" in out


def test_inventory_list_host_and_graph(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "-i", str(PRECEDENCE), "--list"]) == ExitStatus.OK
    listed = json.loads(capsys.readouterr().out)
    assert listed["el6"]["hosts"][:2] == ["db01.example.com", "db02.example.com"]
    assert listed["_meta"]["hostvars"]["db01.example.com"]["shared"] == "from-host_vars"
    assert main(["inventory", str(PRECEDENCE), "--host", "app01"]) == ExitStatus.OK
    assert json.loads(capsys.readouterr().out)["ansible_host"] == "10.0.0.1"
    assert main(["inventory", str(PRECEDENCE), "--graph", "fleet"]) == ExitStatus.OK
    assert capsys.readouterr().out.startswith("@fleet:\n  |--@legacy:\n  |  |--@el6:")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check"], "no inventory given"),
        (["check", "-i", "a.ini", "b.ini"], "b.ini: no such file"),
        (["check", "-i", "/nonexistent/hosts.ini"], "/nonexistent/hosts.ini: no such file"),
        (["check", "-i", str(PRECEDENCE), "--limit", "nothing-like-this"], "no hosts matched"),
        (["check", "-i", str(PRECEDENCE), "--ignore-preflight-errors", "KERNAL"], "unknown check code(s)"),
        (["check", "-i", str(PRECEDENCE), "--forks", "many"], "--forks: 'many' is not a number"),
        (["check", "-i", str(PRECEDENCE), "--forks", "0"], "--forks: 0 is out of range: from 1"),
        (["check", "-i", str(PRECEDENCE), "-T", "0"], "--timeout: 0 is out of range: from 0.1"),
        (["provision", "-i", str(PRECEDENCE), "--max-fail-percentage", "150"], "150 is out of range: from 0 to 100"),
        (["check", "-i", str(PRECEDENCE), "--become-password-file", "/nonexistent"], "cannot read /nonexistent"),
        (["provision", "-i", str(PRECEDENCE), "--tags", "config,confg"], "unknown tag(s) confg; known: repo,"),
        (["inventory", str(PRECEDENCE), "--host", "nobody"], "no host 'nobody'"),
        (["provision", "-i", str(PRECEDENCE), "--stop-containers"], "--stop-containers is for --migrate-storage"),
        (["check", "-i", str(PRECEDENCE), "--upgrade-to", "el10"], "--upgrade-to 'el10' is not a platform pyinstall"),
        (["provision", "-i", str(PRECEDENCE), "--upgrade-to", "el8"], "unrecognized arguments: --upgrade-to"),
        (["provision", "-i", str(PRECEDENCE), "--migrate-storage", "--tags", "config"], "it takes no --tags"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_5_without_a_traceback(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_bad_inventory_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "hosts.ini"
    bad.write_text("[web]\nweb01\n[db:children]\nweb\nghosts\n")
    assert main(["inventory", "-i", str(bad), "--list"]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert f"{bad}:5: [db:children] includes undefined group 'ghosts'" in err
    assert "hint: declare it with a [ghosts]" in err


def test_bad_host_variable_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text("h1 ansible_become=maybe\n")
    assert main(["check", "-i", str(inv)]) == ExitStatus.USAGE
    assert "host h1" in capsys.readouterr().err


def test_provision_writes_a_retry_file_usable_as_limit_and_saves_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text("a.invalid\nb.invalid\nc.invalid\n")
    retry = tmp_path / "provision.retry"
    argv = ["provision", "-i", str(inv), "--retry-file", str(retry), "--serial", "1", "--max-fail-percentage", "0"]
    assert main(argv) == ExitStatus.UNREACHABLE
    out = capsys.readouterr().out
    assert retry.read_text() == "a.invalid\nb.invalid\nc.invalid\n"  # the unreachable one and the two never attempted
    resume = f"pyinstall provision -i {inv} --retry-file {retry} --serial 1 --max-fail-percentage 0 --limit @{retry}"
    assert resume in out, "the command to resume: the same options, limited to the hosts to retry"
    assert "not attempted: batch 1 of 3 had 1 of 1 hosts fail" in out
    saved = json.loads((tmp_path / "pyinstall-report.json").read_text())["hosts"]
    assert [h["status"] for h in saved.values()] == ["unreachable", "skipped", "skipped"]
    assert "Report saved to pyinstall-report.json" in out
    assert oct((tmp_path / "pyinstall-report.json").stat().st_mode & 0o777) == "0o600"
    assert main(["inventory", "-i", str(inv), "--list"]) == ExitStatus.OK
    capsys.readouterr()
    assert main(["provision", "-i", str(inv), "--limit", f"@{retry}", "--retry-file", "", "--json"]) == 4
    assert set(json.loads(capsys.readouterr().out)["hosts"]) == {"a.invalid", "b.invalid", "c.invalid"}


@pytest.mark.parametrize(
    "line, said",
    [
        ("web1 ansible_port=abc", "hosts.ini:2: ansible_port (host web1): 'abc' is not a whole number from 1 to 65535"),
        ("web1 docker_daemon_options=\"{'log-levle': 'warn'}\"", "did you mean log-level?"),
    ],
)
def test_a_bad_variable_stops_every_command_before_any_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, said: str
) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"[web]\n{line}\n")
    for command in ("check", "provision", "info"):
        assert main([command, str(inventory)]) == ExitStatus.USAGE  # before connecting (web1 would not resolve)
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err


def test_a_report_that_cannot_be_saved_is_a_warning_not_a_lost_run(
    tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The host is refused at once; the files go where nothing can be written."""
    inventory = unreachable
    missing = tmp_path / "no-such-dir"
    status = main(["provision", str(inventory), "--retry-file", str(missing / "x.retry"),
                   "--report-file", str(missing / "report.json")])  # fmt: skip
    captured = capsys.readouterr()
    assert status == ExitStatus.UNREACHABLE, captured.err
    assert f"could not write {missing / 'x.retry'}: No such file or directory" in captured.err
    assert f"could not write {missing / 'report.json'}" in captured.err
    assert "web1  unreachable" in captured.out and "RECAP" in captured.out, "the report is still printed"
    assert "to retry" not in captured.out and "Report saved" not in captured.out


@pytest.mark.parametrize("flag, file_flag", [("-K", "--become-password-file"), ("-k", "--connection-password-file")])
def test_a_password_prompt_with_no_terminal_is_a_usage_error(
    flag: str, file_flag: str, unreachable: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """cron, CI, < /dev/null: no traceback, a hint to the file option instead."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["check", str(unreachable), flag]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert f"{flag} asks for a password on a terminal, and there is none" in err and file_flag in err


def test_a_password_file_gives_its_first_line_and_it_is_never_shown(
    unreachable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from installer.cli.context import password

    secret = tmp_path / "become.txt"
    secret.write_text("canary-file-4e1b\nsecond line ignored\n")
    assert password(False, "-K", "", str(secret), "--become-password-file", "") == "canary-file-4e1b"
    assert main(["check", str(unreachable), "--become-password-file", str(secret), "-vv"]) == 4
    captured = capsys.readouterr()
    assert "canary-file-4e1b" not in captured.out + captured.err


@pytest.mark.parametrize("argv", [["--help"], ["config"], ["inventory", "-i", str(PRECEDENCE), "--list"]])
def test_commands_that_reach_no_host_never_load_the_ssh_libraries(argv: list[str]) -> None:
    """`--help`, `config` and `inventory` answer at once: paramiko, fabric and jinja2 stay unloaded."""
    probe = ("import sys; from installer.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('paramiko', 'fabric', 'invoke', 'jinja2') if m in sys.modules))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout[-500:] + proc.stderr[-500:]


LATER = ("rich", "yaml", "concurrent.futures", "installer.inventory", "installer.settings", "installer.events",
         "installer.outcome", "dataclasses", "importlib.resources", "platform", "argcomplete")  # fmt: skip


def test_help_loads_the_parser_alone() -> None:
    """`pyinstall --help` prints argparse's text: the terminal layer (rich), PyYAML, the inventory, the
    settings, the events and dataclasses all wait (bench.compare measures the time: about 70 ms)."""
    probe = ("import sys; from installer.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             f"print(sorted(m for m in {LATER!r} if m in sys.modules))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout[-500:] + proc.stderr[-500:]


@pytest.mark.parametrize("argv", [["runs"], ["runs", "--json"], ["runs", "host", "web1"]])
def test_the_run_records_load_no_ssh_library(argv: list[str], tmp_path: Path) -> None:
    """`pyinstall runs` reads the kept runs and renders them: no module it imports reaches paramiko or fabric
    (the renderer takes plain records, not the preflight's types)."""
    probe = ("import sys; from installer.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('paramiko', 'fabric', 'invoke') if m in sys.modules))")  # fmt: skip
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=60, env=env)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout[-500:] + proc.stderr[-500:]


def test_hooks_do_not_run_under_check_and_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text("a.invalid\n")
    ran = tmp_path / "ran"
    hook = ["--pre-host", f"touch {ran}", "--retry-file", ""]
    assert main(["provision", "-i", str(inv), "--check", *hook]) == ExitStatus.UNREACHABLE
    assert "--pre-host and --post-host do not run under --check" in capsys.readouterr().err
    assert not ran.exists()
    assert main(["provision", "-i", str(inv), *hook]) == ExitStatus.UNREACHABLE
    assert ran.exists(), "without --check the hook runs (before the host is reached)"
