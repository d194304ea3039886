"""The run's events: what sinks see, secrets removed first, a broken sink never stops the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from installer import events
from installer.cli import ExitStatus, main


def test_sinks_see_events_without_secrets_and_commands_only_when_asked() -> None:
    seen: list[events.Event] = []
    debug: list[events.Event] = []
    events.redact("hunter2-canary")
    with events.subscribed(seen.append), events.subscribed(debug.append, commands=True):
        events.emit(events.STEP, "web1", "install docker-ce", "failed", "yum said hunter2-canary")
        events.emit(events.COMMAND, "web1", status="rc=1", detail="$ echo hunter2-canary")
    events.emit(events.STEP, "web1", "after", "ok")  # nobody listens any more
    assert [e.kind for e in seen] == [events.STEP]
    assert [e.kind for e in debug] == [events.STEP, events.COMMAND]
    assert all("hunter2-canary" not in e.detail for e in debug) and "********" in debug[1].detail
    assert events.line(seen[0]).endswith("web1 install docker-ce: failed (yum said ********)")


def test_a_sink_that_breaks_is_dropped_and_the_others_carry_on() -> None:
    seen: list[events.Event] = []

    def closed_pipe(event: events.Event) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    with events.subscribed(closed_pipe), events.subscribed(seen.append):
        events.emit(events.HOST, "web1", status="started")
        events.emit(events.HOST, "web1", status="ok")
    assert [e.status for e in seen] == ["started", "ok"]


def test_piped_output_streams_lines_and_the_log_file_keeps_everything(
    tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "run.log"
    status = main(["provision", str(unreachable), "--retry-file", "", "--log-file", str(log)])
    out = capsys.readouterr().out
    assert status == ExitStatus.UNREACHABLE
    assert " web1: started\n" in out and " web1: unreachable (cannot connect to 127.0.0.1:1" in out
    assert out.index("web1: started") < out.index("RECAP"), "lines as it happens, the report at the end"
    logged = log.read_text()
    assert "pyinstall " in logged.splitlines()[0] and " web1 host: unreachable" in logged
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_a_log_that_cannot_be_written_is_a_warning(
    tmp_path: Path, unreachable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["check", str(unreachable), "--log-file", str(tmp_path / "no-such-dir" / "run.log")])
    assert status == ExitStatus.UNREACHABLE
    assert "no log: could not write" in capsys.readouterr().err


def test_a_secret_inside_a_longer_one_masks_the_longer_one_whole() -> None:
    events.redact("pw-7c", "pw-7c-and-more-41")
    assert events.clean("a pw-7c-and-more-41 b pw-7c") == "a ******** b ********"
