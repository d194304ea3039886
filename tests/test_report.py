"""The provision report as an operator reads it."""

from __future__ import annotations

from rich.console import Console

from installer.checks import ERROR, WARNING, Finding
from installer.executor import CHANGED, UNKNOWN, TaskResult
from installer.outcome import Status
from installer.provision import HostRun
from installer.report import render_provision


def rendered(runs: list[HostRun]) -> str:
    console = Console(record=True, width=200, color_system=None)
    render_provision(runs, console)
    return console.export_text()


def test_a_preflight_failure_is_said_once_with_its_hint() -> None:
    arch = Finding("ARCH", ERROR, "i686 machine: Docker runs only on 64-bit x86_64", "reinstall with x86_64")
    disk = Finding("DISK_SPACE", WARNING, "5.0 GiB free under /var/lib/docker", "give it 10 GiB")
    run = HostRun("old", Status.FAILED, findings=[arch, disk], error=f"preflight: ARCH: {arch.message}", hint=arch.hint,
                  failed_finding=arch)  # fmt: skip
    text = rendered([run])
    assert text.count("i686 machine") == 1
    assert "hint: reinstall with x86_64" in text
    assert "5.0 GiB free" not in text, "warnings only with -v"


def test_a_plain_provision_says_the_options_it_drops_and_what_an_earlier_run_left() -> None:
    dropped = Finding("UNMANAGED_OPTIONS", WARNING, "/etc/docker/daemon.json sets debug, which the inventory does "
                      "not ask for: provision replaces the file without them", "ask for them")  # fmt: skip
    lost = Finding("JOB_LOST", WARNING, "a yum transaction from an earlier run died unfinished", "")
    gpg = Finding("GPGCHECK_OFF", WARNING, "packages are installed without signature checks", "")
    text = rendered([HostRun("web1", Status.CHANGED, findings=[dropped, lost, gpg])])
    assert "preflight warning: UNMANAGED_OPTIONS: /etc/docker/daemon.json sets debug" in text
    assert "preflight warning: JOB_LOST: a yum transaction from an earlier run died unfinished" in text
    assert "GPGCHECK_OFF" not in text, "other warnings only with -v"


def test_a_step_cut_off_is_shown_unknown_after_the_steps_done() -> None:
    tasks = [TaskResult("write repository /etc/yum.repos.d/pyinstall-epel.repo", CHANGED, "absent"),
             TaskResult("start docker", UNKNOWN, "connection lost while running a command: EOF")]  # fmt: skip
    lost = "start docker: connection lost while running a command"
    run = HostRun("web1", Status.UNREACHABLE, tasks=tasks, error=lost,
                  hint="the outcome on the host is unknown; check it, then run again")  # fmt: skip
    lines = rendered([run]).splitlines()
    assert any(line.split()[:3] == ["unknown", "start", "docker"] for line in lines)
    assert any(line.split()[:2] == ["changed", "write"] for line in lines)
    assert lines[-1].split() == ["web1", "ok=0", "changed=1", "failed=0", "unreachable"]


def test_the_check_table_and_details_of_every_kind_of_host() -> None:
    from installer.errors import Unreachable
    from installer.preflight import HostReport
    from installer.report import render

    arch = Finding("ARCH", ERROR, "i686 machine: Docker runs only on 64-bit x86_64", "reinstall with x86_64")
    reports = [
        HostReport("up", Status.OK),
        HostReport("old", Status.FAILED, [arch]),
        HostReport.stopped("down", Unreachable("down", "connection refused", "is sshd running?"), 0.1),
        HostReport("later", Status.SKIPPED, error="not attempted: the run was interrupted (Ctrl-C)"),
    ]
    console = Console(record=True, width=200, color_system=None)
    render(reports, console)
    text = console.export_text()
    assert "ARCH: i686 machine" in text and "Unreachable: connection refused" in text
    assert "4 host(s): 1 passed, 1 failed, 1 unreachable, 1 not checked (interrupted)" in text


HOSTILE = "CentOS [/] [bold]x[/bold] \x1b[2J\x1b]0;owned\x07 \x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\"


def test_host_text_is_plain_and_its_escape_sequences_visible() -> None:
    """What a host says is never markup, and never reaches the terminal as an escape sequence."""
    import io

    from installer import docker_info, facts, terminal
    from installer.info import HostInfo
    from installer.preflight import HostReport
    from installer.report import render, render_info

    f = facts.Facts(release_text=HOSTILE, kernel_release="3.10.0\x1b[31m", arch="x86_64")
    lie = Finding("OS", ERROR, f"{HOSTILE} is not CentOS/RHEL", "")
    info = docker_info.parse(f"Server Version: 20.10\x1b[2J\nStorage Driver: {HOSTILE}\n")
    run = HostRun("h1", Status.FAILED, findings=[lie], error=f"preflight: OS: {HOSTILE}")
    run.tasks.append(TaskResult("start docker", Status.FAILED, HOSTILE, stdout=HOSTILE, log=HOSTILE))
    stream = io.StringIO()
    console = terminal.console(stream)
    render([HostReport("h1", Status.FAILED, [lie], f)], console)
    render_info([HostInfo("h1", Status.FAILED, [lie], info=info)], {"hosts": 1, "status": {}, "versions": {},
                "storage_drivers": {}}, [], console)  # fmt: skip
    render_provision([run], console, verbose=2)
    out = stream.getvalue()
    assert "\x1b" not in out and "\x07" not in out, "no raw escape sequence from a host"
    assert "[/]" in out and "[bold]x[/bold]" in out, "brackets are text, not markup"
    assert "\\x1b[2J" in out and "\\x1b]0;owned\\x07" in out
