"""Every option the parser knows, fed its extremes (0, negative, huge, not a number, non-ASCII, empty):
each is taken or refused by name in one line, within seconds, never a traceback or an endless run."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import pytest

from installer.cli import ExitStatus, build_parser, main

EXTREMES = ["0", "-1", "99999999999999999999", "1e309", "nan", "\u0661\u0662", "é/ü", "", " "]
SECONDS = 30  # far above any of these runs: a run still going after it never ends
# The commands reaching hosts share their options: each is fed through the first command that has it.
ORDER = ["check", "provision", "remove", "info", "verify", "facts", "runs", "inventory", "config", "bundle"]
# Options whose value is a file to write: an extreme makes a file of that name in the test's directory.
# Options that need another to mean anything are given it (--rollout-max-fail needs --rollout).
EXTRA = {
    "--shard": ["1/99999999999999999999", "1/0", "0/0", "1/-1", "\uff11/\uff12"],
    "--serial": ["1,99999999999999999999", "0%", "1e309%", "nan%", ",,"],
    "--rollout-max-fail": ["1e309%", "nan%", "-0%"],
    "--max-fail-percentage": ["100.0001", "-0"],
}
INVENTORIED = {"check", "provision", "remove", "info", "verify", "facts", "inventory"}  # take an inventory
NEEDS = {"--rollout-max-fail": ["--rollout", "r1"], "--purge-data": ["--yes"]}


def _options() -> list[tuple[str, str, list[str]]]:
    """(command, option, the action's other command words) for every option that takes a value."""
    seen, found = set(), []

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name in sorted(action.choices, key=lambda n: ORDER.index(n) if n in ORDER else 99):
                    walk(action.choices[name], [*words, name])
            elif action.option_strings and action.nargs != 0 and action.dest != "help":
                option = max(action.option_strings, key=len)
                if option not in seen:
                    seen.add(option)
                    found.append((" ".join(words), option, words))

    walk(build_parser(), [])
    return found


OPTIONS = _options()


def test_the_enumeration_finds_every_bounded_option() -> None:
    names = {option for _, option, _ in OPTIONS}
    assert {"--shard", "--forks", "--serial", "--timeout", "--max-fail-percentage", "--rollout-max-fail",
            "--database", "--log-file", "--limit"} <= names  # fmt: skip


def _run(argv: list[str]) -> int | BaseException | None:
    """main(argv) in a thread: its status, the exception it let out, or None if it did not end in time."""
    outcome: list[int | BaseException] = []

    def target() -> None:
        try:
            outcome.append(main(argv))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(SECONDS)
    return outcome[0] if outcome else None


def _first_error(err: str) -> str:
    return next((line for line in err.splitlines() if line.startswith("error: ")), "")


@pytest.mark.parametrize("words, option", [(w, o) for _, o, w in OPTIONS], ids=[f"{c} {o}" for c, o, _ in OPTIONS])
def test_every_option_takes_or_refuses_its_extremes_by_name(
    words: list[str], option: str, unreachable: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("PYINSTALL_DATABASE", f"sqlite:///{tmp_path / 'runs.sqlite'}")
    base = [*words, str(unreachable)] if words[0] in INVENTORIED else list(words)
    if words == ["inventory"]:
        base.append("--list")
    if words == ["bundle", "create"]:  # no RPMs: every run of it ends in that error, unless an option is refused
        base += ["--platform", "el7", "--from", str(tmp_path), "-o", str(tmp_path / "b.tar")]
    base += NEEDS.get(option, [])
    assert _run(base) is not None
    baseline = _first_error(capsys.readouterr().err)  # what the command says with no extreme given
    for value in EXTREMES + EXTRA.get(option, []):
        argv = [*base, f"{option}={value}"]
        status = _run(argv)
        captured = capsys.readouterr()
        said = f"{argv}: {captured.err[-600:]}"
        assert status is not None, f"{argv} still running after {SECONDS}s"
        assert not isinstance(status, BaseException), f"{argv} raised {status!r}"
        assert "Traceback" not in captured.err + captured.out, said
        assert status in (ExitStatus.OK, ExitStatus.FAILED, ExitStatus.UNREACHABLE, ExitStatus.USAGE,
                          ExitStatus.ERROR), said  # fmt: skip
        error = _first_error(captured.err)
        if status in (ExitStatus.USAGE, ExitStatus.ERROR) and error != baseline:
            named = option.lstrip("-").replace("-", "_")
            assert option in error or named in error or (value.strip() and value in error), said
