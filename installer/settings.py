"""Settings an operator does not want to repeat on every command line, found the way Ansible finds its
own: the command line first, then the environment (pyinstall's variable, then Ansible's), then the
first config file found, then the built-in default. Config files are INI in Ansible's sections, with
Ansible's keys where Ansible keeps them; the first found is used, searched in this order:
$PYINSTALL_CONFIG, ./pyinstall.cfg, ~/.pyinstall.cfg, /etc/pyinstall/pyinstall.cfg, then Ansible's own
($ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg).

    argparse values (None: not given) ─▶ resolve() ─▶ {name: Value(value, source)} ─▶ the command
                                                        └▶ variables(): defaults of inventory variables

A setting that stands for an inventory variable (remote_user for ansible_user, ssh_args for
ansible_ssh_args...) is that variable's default: the inventory beats the environment and the config file,
the command line beats the inventory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from installer.errors import UsageError
from installer.truth import boolean
from installer.vocabulary import CONNECT_TIMEOUT, FORKS, FORKS_MAX, TIMEOUT_MAX

CONFIG_ENV = "PYINSTALL_CONFIG"
ANSIBLE_CONFIG_ENV = "ANSIBLE_CONFIG"
SEARCH = ("./pyinstall.cfg", "~/.pyinstall.cfg", "/etc/pyinstall/pyinstall.cfg")
ANSIBLE_SEARCH = ("./ansible.cfg", "~/.ansible.cfg", "/etc/ansible/ansible.cfg")
DEFAULTS, BECOME, SSH, INVENTORY = "defaults", "privilege_escalation", "ssh_connection", "inventory"
SECTIONS = (DEFAULTS, BECOME, SSH, INVENTORY)
# Where pyinstall.cfg once kept these (Ansible never read them there): still read, with a warning.
MOVED = {"become": BECOME, "become_user": BECOME}


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


def seconds(text: str) -> float:
    """A timeout as every source gives it (option, environment, config file, ansible_timeout)."""
    return _bounded(float, TIMEOUT_MAX)(text)


def _paths(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


@dataclass(frozen=True)
class Setting:
    name: str  # the config key, as in Ansible's section
    section: str
    dest: str  # the argparse destination it fills
    env: tuple[str, ...]  # pyinstall's variable first, then Ansible's
    parse: Callable[[str], Any]
    default: Any
    help: str
    variable: str | None = None  # the inventory variable it is a default of
    ansible: str = ""  # its name in `ansible-config dump` (ssh_connection's: the ssh plugin's option)
    path: bool = False  # relative paths are the config file's directory's, as Ansible resolves them


def _port(text: str) -> int:
    if not text.strip().isascii() or not text.strip().isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{text!r} is not a TCP port")
    return int(text)


def _retries(text: str) -> int:
    if not text.strip().isascii() or not text.strip().isdigit() or int(text) > 10:
        raise ValueError(f"{text!r} is not a whole number from 0 to 10")
    return int(text)


SETTINGS = (
    Setting("inventory", DEFAULTS, "inventory_opt", ("PYINSTALL_INVENTORY", "ANSIBLE_INVENTORY"), _paths, [],
            "inventory files or directories, comma-separated", ansible="DEFAULT_HOST_LIST", path=True),
    Setting("forks", DEFAULTS, "forks", ("PYINSTALL_FORKS", "ANSIBLE_FORKS"), _bounded(int, FORKS_MAX), FORKS,
            "hosts at once", ansible="DEFAULT_FORKS"),
    Setting("remote_user", DEFAULTS, "user", ("PYINSTALL_REMOTE_USER", "ANSIBLE_REMOTE_USER"), str, None,
            "SSH user (else ansible_user, ~/.ssh/config, then yours)", "ansible_user", "DEFAULT_REMOTE_USER"),
    Setting("remote_port", DEFAULTS, "remote_port", ("PYINSTALL_REMOTE_PORT", "ANSIBLE_REMOTE_PORT"), _port, None,
            "SSH port (else ansible_port, ~/.ssh/config, then 22)", "ansible_port", "DEFAULT_REMOTE_PORT"),
    Setting("private_key_file", DEFAULTS, "key_file", ("PYINSTALL_PRIVATE_KEY_FILE", "ANSIBLE_PRIVATE_KEY_FILE"),
            str, None, "SSH private key", "ansible_ssh_private_key_file", "DEFAULT_PRIVATE_KEY_FILE", path=True),
    Setting("timeout", DEFAULTS, "timeout", ("PYINSTALL_TIMEOUT", "ANSIBLE_TIMEOUT"), seconds, CONNECT_TIMEOUT,
            "connect timeout, seconds", "ansible_timeout", "DEFAULT_TIMEOUT"),
    Setting("transport", DEFAULTS, "transport", ("PYINSTALL_TRANSPORT", "ANSIBLE_TRANSPORT"), str, None,
            "connection type: ssh, paramiko or smart", "ansible_connection", "DEFAULT_TRANSPORT"),
    Setting("host_key_checking", DEFAULTS, "host_key_checking", ("PYINSTALL_HOST_KEY_CHECKING",
            "ANSIBLE_HOST_KEY_CHECKING"), _bool, True,
            "false: record unknown host keys (accept-new); a changed key is refused all the same",
            "ansible_host_key_checking", "HOST_KEY_CHECKING"),
    Setting("ask_pass", DEFAULTS, "ask_pass", ("PYINSTALL_ASK_PASS", "ANSIBLE_ASK_PASS"), _bool, False,
            "ask for the SSH password", ansible="DEFAULT_ASK_PASS"),
    Setting("become", BECOME, "become", ("PYINSTALL_BECOME", "ANSIBLE_BECOME"), _bool, None,
            "become another user (sudo or su)", "ansible_become", "DEFAULT_BECOME"),
    Setting("become_user", BECOME, "become_user", ("PYINSTALL_BECOME_USER", "ANSIBLE_BECOME_USER"), str, None,
            "the user to become", "ansible_become_user", "DEFAULT_BECOME_USER"),
    Setting("become_method", BECOME, "become_method", ("PYINSTALL_BECOME_METHOD", "ANSIBLE_BECOME_METHOD"), str,
            None, "sudo or su", "ansible_become_method", "DEFAULT_BECOME_METHOD"),
    Setting("become_exe", BECOME, "become_exe", ("PYINSTALL_BECOME_EXE", "ANSIBLE_BECOME_EXE"), str, None,
            "the sudo or su program", "ansible_become_exe", "DEFAULT_BECOME_EXE"),
    Setting("become_flags", BECOME, "become_flags", ("PYINSTALL_BECOME_FLAGS", "ANSIBLE_BECOME_FLAGS"), str, None,
            "refused unless Ansible's default: pyinstall runs sudo and su its own way", "ansible_become_flags",
            "DEFAULT_BECOME_FLAGS"),
    Setting("become_ask_pass", BECOME, "ask_become_pass", ("PYINSTALL_BECOME_ASK_PASS", "ANSIBLE_BECOME_ASK_PASS"),
            _bool, False, "ask for the become password", ansible="DEFAULT_BECOME_ASK_PASS"),
    Setting("ssh_args", SSH, "ssh_args", ("PYINSTALL_SSH_ARGS", "ANSIBLE_SSH_ARGS"), str, None,
            "ssh options (ProxyCommand, ProxyJump...)", "ansible_ssh_args", "ssh_args"),
    Setting("ssh_common_args", SSH, "ssh_common_args", ("PYINSTALL_SSH_COMMON_ARGS", "ANSIBLE_SSH_COMMON_ARGS"), str,
            None, "more ssh options", "ansible_ssh_common_args", "ssh_common_args"),
    Setting("ssh_extra_args", SSH, "ssh_extra_args", ("PYINSTALL_SSH_EXTRA_ARGS", "ANSIBLE_SSH_EXTRA_ARGS"), str,
            None, "more ssh options", "ansible_ssh_extra_args", "ssh_extra_args"),
    Setting("retries", SSH, "retries", ("PYINSTALL_SSH_RETRIES", "ANSIBLE_SSH_RETRIES"), _retries, None,
            "connection attempts after the first", "ansible_ssh_retries", "reconnection_retries"),
    Setting("log_path", DEFAULTS, "log_file", ("PYINSTALL_LOG_FILE", "ANSIBLE_LOG_PATH"), str, None, "the debug log",
            ansible="DEFAULT_LOG_PATH", path=True),
    Setting("retry_files_enabled", DEFAULTS, "retry_files_enabled", ("PYINSTALL_RETRY_FILES_ENABLED",
            "ANSIBLE_RETRY_FILES_ENABLED"), _bool, True, "provision writes the hosts to retry to a file",
            ansible="RETRY_FILES_ENABLED"),
    Setting("vault_password_file", DEFAULTS, "vault_password_files", ("PYINSTALL_VAULT_PASSWORD_FILE",
            "ANSIBLE_VAULT_PASSWORD_FILE"), _paths, [], "files (or scripts) giving the vault password",
            ansible="DEFAULT_VAULT_PASSWORD_FILE", path=True),
    Setting("vault_identity_list", DEFAULTS, "vault_identity_list", ("PYINSTALL_VAULT_IDENTITY_LIST",
            "ANSIBLE_VAULT_IDENTITY_LIST"), _paths, [], "LABEL@SOURCE vault ids, before --vault-id's",
            ansible="DEFAULT_VAULT_IDENTITY_LIST"),
    Setting("database", DEFAULTS, "database", ("PYINSTALL_DATABASE",), str, None,
            "where runs are kept (else SQLite in the state directory)"),
    Setting("keep_runs", DEFAULTS, "keep_runs", ("PYINSTALL_KEEP_RUNS",), _bounded(float, 36500), None,
            "days a run is kept: older ones are forgotten as each run ends (else every run is kept)"),
)  # fmt: skip
BY_NAME = {s.name: s for s in SETTINGS}
BY_KEY = {(s.section, s.name): s for s in SETTINGS}


COMMAND_LINE = "command line"


@dataclass(frozen=True)
class Value:
    value: Any
    source: str  # COMMAND_LINE, "env PYINSTALL_FORKS", "/etc/pyinstall/pyinstall.cfg:3", "default"


def config_file(environ: Mapping[str, str] = os.environ, ignored: list[str] | None = None) -> Path | None:
    """The config file in use: $PYINSTALL_CONFIG if set (it must exist), else the first one found, in the
    search order, that no other user could have written; each one passed over is said in ``ignored``."""
    from installer.localfiles import untrusted_config

    given = environ.get(CONFIG_ENV)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise UsageError(f"{CONFIG_ENV}={given}: no such file", "unset it, or point it at a config file")
        return path.resolve()
    candidates = list(SEARCH)
    ansible = environ.get(ANSIBLE_CONFIG_ENV)
    if ansible:
        path = Path(ansible).expanduser()
        path = path / "ansible.cfg" if path.is_dir() else path
        if path.is_file():
            candidates.append(str(path))
        elif ignored is not None:
            ignored.append(f"{ANSIBLE_CONFIG_ENV}={ansible}: no such file, passed over (as Ansible passes it over)")
    candidates += ANSIBLE_SEARCH
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if path.is_file():
            why = untrusted_config(path)
            if why is None:
                return path.resolve()
            if ignored is not None:
                ignored.append(f"{path.resolve()} ignored: {why} (set {CONFIG_ENV} to use it anyway)")
    return None


@dataclass
class Config:
    """A config file as pyinstall reads it: the values of the settings it sets, with their lines, and the
    keys it holds that pyinstall does not use (`pyinstall config -v` lists them)."""

    path: Path
    values: dict[str, tuple[str, int]] = field(default_factory=dict)  # setting -> (raw value, line)
    unused: list[str] = field(default_factory=list)  # "[section] key (line N)"
    warnings: list[str] = field(default_factory=list)


def read_config(path: Path) -> Config:
    """A config file: Ansible's sections and keys. A key near one pyinstall reads is a typo, refused with
    the nearest name; any other key is Ansible's business, listed as unused."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}",
                         f"fix its permissions, or set {CONFIG_ENV}") from None  # fmt: skip
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})", "save it as UTF-8") from None
    import configparser

    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"), strict=False)
    try:
        parser.read_string(text, str(path))
    except configparser.Error as exc:
        raise UsageError(f"{path}: {exc.message.splitlines()[0]}", "write [defaults] then key = value lines") from None
    lines: dict[tuple[str, str], int] = {}
    section_lines: dict[str, int] = {}
    section = None
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            section_lines.setdefault(section, number)
        elif section and "=" in stripped and not stripped.startswith(("#", ";")) and not raw[:1].isspace():
            lines.setdefault((section, stripped.split("=", 1)[0].strip().lower()), number)
    config = Config(path)
    for name in parser.sections():
        if name not in SECTIONS:
            line = section_lines.get(name, "?")
            _unknown(config, f"[{name}]", name, SECTIONS, f"{path}:{line}: unknown section [{name}]",
                     f"[{name}] (line {line}): not a section pyinstall reads")  # fmt: skip
            continue
        for key, value in parser[name].items():
            line = lines.get((name, key), 0)
            setting = BY_KEY.get((name, key))
            if setting is None and name == DEFAULTS and key in MOVED:
                setting = BY_KEY[(MOVED[key], key)]
                config.warnings.append(f"{path}:{line}: {key} belongs in [{MOVED[key]}] (Ansible reads it there "
                                       f"only); read from [defaults] for now")  # fmt: skip
            if setting is None:
                known = [k for (sect, k) in BY_KEY if sect == name]
                _unknown(config, key, key, known, f"{path}:{line}: unknown setting {key!r} in [{name}]",
                         f"[{name}] {key} (line {line}): not a setting pyinstall uses")  # fmt: skip
                continue
            config.values[setting.name] = (value, line)
    return config


def _unknown(config: Config, shown: str, name: str, known: Iterable[str], refusal: str, note: str) -> None:
    """A section or key pyinstall does not read: near one it reads, a typo (refused with the nearest);
    otherwise Ansible's business, noted as unused."""
    import difflib

    close = difflib.get_close_matches(name, list(known), 1, 0.8)
    if close:
        raise UsageError(refusal, f"did you mean {shown.replace(name, close[0])}?")
    config.unused.append(note)


def resolve(
    given: Mapping[str, Any], environ: Mapping[str, str] = os.environ, ignored: list[str] | None = None
) -> dict[str, Value]:
    """Every setting's effective value and where it came from. ``given``: argparse's values by
    destination, None (or an empty list) where the command line said nothing; ``ignored``: see
    config_file (and the config file's own warnings)."""
    path = config_file(environ, ignored)
    config = read_config(path) if path else None
    if config and ignored is not None:
        ignored.extend(config.warnings)
    out = {}
    for s in SETTINGS:
        cli = given.get(s.dest)
        if cli not in (None, []):
            out[s.name] = Value(cli, COMMAND_LINE)
            continue
        env = next((v for v in s.env if environ.get(v)), None)
        if env is not None:
            out[s.name] = Value(_parsed(s, environ[env], f"{env}"), f"env {env}")
        elif config and s.name in config.values:
            raw, line = config.values[s.name]
            where = f"{config.path}:{line}"
            value = _parsed(s, raw, where)
            out[s.name] = Value(_relative(value, config.path.parent) if s.path else value, where)
        else:
            out[s.name] = Value(s.default, "default")
    return out


def _relative(value: Any, base: Path) -> Any:
    """A config file's relative path, taken from the file's directory, as Ansible takes it."""
    if isinstance(value, list):
        return [_relative(v, base) for v in value]
    if isinstance(value, str) and value and not value.startswith(("/", "~")) and "," not in value:
        return str(base / value)
    return value


def variables(resolved: Mapping[str, Value]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The inventory variables the settings stand for: (defaults, from the environment or a config file;
    overrides, from the command line; where each was set)."""
    defaults, overrides, origins = {}, {}, {}
    for s in SETTINGS:
        value = resolved[s.name]
        if s.variable is None or value.source == "default" or value.value is None:
            continue
        (overrides if value.source == COMMAND_LINE else defaults)[s.variable] = value.value
        origins[s.variable] = value.source
    return defaults, overrides, origins


def _parsed(s: Setting, raw: str, where: str) -> Any:
    try:
        return s.parse(raw)
    except ValueError as exc:
        raise UsageError(f"{where}: {s.name}: {exc}", s.help) from None
