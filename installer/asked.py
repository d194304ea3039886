"""What is asked of a host: every variable pyinstall reads, parsed and validated once, into one model.

    inventory vars + command-line options ─▶ parse() ─▶ Asked   (or AskedError: variable, host, file:line, hint)

Check, provision and info read only this model, never raw host vars. Values that end up in files or
commands are validated by what they may contain. Whatever depends on the host (its platform, what its
repositories hold) is decided later, by the preflight checks.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from installer import ansible_vars, daemon_options, daytwo, platforms, settings
from installer.errors import UsageError
from installer.outcome import PREFLIGHT_CODES
from installer.truth import boolean

YUM_LOCK_TIMEOUT = 120  # seconds a yum command waits for another yum to finish
MIGRATION_STAGING = "/var/lib/pyinstall/staging"  # where a storage migration keeps the images it saved

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # repository ids, channel names
_RPM_NAME = re.compile(r"^[A-Za-z0-9._+-]+$")
# [epoch:]version[-release], starting with a digit, as every Docker version does.
_VERSION = re.compile(r"^(?:\d+:)?\d[A-Za-z0-9._+~^]*(?:-[A-Za-z0-9._+~^]+)?$")
# URLs, with yum's own variables ($basearch, $releasever, ...) as the only $ allowed.
_URL = re.compile(r"^(https?|ftp|file)://(?:[^\s'\"`$\\]|\$(?:basearch|releasever|arch|infra|contentdir|YUM\d))+$")
_PATH = re.compile(r"^/[^\s'\"`$\\]*$")
_DEVICE = re.compile(r"^/dev/[A-Za-z0-9][A-Za-z0-9/_.:-]*$")
_STORAGE_OPTION = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*=[^\s'\"`$\\]*$")  # dm.basesize=20G

# yum's repository fields that yum_repos may set, by kind of value. id and enabled are pyinstall's.
REPO_FIELDS = {
    "name": "line", "baseurl": "url", "mirrorlist": "url", "metalink": "url", "gpgkey": "url",
    "gpgcheck": "bool", "repo_gpgcheck": "bool", "sslverify": "bool", "skip_if_unavailable": "bool",
    "sslcacert": "path", "sslclientcert": "path", "sslclientkey": "path",
    "proxy": "proxy", "proxy_username": "line", "proxy_password": "secret", "username": "line", "password": "secret",
    "priority": "int", "cost": "int", "timeout": "int", "retries": "int",
    "metadata_expire": "line", "exclude": "line", "includepkgs": "line",
}  # fmt: skip
SECRET_REPO_FIELDS = {k for k, kind in REPO_FIELDS.items() if kind == "secret"}


class AskedError(UsageError):
    """A variable that cannot be used as given: names the variable, the host and where it was set."""

    def __init__(self, variable: str, host: str, where: str, message: str, hint: str = "") -> None:
        self.variable, self.host, self.where = variable, host, where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{variable} (host {host}): {message}", hint)


@dataclass(frozen=True)
class Migration:
    """A change of storage driver over existing data, as the command line asks it: carried out
    (--migrate-storage) instead of refused, running containers stopped first (--stop-containers), what the
    old driver held removed by a later run (--purge-old-storage); the images wait in ``staging``
    (docker_migration_staging) meanwhile."""

    migrate: bool = False
    stop_containers: bool = False
    purge_old: bool = False
    staging: str = MIGRATION_STAGING


@dataclass(frozen=True)
class Asked:
    """What one host is asked to run. None means "the platform's default", decided from its facts."""

    host: str
    package: str | None = None  # docker_package
    channel: str | None = None  # docker_channel
    version: str | None = None  # docker_version
    storage_driver: str | None = None
    storage_options: tuple[str, ...] = ()
    storage_device: str | None = None  # a disk or LV of its own for overlay2's store, formatted only if empty
    daemon_options: dict[str, Any] = field(default_factory=dict)  # None values drop a default
    yum_mirror: str = ""
    yum_repos: dict[str, dict[str, Any]] = field(default_factory=dict)  # repo id -> fields to override
    yum_gpgcheck: bool = True
    yum_lock_timeout: int = YUM_LOCK_TIMEOUT
    ignore: frozenset[str] = frozenset()  # preflight codes turned into warnings, or ALL
    bundles: dict[str, Any] = field(default_factory=dict)  # platform id -> offline Bundle to install from
    migration: Migration = Migration()
    upgrade_to: str | None = None  # check --upgrade-to: the platform an in-place OS upgrade would take it to
    day_two: daytwo.DayTwo = field(
        default_factory=daytwo.DayTwo
    )  # docker_proxy, docker_registries, docker_users, docker_sysctls

    @property
    def cgroup_driver(self) -> str | None:
        """native.cgroupdriver=... from exec-opts, when asked."""
        for opt in self.daemon_options.get("exec-opts") or ():
            if opt.startswith("native.cgroupdriver="):
                return opt.split("=", 1)[1]
        return None

    @property
    def root_dir(self) -> str | None:
        return self.daemon_options.get("data-root") or self.daemon_options.get("graph")


CODES_HINT = f"known codes: {', '.join(PREFLIGHT_CODES)}, or all"


def unknown_codes(codes: Iterable[str]) -> list[str]:
    """Preflight codes no check emits (a typo would ignore nothing); ``all`` is known."""
    return [c for c in codes if c.strip() and c.strip().upper() not in {"ALL", *PREFLIGHT_CODES}]


def split_words(value: str) -> list[str]:
    return [w for w in re.split(r"[,\s]+", value) if w]


def parse(
    host: str,
    hostvars: dict[str, Any],
    origin: Callable[[str], str] = lambda variable: "",
    ignore: Iterable[str] = (),
    bundles: dict[str, Any] | None = None,
    notes: set[str] | None = None,
    migration: Migration = Migration(),
    upgrade_to: str | None = None,
) -> Asked:
    """Every variable of one host, validated. ``origin(variable)`` says where it was set (file:line);
    ``ignore``, ``bundles``, ``migration`` and ``upgrade_to`` come from the command line; ``notes`` receives
    what stops nothing but is worth a word (a variable of another tool's in pyinstall's namespaces)."""
    reader = _Reader(host, hostvars, origin, notes)
    reader.connection()
    asked = Asked(
        host=host,
        package=reader.matching("docker_package", _RPM_NAME, "a package name: letters, digits and . _ + -"),
        channel=reader.matching("docker_channel", _NAME, "a channel name (docker-ce, extras)"),
        version=reader.matching(
            "docker_version", _VERSION, "a version such as 20.10.24 or 20.10.24-3.el7 (a digit first)"
        ),
        storage_driver=reader.choice("docker_storage_driver", tuple(platforms.storage().drivers)),
        storage_options=reader.storage_options(),
        storage_device=reader.matching("docker_storage_device", _DEVICE, "a disk or logical volume under /dev"),
        daemon_options=reader.daemon_options(),
        yum_mirror=(reader.matching("yum_mirror", _URL, "an http(s)://, ftp:// or file:// URL") or "").rstrip("/"),
        yum_repos=reader.yum_repos(),
        yum_gpgcheck=reader.boolean("yum_gpgcheck", True),
        yum_lock_timeout=reader.integer("yum_lock_timeout", YUM_LOCK_TIMEOUT, 0, 86400),
        ignore=reader.codes(ignore),
        bundles=dict(bundles or {}),
        migration=replace(migration, staging=reader.staging()),
        upgrade_to=upgrade_to,
        day_two=reader.day_two(),
    )
    reader.namespaces()
    return asked


class _Reader:
    """Reads one host's variables, each error naming the variable, the host and where it was set."""

    def __init__(
        self, host: str, hostvars: dict[str, Any], origin: Callable[[str], str], notes: set[str] | None = None
    ) -> None:
        self.host, self.vars, self.origin = host, hostvars, origin
        self.notes = notes if notes is not None else set()
        self.read: set[str] = set()  # every variable asked for: pyinstall's own names are these

    def fail(self, variable: str, message: str, hint: str = "") -> AskedError:
        return AskedError(variable, self.host, self.origin(variable), message, hint)

    def get(self, variable: str) -> Any:
        self.read.add(variable)
        value = self.vars.get(variable)
        return None if value == "" else value

    def matching(self, variable: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = self.get(variable)
        if value is None:
            return None
        if isinstance(value, float):  # docker_version=1.10 reads as the number 1.1: its text is lost
            raise self.fail(variable, f"reads as the number {value!r}", f"quote it: {variable}='...'")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not pattern.match(value):
            raise self.fail(variable, f"{_shown(value)} is not {what}", f"give {what}")
        return value

    def choice(self, variable: str, choices: Iterable[str]) -> str | None:
        value = self.get(variable)
        if value is None or value in choices:
            return value
        raise self.fail(
            variable,
            f"{_shown(value)} is not a storage driver pyinstall configures",
            f"choose one of {', '.join(choices)}",
        )

    def boolean(self, variable: str, default: bool) -> bool:
        value = self.get(variable)
        if value is None:
            return default
        parsed = boolean(value)
        if parsed is None:
            raise self.fail(variable, f"{_shown(value)} is not a boolean", "give true or false")
        return parsed

    def integer(self, variable: str, default: int, low: int, high: int, unit: str = "seconds") -> int:
        value = self.get(variable)
        if value is None:
            return default
        number = _integer(value)
        if number is None or not low <= number <= high:
            raise self.fail(
                variable,
                f"{_shown(value)} is not a whole number from {low} to {high}",
                f"give a number of {unit}, e.g. {default}",
            )
        return number

    def words(self, variable: str) -> list[Any]:
        value = self.get(variable)
        if value is None:
            return []
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return value
        raise self.fail(variable, f"{_shown(value)} is neither a list nor a string", "give a list, or words")

    def connection(self) -> None:
        """The connection and privilege variables (connection.target_from_vars reads them, through
        installer.ansible_vars): a value pyinstall cannot act on is refused here, by name."""
        for variable, message, hint in ansible_vars.refusals(self.vars):
            raise self.fail(variable, message, hint)
        for variable in ansible_vars.ALIASES["port"]:
            self.integer(variable, 22, 1, 65535, unit="a TCP port")
        for variable in ansible_vars.ALIASES["timeout"]:
            value = self.get(variable)
            try:
                if value is not None and not isinstance(value, bool):
                    settings.seconds(str(value).strip())
            except ValueError:
                raise self.fail(variable, f"{_shown(value)} is not a number of seconds from 0 to 3600",
                                "e.g. 10") from None  # fmt: skip
        for variable in ("ansible_become", *ansible_vars.ALIASES["host_key_checking"],
                         *ansible_vars.ALIASES["rsa_sha2"]):  # fmt: skip
            self.boolean(variable, False)
        for setting in ("address", "user", "become_user", "key_file", "become_exe", "shell", "connection",
                        "become_method", "proxy_command"):  # fmt: skip
            for variable in ansible_vars.ALIASES[setting]:
                value = self.get(variable)
                if value is not None and not (isinstance(value, (str, int)) and str(value).isprintable()):
                    raise self.fail(variable, f"{_shown(value)} is not one line of text", "give a name or a path")
        known = self.get("pyinstall_known_hosts_file")
        files = known if isinstance(known, list) else [known] if known is not None else []
        if not all(isinstance(f, str) and f.isprintable() for f in files):
            raise self.fail("pyinstall_known_hosts_file", f"{_shown(known)} is not a path or a list of paths",
                            "give the path of a known_hosts file")  # fmt: skip

    def namespaces(self) -> None:
        """A variable named like pyinstall's own that it does not read: a typo, refused with the nearest name
        when there is one (docker_verison); else another tool's (docker_edition), said in a note."""
        for variable, nearest in ansible_vars.unknown(self.vars, self.read):
            if nearest:
                raise self.fail(variable, f"is not a variable pyinstall reads: did you mean {nearest}?",
                                f"write {nearest}")  # fmt: skip
            where = self.origin(variable)
            self.notes.add(f"{where + ': ' if where else ''}{variable} is not a variable pyinstall reads: "
                           "it changes nothing")  # fmt: skip

    def staging(self) -> str:
        path = self.matching("docker_migration_staging", _PATH, "an absolute path without spaces, quotes, $ or "
                             "backslashes") or MIGRATION_STAGING  # fmt: skip
        path = path.rstrip("/") or "/"
        if path in ("/", "/var/lib/docker") or path.startswith("/var/lib/docker/"):
            raise self.fail("docker_migration_staging", f"{path} cannot hold the images while Docker's store moves",
                            f"give a directory outside /var/lib/docker (default {MIGRATION_STAGING})")  # fmt: skip
        return path

    def storage_options(self) -> tuple[str, ...]:
        options = self.words("docker_storage_options")
        for option in options:
            if not isinstance(option, str) or not _STORAGE_OPTION.match(option):
                raise self.fail(
                    "docker_storage_options",
                    f"{_shown(option)} is not a storage option",
                    "give DRIVER.KEY=VALUE words, e.g. dm.thinpooldev=/dev/mapper/docker-thinpool",
                )
        return tuple(options)

    def codes(self, from_options: Iterable[str]) -> frozenset[str]:
        variable = "pyinstall_ignore_preflight_errors"
        value = self.get(variable)
        if value is None:
            words: list[Any] = []
        elif isinstance(value, str):
            words = split_words(value)
        elif isinstance(value, list):
            words = value
        else:
            raise self.fail(variable, f"{_shown(value)} is neither a list nor a string", "give CODE,CODE or all")
        unknown = unknown_codes(str(w) for w in words)
        if unknown:
            raise self.fail(variable, f"unknown check code {_shown(unknown[0])}", CODES_HINT)
        return frozenset(str(c).strip().upper() for c in [*words, *from_options] if str(c).strip())

    def daemon_options(self) -> dict[str, Any]:
        variable = "docker_daemon_options"
        value = self.get(variable)
        if value is None:
            return {}
        if isinstance(value, str):  # JSON in an INI line (true/false/null are not Python literals)
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if not isinstance(value, dict):
            raise self.fail(
                variable,
                f"{_shown(value)} is not a mapping",
                "give daemon.json's keys: {'log-level': 'warn', 'icc': null}",
            )
        for key, option in value.items():
            wrong = daemon_options.problem(key, option)
            if wrong:
                raise self.fail(variable, *wrong)
        merged = {**daemon_options.defaults(), **value}
        if merged.get("icc") is False and merged.get("iptables") is False:
            raise self.fail(
                variable,
                "icc: false and iptables: false cannot go together (dockerd refuses to start)",
                "drop the icc default with icc: null, or keep iptables on",
            )
        tcp = [h for h in value.get("hosts") or () if not h.startswith(("unix://", "fd://"))]
        if tcp and not value.get("tlsverify"):
            raise self.fail(
                variable,
                f"hosts {', '.join(tcp)} would expose the Docker API without TLS",
                "set tlsverify: true with tlscacert, tlscert and tlskey, or listen on unix:// only",
            )
        return dict(value)

    def day_two(self) -> daytwo.DayTwo:
        read = {
            "docker_proxy": daytwo.read_proxy,
            "docker_registries": daytwo.read_registries,
            "docker_registry_auth": daytwo.read_logins,
            "docker_users": daytwo.read_users,
            "docker_sysctls": daytwo.read_sysctls,
        }
        values = {}
        for variable, reader in read.items():
            try:
                values[variable] = reader(self.get(variable))
            except daytwo.Problem as problem:
                raise self.fail(variable, problem.message, problem.hint) from None
        return daytwo.DayTwo(
            proxy=values["docker_proxy"],
            registries=values["docker_registries"],
            logins=values["docker_registry_auth"],
            users=values["docker_users"],
            sysctls=values["docker_sysctls"],
        )

    def yum_repos(self) -> dict[str, dict[str, Any]]:
        variable = "yum_repos"
        value = self.get(variable)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(
                variable,
                f"{_shown(value)} is not a mapping",
                "give {REPO_ID: {FIELD: VALUE}}, e.g. {'epel': {'baseurl': 'https://...'}}",
            )
        known = platforms.repo_ids()
        out = {}
        for repo, fields in value.items():
            if not isinstance(repo, str) or not _NAME.match(repo) or repo not in known:
                raise self.fail(
                    variable,
                    f"{_shown(repo)} is not a repository pyinstall configures",
                    f"pyinstall configures {', '.join(sorted(known))}",
                )
            if not isinstance(fields, dict):
                raise self.fail(
                    variable,
                    f"{repo}: {_shown(fields)} is not a mapping of yum fields",
                    "give {'baseurl': 'https://...', 'gpgkey': 'https://...'}",
                )
            out[repo] = {name: self._repo_field(repo, name, v) for name, v in fields.items()}
        return out

    def _repo_field(self, repo: str, name: Any, value: Any) -> Any:
        kind = REPO_FIELDS.get(name) if isinstance(name, str) else None
        if kind is None:
            raise self.fail(
                "yum_repos",
                f"{repo}: {_shown(name)} is not a yum repository field pyinstall sets",
                f"known fields: {', '.join(REPO_FIELDS)}",
            )
        shown = "the value" if kind == "secret" else _shown(value)
        if kind == "bool":
            parsed = boolean(value)
            if parsed is None:
                raise self.fail("yum_repos", f"{repo}.{name}: {shown} is not a boolean", "give true or false")
            return parsed
        if kind == "int":
            number = _integer(value)
            if number is None:
                raise self.fail("yum_repos", f"{repo}.{name}: {shown} is not a whole number", "give a number")
            return number
        checks = {
            "url": (_URL.match, "an http(s)://, ftp:// or file:// URL without spaces, quotes, $ or backslashes"),
            "proxy": (lambda v: v == "_none_" or _URL.match(v), "a proxy URL, or _none_"),
            "path": (_PATH.match, "an absolute path without spaces, quotes, $ or backslashes"),
            "line": (lambda v: True, "one line of printable text"),
            "secret": (lambda v: True, "one line of printable text"),
        }
        accept, what = checks[kind]
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self.fail("yum_repos", f"{repo}.{name}: {shown} is not {what}", f"give {what}")
        text = str(value)
        if not text.isprintable() or text != text.strip() or not text or not accept(text):
            raise self.fail("yum_repos", f"{repo}.{name}: {shown} is not {what}", f"give {what}")
        return text


def _shown(value: Any) -> str:
    """A value as an error quotes it: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
        return int(value)
    return None
