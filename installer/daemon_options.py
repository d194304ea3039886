"""dockerd's options: the schema (runtime/daemon.yml), the secure defaults, and the two ways they are
written (daemon.json, or `docker -d` flags in EL6's other_args).

    docker_daemon_options ─▶ problem() per key (asked.py) ─▶ merged() with the defaults, for a version
                          ─▶ daemon.json as is, or to_flags()
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from dataclasses import dataclass
from functools import cache
from typing import Any

from installer.platforms import RUNTIME_DIR, definition
from installer.versions import evr_compare

# other_args is word-split by the init script: a flag's value may hold none of these.
_SAFE_FLAG_VALUE = re.compile(r"^[^\s'\"\\`$]*$")
_TYPES = {
    "bool": "true or false",
    "int": "a whole number",
    "string": "a string",
    "list": "a list of strings",
    "map": "a mapping of strings to strings",
    "object": "JSON",
}


@dataclass(frozen=True)
class OptionSpec:
    key: str
    type: str
    since: str | None = None  # None: every Docker pyinstall installs has it
    flag: str | None = None
    managed: str | None = None  # the variable that sets it instead
    choices: tuple[str, ...] | None = None  # the only values dockerd accepts

    @property
    def flag_name(self) -> str:
        return self.flag or f"--{self.key}"


def _spec() -> dict[str, Any]:
    return definition(RUNTIME_DIR / "daemon.yml")


@cache
def schema() -> dict[str, OptionSpec]:
    return {
        key: OptionSpec(key, **{**fields, "choices": tuple(fields["choices"]) if "choices" in fields else None})
        for key, fields in _spec()["options"].items()
    }


@cache
def by_flag() -> dict[str, str]:
    """Flag name (without --) -> its daemon.json key: storage-opt -> storage-opts."""
    return {spec.flag_name.lstrip("-"): key for key, spec in schema().items()}


def keys_in_flags(text: str) -> list[tuple[str, str]]:
    """(flag, key) of every --flag in a command line or config file text."""
    return [(flag, by_flag().get(flag, flag)) for flag in re.findall(r"--([a-z][a-z0-9-]+)", text)]


def without_flags(words: str, keys: set[str]) -> str:
    """A command line with every flag that sets one of ``keys`` (daemon.json keys) taken out, its value
    too: ``--log-driver=journald`` and ``--log-driver journald`` alike (a bool flag takes no value)."""
    kept: list[str] = []
    split = shlex.split(words)
    i = 0
    while i < len(split):
        word = split[i]
        i += 1
        if not word.startswith("--"):
            kept.append(word)
            continue
        flag, eq, _ = word[2:].partition("=")
        key = by_flag().get(flag, flag)
        takes_value = not eq and key in schema() and schema()[key].type != "bool"
        if key in keys:
            i += takes_value
            continue
        kept.append(word)
        if takes_value and i < len(split):
            kept.append(split[i])
            i += 1
    return shlex.join(kept)


def read_environment(text: str) -> dict[str, str]:
    """An environment file's ``NAME=value`` lines, unquoted as the shell would (systemd reads the same);
    lines that are not assignments (comments, shell statements) are not options."""
    found = {}
    for name, value in re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", text, re.M):
        try:
            found[name] = " ".join(shlex.split(value))
        except ValueError:
            found[name] = value
    return found


def read_config(text: str, style: str) -> dict[str, Any] | None:
    """The daemon options a managed configuration file holds, as written: daemon.json's object (``json``),
    or EL6's other_args flags, ``{flag: [values, sorted]}`` (``flags``); None when it is not one."""
    if style == "json":
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
    match = re.search(r"^other_args=(.*)$", text, re.M)
    if not match:
        return None
    try:
        (value,) = shlex.split(match[1]) or [""]
        words = shlex.split(value)
    except ValueError:
        return None
    flags: dict[str, list[str]] = {}
    last = None
    for word in words:
        if word.startswith("--"):
            last, _, inline = word[2:].partition("=")
            flags.setdefault(last, [])
            if inline:
                flags[last].append(inline)
        elif last is not None:
            flags[last].append(word)
    return {k: sorted(v) for k, v in flags.items()}


def config_keys(options: dict[str, Any], style: str) -> set[str]:
    """The daemon.json keys read_config's options set (a flag names its key: storage-opt is storage-opts)."""
    return set(options) if style == "json" else {by_flag().get(flag, flag) for flag in options}


def defaults() -> dict[str, Any]:
    return dict(_spec()["defaults"])


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _one_line(value: Any) -> bool:
    return isinstance(value, str) and value.isprintable()


def problem(key: Any, value: Any) -> tuple[str, str] | None:
    """What is wrong with one docker_daemon_options entry, as (message, hint); None when it is fine.
    ``None`` as a value is always fine: it drops a default."""
    spec = schema().get(key) if isinstance(key, str) else None
    if spec is None:
        near = difflib.get_close_matches(str(key), list(schema()), n=1, cutoff=0.6)
        if near:
            return f"unknown daemon option {key!r}: did you mean {near[0]}?", f"write {near[0]}"
        return f"unknown daemon option {key!r}", "see dockerd's daemon.json reference; runtime/daemon.yml lists them"
    if spec.managed:
        return f"{key} is set by the variable {spec.managed}", f"set {spec.managed} instead"
    if value is None:
        return None
    kind = spec.type
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "string": _one_line(value),
        "list": isinstance(value, list) and all(_one_line(v) for v in value),
        "map": isinstance(value, dict) and all(_one_line(k) and _one_line(v) for k, v in value.items()),
        "object": _is_json(value),
    }[kind]
    if ok and spec.choices and value not in spec.choices:
        return (
            f"{key} must be one of {', '.join(spec.choices)}, got {value!r}",
            f"choose one of {', '.join(spec.choices)}",
        )
    if ok:
        return None
    if kind == "map":
        return f"{key} must map strings to strings (dockerd refuses numbers there: quote them), got {value!r}", (
            "e.g. log-opts: {max-size: '10m', max-file: '3'}"
        )
    return f"{key} must be {_TYPES[kind]}, got {value!r}", f"give {_TYPES[kind]}"


def too_new(options: dict[str, Any], version: str) -> list[tuple[str, str]]:
    """(key, since) of every option the given Docker version does not have yet."""
    specs = schema()
    return [
        (key, specs[key].since)  # type: ignore[misc]
        for key in options
        if key in specs and specs[key].since and evr_compare(version, specs[key].since) < 0
    ]


def merged(asked: dict[str, Any], version: str, driver: str, storage_options: tuple[str, ...]) -> dict[str, Any]:
    """The defaults this Docker version has < docker_daemon_options (None drops a default) < the storage
    variables. Options the version lacks are not dropped here: preflight refuses them (DAEMON_OPTION)."""
    lacking = {key for key, _ in too_new(defaults(), version)}
    options = {k: v for k, v in defaults().items() if k not in lacking}
    for key, value in asked.items():
        if value is None:
            options.pop(key, None)
        else:
            options[key] = value
    options["storage-driver"] = driver
    if storage_options:
        options["storage-opts"] = list(storage_options)
    return options


def flag_problems(options: dict[str, Any]) -> list[str]:
    """The options that cannot be written as `docker -d` flags (EL6's other_args), each with why."""
    specs = schema()
    problems = []
    for key, value in options.items():
        if specs[key].type == "object":
            problems.append(f"{key} has no command-line form in Docker 1.x")
            continue
        bad = [item for item in _flag_values(value) if not _SAFE_FLAG_VALUE.match(item)]
        if bad:
            problems.append(f"{key}={bad[0]!r} holds spaces, quotes, $ or backslashes")
    return problems


def _flag_values(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [f"{k}={v}" for k, v in value.items()]
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def to_flags(options: dict[str, Any]) -> list[str]:
    """daemon.json options as `docker -d` flags; flag_problems() must be empty (preflight made sure)."""
    problems = flag_problems(options)
    if problems:
        raise ValueError("; ".join(problems))
    specs = schema()
    return [f"{specs[key].flag_name}={item}" for key in sorted(options) for item in _flag_values(options[key])]
