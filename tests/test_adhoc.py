"""`pyinstall exec` without hosts: the lines a command prints, told from the session's frame and a host's noise;
each host's outcome; what the command line refuses. On lab hosts: tests/test_adhoc_lab.py."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from installer import adhoc, events
from installer.cli import main
from installer.connection import CommandResult, Target, _Lines
from installer.errors import Unreachable
from installer.outcome import Status

TOKEN = "pyinstall-ran-0123456789abcdef"


def streamed(chunks: list[tuple[str, bytes]], password: str | None = None) -> list[tuple[str, str]]:
    said: list[tuple[str, str]] = []
    sink = _Lines(TOKEN, lambda stream, line: said.append((stream, line)), password)
    for stream, data in chunks:
        sink.feed(stream, data)
    sink.close()
    return said


def test_only_the_commands_own_lines_are_streamed_whatever_the_chunks() -> None:
    stdout = f"Welcome to web1\n{TOKEN}\nfirst\n\nsecond\n\n{TOKEN} 0\nbye\n".encode()
    stderr = f"motd noise\n{TOKEN}\nwarning: x\nlast without newline".encode()
    expected = [("stdout", "first"), ("stdout", ""), ("stdout", "second"), ("stderr", "warning: x"),
                ("stderr", "last without newline")]  # fmt: skip
    whole = streamed([("stdout", stdout), ("stderr", stderr)])
    assert sorted(whole) == sorted(expected)
    byte_by_byte = streamed([("stdout", stdout[i : i + 1]) for i in range(len(stdout))]
                            + [("stderr", stderr[i : i + 1]) for i in range(len(stderr))])  # fmt: skip
    assert byte_by_byte == whole


def test_output_without_a_final_newline_and_a_pty_that_carries_both_tokens() -> None:
    assert streamed([("stdout", f"{TOKEN}\n{TOKEN}\nno newline\n{TOKEN} 3\n".encode())]) == [("stdout", "no newline")]
    masked = streamed([("stdout", f"[sudo] pw\r\n{TOKEN}\r\nsecret s3cret\r\n\r\n{TOKEN} 0\r\n".encode())], "s3cret")
    assert masked == [("stdout", "secret ********")]


class FakeSession:
    def __init__(self, target: Target, rc: int, out: str) -> None:
        self.target, self.rc, self.out, self.stop = target, rc, out, None

    def run(self, command: str, timeout: float = 0, what: str | None = None, lines=None) -> CommandResult:
        for line in self.out.splitlines():
            if lines:
                lines("stdout", line)
        return CommandResult(command, self.rc, self.out, "", 0.01)


def test_each_hosts_exit_status_is_kept_and_known_passwords_are_masked() -> None:
    events.redact("hunter2-exec")
    answers = {"ok1": (0, "up hunter2-exec\n"), "bad1": (3, "")}

    @contextlib.contextmanager
    def connect(target: Target):
        if target.name == "gone1":
            raise Unreachable(target.name, "connection refused", "is sshd running?")
        yield FakeSession(target, *answers[target.name])

    seen: list[tuple[str, str, str]] = []
    results = adhoc.run([Target(n, "192.0.2.1") for n in ("ok1", "bad1", "gone1")], "uptime", connect=connect,
                        lines=lambda *said: seen.append(said))  # fmt: skip
    assert [(r.name, r.status, r.rc) for r in results] == [
        ("ok1", Status.OK, 0), ("bad1", Status.FAILED, 3), ("gone1", Status.UNREACHABLE, None)
    ]  # fmt: skip
    assert results[0].stdout == "up ********\n" and seen == [("ok1", "stdout", "up ********")]
    assert results[1].error == "the command exited with status 3"
    assert results[2].to_dict()["error"] == "connection refused"


@pytest.mark.parametrize(
    "argv, said",
    [
        (["exec", "INV", "--", "uptime"], "exec runs on the hosts --limit names"),
        (["exec", "INV", "--limit", "all"], "give the command after --"),
        (["exec", "INV", "--limit", "all", "--stream", "--json", "--", "uptime"], "--stream prints lines"),
    ],
)
def test_exec_needs_the_hosts_and_the_command_said(argv: list[str], said: str, tmp_path: Path, capsys) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text("web1 ansible_host=192.0.2.1\n")
    argv = [str(inv) if word == "INV" else word for word in argv]
    assert main(argv) == 5
    assert said in capsys.readouterr().err


def test_list_hosts_shows_what_exec_would_run_on_without_running_it(tmp_path: Path, capsys) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text("[web]\nweb1 ansible_host=192.0.2.1\n[db]\ndb1 ansible_host=192.0.2.2\n")
    assert main(["exec", str(inv), "--limit", "web", "--list-hosts", "--json", "--", "reboot"]) == 0
    assert json.loads(capsys.readouterr().out)["hosts"] == ["web1"]


def test_junit_has_a_case_per_host_failed_when_its_command_was() -> None:
    from installer import junit

    results = [
        adhoc.HostCommand("ok1", Status.OK, rc=0, stdout="up\n", seconds=0.1),
        adhoc.HostCommand("bad1", Status.FAILED, error="the command exited with status 3", rc=3, stderr="boom\n"),
        adhoc.HostCommand("gone1", Status.UNREACHABLE, error="connection refused", hint="is sshd running?"),
    ]
    cases = junit.exec_cases(results)
    assert [(c.host, c.outcome, c.message) for c in cases] == [
        ("ok1", "", "ok"), ("bad1", "failure", "the command exited with status 3"),
        ("gone1", "error", "connection refused"),
    ]  # fmt: skip
    assert (cases[0].out, cases[1].err, cases[2].hint) == ("up\n", "boom\n", "is sshd running?")
    document = ET.fromstring(junit.document("exec", cases, 1.0))[0]
    outputs = {c.get("name"): (c.findtext("system-out"), c.findtext("system-err"), c.findtext("failure")) for c in
               document.iter("testcase")}  # fmt: skip
    assert outputs["ok1"] == ("up\n", None, None) and outputs["bad1"] == (None, "boom\n", "boom\n")
