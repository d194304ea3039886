"""--pre-host and --post-host: the operator's commands around each host's work, run here with the host's
name and address in their environment, never in their text; a failing pre-host leaves the host untouched
and counts against the failure budget."""

from __future__ import annotations

import shlex
import threading
from pathlib import Path

from installer import hooks
from installer.connection import Target
from installer.host_run import HostRun, roll_out
from installer.outcome import Status


def _work(calls: list[str], status: Status = Status.CHANGED):
    def work(host, stop: threading.Event) -> HostRun:
        calls.append(host[0].name)
        return HostRun(host[0].name, status)

    return work


def test_the_hooks_run_around_the_work_with_the_host_in_their_environment(tmp_path: Path) -> None:
    log = tmp_path / "log"
    record = f'echo "$PYINSTALL_HOOK $PYINSTALL_HOST $PYINSTALL_ADDRESS $PYINSTALL_PORT" >> {shlex.quote(str(log))}'
    calls: list[str] = []
    name = "web1;$(touch pwned)"  # an inventory name is data: it reaches the hook as a value only
    run = hooks.around(_work(calls), record, record)((Target(name, "10.0.0.5", 2222), None), threading.Event())
    assert run.status == Status.CHANGED and calls == [name]
    assert [t.name for t in run.tasks] == ["pre-host hook", "post-host hook"]
    assert log.read_text().splitlines() == [f"pre-host {name} 10.0.0.5 2222", f"post-host {name} 10.0.0.5 2222"]
    assert not (Path.cwd() / "pwned").exists()


def test_a_failing_pre_host_leaves_the_host_untouched() -> None:
    calls: list[str] = []
    run = hooks.around(_work(calls), "echo draining; echo 'node busy' >&2; exit 3", "true")(
        (Target("web1", "web1"), None), threading.Event()
    )
    assert calls == [] and run.status == Status.FAILED
    assert run.error.startswith("pre-host hook: ") and run.error.endswith("exited with status 3: node busy")
    assert [t.name for t in run.tasks] == ["pre-host hook"]


def test_post_host_runs_only_after_a_host_that_ended_well_and_its_failure_is_the_hosts() -> None:
    failed = hooks.around(_work([], Status.FAILED), None, "exit 9")((Target("a", "a"), None), threading.Event())
    assert failed.status == Status.FAILED and failed.tasks == [], "not after a failed host: it stays drained"
    ok = hooks.around(_work([]), None, "exit 9")((Target("b", "b"), None), threading.Event())
    assert ok.status == Status.FAILED and ok.error.startswith("post-host hook: 'exit 9' exited with status 9")


def test_a_failing_pre_host_counts_against_the_failure_budget() -> None:
    calls: list[str] = []
    work = hooks.around(_work(calls), '[ "$PYINSTALL_HOST" != h1 ]', None)
    hosts = [(Target(f"h{i}", f"h{i}"), None) for i in range(1, 5)]
    runs = roll_out(hosts, work, forks=1, serial=[1], max_fail_percentage=0)
    assert [r.status for r in runs] == [Status.FAILED, Status.SKIPPED, Status.SKIPPED, Status.SKIPPED]
    assert calls == [], "the canary's hook failed: no host was worked on"
