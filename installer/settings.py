"""Settings an operator does not want to repeat on every command line, found the way Ansible finds its
own: the command line first, then the environment (pyinstall's variable, then Ansible's), then the
first config file found, then the built-in default. Config files are INI with Ansible's ``[defaults]``
keys, searched in Ansible's order: $PYINSTALL_CONFIG, ./pyinstall.cfg, ~/.pyinstall.cfg,
/etc/pyinstall/pyinstall.cfg.

    argparse values (None: not given) ─▶ resolve() ─▶ {name: Value(value, source)} ─▶ the command
"""

from __future__ import annotations

import configparser
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer.errors import UsageError
from installer.truth import boolean

CONNECT_TIMEOUT = 10.0  # seconds: TCP connect, SSH banner and authentication, each
FORKS = 20  # hosts worked on at once, unless --forks or the config file says otherwise
FORKS_MAX = 1000  # a thread and an SSH session each: beyond this the controller runs out of descriptors
TIMEOUT_MAX = 3600.0  # seconds: a connect timeout longer than an hour is a typo
CONFIG_ENV = "PYINSTALL_CONFIG"
SEARCH = ("./pyinstall.cfg", "~/.pyinstall.cfg", "/etc/pyinstall/pyinstall.cfg")
SECTION = "defaults"


def _bool(text: str) -> bool:
    """Ansible's booleans (installer.truth), as ansible.cfg and ANSIBLE_* take them."""
    parsed = boolean(text)
    if parsed is None:
        raise ValueError(f"{text!r} is not true or false")
    return parsed


def _bounded(kind: type, high: float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except OverflowError:
            raise ValueError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not 0 < value <= high:
            raise ValueError(f"{text!r} is out of range: above 0, at most {high:g}")
        return value

    return parse


def _paths(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


@dataclass(frozen=True)
class Setting:
    name: str  # the config key, as in Ansible's [defaults]
    dest: str  # the argparse destination it fills
    env: tuple[str, ...]  # pyinstall's variable first, then Ansible's
    parse: Callable[[str], Any]
    default: Any
    help: str


SETTINGS = (
    Setting("inventory", "inventory_opt", ("PYINSTALL_INVENTORY", "ANSIBLE_INVENTORY"), _paths, [],
            "inventory files or directories, comma-separated"),
    Setting("forks", "forks", ("PYINSTALL_FORKS", "ANSIBLE_FORKS"), _bounded(int, FORKS_MAX), FORKS, "hosts at once"),
    Setting("remote_user", "user", ("PYINSTALL_REMOTE_USER", "ANSIBLE_REMOTE_USER"), str, None,
            "SSH user (else ansible_user, ~/.ssh/config, then yours)"),
    Setting("private_key_file", "key_file", ("PYINSTALL_PRIVATE_KEY_FILE", "ANSIBLE_PRIVATE_KEY_FILE"), str, None,
            "SSH private key"),
    Setting("timeout", "timeout", ("PYINSTALL_TIMEOUT", "ANSIBLE_TIMEOUT"), _bounded(float, TIMEOUT_MAX),
            CONNECT_TIMEOUT,
            "connect timeout, seconds"),
    Setting("host_key_checking", "host_key_checking", ("PYINSTALL_HOST_KEY_CHECKING", "ANSIBLE_HOST_KEY_CHECKING"),
            _bool, True, "false: record unknown host keys (accept-new); a changed key is refused all the same"),
    Setting("become", "become", ("PYINSTALL_BECOME", "ANSIBLE_BECOME"), _bool, None, "run as root through sudo"),
    Setting("become_user", "become_user", ("PYINSTALL_BECOME_USER", "ANSIBLE_BECOME_USER"), str, None,
            "the user sudo runs as"),
    Setting("log_path", "log_file", ("PYINSTALL_LOG_FILE", "ANSIBLE_LOG_PATH"), str, None, "the debug log"),
    Setting("retry_files_enabled", "retry_files_enabled", ("PYINSTALL_RETRY_FILES_ENABLED",
            "ANSIBLE_RETRY_FILES_ENABLED"), _bool, True, "provision writes the hosts to retry to a file"),
    Setting("vault_password_file", "vault_password_files", ("PYINSTALL_VAULT_PASSWORD_FILE",
            "ANSIBLE_VAULT_PASSWORD_FILE"), _paths, [], "files (or scripts) giving the vault password"),
    Setting("vault_identity_list", "vault_identity_list", ("PYINSTALL_VAULT_IDENTITY_LIST",
            "ANSIBLE_VAULT_IDENTITY_LIST"), _paths, [], "LABEL@SOURCE vault ids, before --vault-id's"),
    Setting("database", "database", ("PYINSTALL_DATABASE",), str, None,
            "where runs are kept (else SQLite in the state directory)"),
)  # fmt: skip
BY_NAME = {s.name: s for s in SETTINGS}


COMMAND_LINE = "command line"


@dataclass(frozen=True)
class Value:
    value: Any
    source: str  # COMMAND_LINE, "env PYINSTALL_FORKS", "/etc/pyinstall/pyinstall.cfg:3", "default"


def config_file(environ: Mapping[str, str] = os.environ, ignored: list[str] | None = None) -> Path | None:
    """The config file in use: $PYINSTALL_CONFIG if set (it must exist), else the first one found that no
    other user could have written; each one passed over for that is said in ``ignored``."""
    from installer.localfiles import untrusted_config

    given = environ.get(CONFIG_ENV)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise UsageError(f"{CONFIG_ENV}={given}: no such file", "unset it, or point it at a config file")
        return path.resolve()
    for candidate in SEARCH:
        path = Path(candidate).expanduser()
        if path.is_file():
            why = untrusted_config(path)
            if why is None:
                return path.resolve()
            if ignored is not None:
                ignored.append(f"{path.resolve()} ignored: {why} (set {CONFIG_ENV} to use it anyway)")
    return None


def read_config(path: Path) -> dict[str, tuple[str, int]]:
    """``[defaults]`` of a config file: key -> (raw value, line). Unknown keys and sections are refused:
    a typo must not silently change nothing."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}",
                         f"fix its permissions, or set {CONFIG_ENV}") from None  # fmt: skip
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})", "save it as UTF-8") from None
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    try:
        parser.read_string(text, str(path))
    except configparser.Error as exc:
        raise UsageError(f"{path}: {exc.message.splitlines()[0]}", "write [defaults] then key = value lines") from None
    lines = {}
    section = None
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            if section != SECTION:
                raise UsageError(f"{path}:{number}: unknown section [{section}]", f"pyinstall reads [{SECTION}] only")
        elif section == SECTION and "=" in stripped and not stripped.startswith(("#", ";")):
            lines[stripped.split("=", 1)[0].strip().lower()] = number
    out = {}
    for key, value in parser[SECTION].items() if parser.has_section(SECTION) else ():
        if key not in BY_NAME:
            known = ", ".join(BY_NAME)
            raise UsageError(f"{path}:{lines.get(key, '?')}: unknown setting {key!r}", f"known settings: {known}")
        out[key] = (value, lines.get(key, 0))
    return out


def resolve(
    given: Mapping[str, Any], environ: Mapping[str, str] = os.environ, ignored: list[str] | None = None
) -> dict[str, Value]:
    """Every setting's effective value and where it came from. ``given``: argparse's values by
    destination, None (or an empty list) where the command line said nothing; ``ignored``: see
    config_file."""
    path = config_file(environ, ignored)
    config = read_config(path) if path else {}
    out = {}
    for s in SETTINGS:
        cli = given.get(s.dest)
        if cli not in (None, []):
            out[s.name] = Value(cli, COMMAND_LINE)
            continue
        env = next((v for v in s.env if environ.get(v)), None)
        if env is not None:
            out[s.name] = Value(_parsed(s, environ[env], f"{env}"), f"env {env}")
        elif s.name in config:
            raw, line = config[s.name]
            where = f"{path}:{line}"
            out[s.name] = Value(_parsed(s, raw, where), where)
        else:
            out[s.name] = Value(s.default, "default")
    return out


def _parsed(s: Setting, raw: str, where: str) -> Any:
    try:
        return s.parse(raw)
    except ValueError as exc:
        raise UsageError(f"{where}: {s.name}: {exc}", s.help) from None
