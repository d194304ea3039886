"""README and the command line agree: every command is in README's command summary and every command
there exists; every option a command's -h lists is named in README; every option README names is one of
pyinstall's, or another tool's listed below (a renamed or misspelt option fails here)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from installer.cli.parser import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()

# Options README names that belong to the other tools it shows (dockerd's flags in daemon options, docker
# run, yum, ansible-config, the lab, the benchmarks, the zipapp builder).
FOREIGN = {
    "dockerd": {"--add-runtime", "--default-runtime", "--exec-opt", "--init-path", "--log-driver", "--seccomp-profile",
                "--selinux-enabled", "--signature-verification", "--userland-proxy-path"},
    "docker run": {"--group-add", "--network", "--rm"},
    "yum": {"--downloadonly"},
    "dnf": {"--allowerasing"},
    "ansible-config": {"--only-changed"},
    "python -m tests.lab": {"--hosts", "--root", "--purge", "--noisy"},
    "python -m bench.*": {"--mb", "--repeat"},
    "python -m image.zipapp": {"--python"},
}  # fmt: skip


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[str, list[argparse.Action]]:
    """Each command's name ("" for pyinstall itself, "runs show") and its options."""
    found: dict[str, list[argparse.Action]] = {" ".join(path): []}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_commands(sub, (*path, name)))
        elif action.option_strings:
            found[" ".join(path)].append(action)
    return found


COMMANDS = _commands(build_parser())
OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")


def _summary() -> list[str]:
    """The lines of README's command summary: the first code block under "## Commands"."""
    section = README.split("\n## Commands\n", 1)[1]
    block = section.split("```\n", 2)[1]
    return [line for line in block.splitlines() if line.startswith("pyinstall ")]


def _named(line: str) -> str:
    """The command a summary line shows: its longest prefix that is a command."""
    words = line.split()[1:]
    for n in (2, 1):
        if " ".join(words[:n]) in COMMANDS:
            return " ".join(words[:n])
    raise AssertionError(f"README names a command pyinstall does not have: {line!r}")


def test_every_command_is_in_the_summary_and_every_summary_line_is_a_command() -> None:
    shown = {_named(line) for line in _summary()}
    top = {name.split()[0] for name in COMMANDS if name}
    assert top <= {name.split()[0] for name in shown}, sorted(top - {n.split()[0] for n in shown})


def test_the_summarys_options_are_each_commands_own() -> None:
    for line in _summary():
        command = _named(line).split()
        # Its own options, its parents' (pyinstall's), and its subcommands' where the line shows them.
        related = [" ".join(command[:n]) for n in range(len(command) + 1)]
        related += [
            n for n in COMMANDS if n.startswith(f"{_named(line)} ") and re.search(rf"\b{n.split()[-1]}\b", line)
        ]
        own = {o for name in related for a in COMMANDS[name] for o in a.option_strings}
        named = {re.sub(r"^-(\w)\1+$", r"-\1", o) for o in OPTION.findall(line.split("#", 1)[0])}  # -vv: -v twice
        assert named <= own, (line, sorted(named - own))


def test_every_option_of_every_command_is_named_in_readme() -> None:
    mentioned = set(OPTION.findall(README))
    missing = {
        f"{name or 'pyinstall'}: {'/'.join(action.option_strings)}"
        for name, actions in COMMANDS.items()
        for action in actions
        if action.help != argparse.SUPPRESS and not set(action.option_strings) & mentioned
    }
    assert not missing, sorted(missing)


def test_every_option_readme_names_is_pyinstalls_or_another_tools() -> None:
    ours = {o for actions in COMMANDS.values() for a in actions for o in a.option_strings if o.startswith("--")}
    foreign = set().union(*FOREIGN.values())
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", README))
    assert named - ours <= foreign, sorted(named - ours - foreign)
    assert not foreign & ours, "listed as another tool's, but pyinstall has it: " + str(sorted(foreign & ours))
