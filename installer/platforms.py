"""Platforms: everything pyinstall knows of one family of hosts, loaded from runtime/<id>.yml.

    runtime/el6.yml, runtime/el7.yml (+ runtime/storage.yml) ─▶ Platform records ─▶ of(facts) picks a host's

Checks, facts, runtime and plan read these records; no code outside this module asks which platform a
host is. A new platform is a new YAML file (and its templates): see README.md, "Adding a platform".
Every key of a definition is honoured or refused here, when it is loaded: a misspelt key, an unknown
finding code or a path that is not a plain path is a DefinitionError naming the file and the key.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from installer import package_path
from installer.errors import PyinstallError
from installer.outcome import PREFLIGHT_CODES

if TYPE_CHECKING:
    from installer.facts import Facts


def _data_dir(name: str) -> Path:
    """runtime/ or templates/: under $PYINSTALL_HOME when set; else inside the installed package (the wheel
    carries them there); else at the top of the checkout, where the repository keeps them."""
    home = os.environ.get("PYINSTALL_HOME")
    if home:
        return Path(home) / name
    packaged = package_path("data", name)
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / name


RUNTIME_DIR = _data_dir("runtime")
TEMPLATES_DIR = _data_dir("templates")
# The runtime/ files every platform shares; every other runtime/*.yml defines a platform.
SHARED = ("daemon.yml", "storage.yml")
# The host checks a storage driver's ``prerequisites`` may name (installer/checks.py has one for each).
PREREQUISITES = ("device-mapper", "overlayfs")

# What a definition's values may be: they end up in the facts script and in commands.
_RPM_NAME = re.compile(r"^[A-Za-z0-9._+-]+$")
_PATH = re.compile(r"^/[A-Za-z0-9._/+-]+$")
_PATTERN = re.compile(r"^/[A-Za-z0-9._/+*-]+$")  # a path with shell wildcards
_OPTION = re.compile(r"^[A-Z0-9_]+$")  # a kernel config option, without CONFIG_
_WORD = re.compile(r"^[a-z0-9_+.-]+$")  # ids, channel and driver names, cgroup controllers
_VERSION = re.compile(r"^\d[A-Za-z0-9._+~^-]*$")
_VARIABLE = re.compile(r"^[A-Z_][A-Z0-9_]*$")  # an environment file's variable
_FLAG = re.compile(r"^--[a-z][a-z0-9-]*$")  # a package manager's long option, without a value


class DefinitionError(PyinstallError):
    """A runtime definition file pyinstall cannot use (a broken installation, not the operator's input)."""


@dataclass(frozen=True)
class RepoDefinition:
    id: str
    name: str
    baseurl: str
    gpgkey: str = ""
    mirror_path: str = ""  # the path under yum_mirror that serves this repository
    # The distributions (os-release IDs of the platform's) that get this repository; none: every one.
    # Docker serves RHEL and the CentOS-like distributions from repositories of their own.
    distributions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Channel:
    """Where the runtime comes from: its package, pinned version, repositories and what it conflicts with."""

    name: str
    package: str
    version: str
    last_release: str | None = None  # the newest version a real repository of this channel offers
    repository_hint: str = ""  # what to do when its repositories cannot be read
    extra_packages: tuple[str, ...] = ()
    unpinned: tuple[str, ...] = ()  # extra packages installed at whatever version the repository has
    versions: dict[str, str] = field(default_factory=dict)  # extra packages pinned apart (plugins' own versions)
    conflicts: tuple[str, ...] = ()  # removed before the package is installed
    repos: tuple[RepoDefinition, ...] = ()
    # What the package brings besides the managed configuration file: the daemon options its unit passes
    # as flags (daemon.json may not set them too), and the environment files the unit reads, path ->
    # {variable: value} as pyinstall writes them (a flag daemon.json also sets is taken out then).
    unit_options: tuple[str, ...] = ()
    environment: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    """The docker service's commands under this platform's init system."""

    enable: str
    disable: str
    start: str
    stop: str
    restart: str
    running: str  # exits 0 while the daemon runs
    # A unit drop-in requiring the store's own filesystem (docker_storage_device) to be mounted before the
    # daemon starts, and the command that makes the init system read it; None where the init has no such thing.
    mounts_dropin: str | None = None
    reload: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a platform refuses a storage driver: the finding preflight gives."""

    code: str
    message: str  # {driver} and {platform} are filled in
    hint: str


@dataclass(frozen=True)
class Driver:
    """A storage driver as one platform runs it (runtime/storage.yml, and the platform's own entry)."""

    name: str
    kernel_options: tuple[str, ...] = ()
    prerequisites: str = ""  # one of PREREQUISITES, or none to check
    kernel_code: str = "KERNEL"
    removed_in: str | None = None  # the first dockerd version without it
    min_kernel: str | None = None
    refused: Refusal | None = None


@dataclass(frozen=True)
class Cgroups:
    mounted_by: str  # systemd (at boot) | cgconfig (libcgroup's service, which provision installs and starts)
    v1: tuple[str, ...]  # the controllers Docker needs, each mounted, on a v1 (or hybrid) hierarchy
    v2: tuple[str, ...]  # the controllers Docker needs on a unified (v2) hierarchy


@dataclass(frozen=True)
class Platform:
    id: str  # el6, el7
    major: int
    min_minor: int
    distributions: dict[str, str]
    min_kernel: str
    kernel_options: tuple[str, ...]  # required of every host, whatever its storage driver
    lock_files: tuple[str, ...]  # the package manager's: a live holder makes every transaction wait
    service: Service
    cgroups: Cgroups
    config_file: str
    config_template: str
    config_style: str  # flags (other_args) | json (daemon.json)
    unit_files: tuple[str, ...]  # patterns: unit files and drop-ins that may pass options, for every channel
    channel: str  # the default channel
    channels: dict[str, Channel]
    requires: tuple[str, ...]
    update: dict[str, str]  # package -> minimum version-release
    storage_drivers: dict[str, Driver]
    default_storage_drivers: tuple[str, ...]
    source: str = field(default="", compare=False)
    # Given to the package manager when it installs the runtime (dnf's --allowerasing: conflicts resolved).
    install_options: tuple[str, ...] = ()
    # The kernel module that makes the net.bridge.* settings exist (docker_sysctls), loaded at boot; None: built in.
    bridge_netfilter: str | None = None

    @property
    def cgconfig(self) -> bool:
        """libcgroup's cgconfig must be installed, enabled and started."""
        return self.cgroups.mounted_by == "cgconfig"

    @property
    def packages(self) -> tuple[str, ...]:
        """Every package whose presence or version this platform's checks and plans read."""
        names = [*self.requires, *self.update]
        for c in self.channels.values():
            names += [c.package, *c.extra_packages, *c.conflicts]
        return tuple(dict.fromkeys(names))

    @property
    def runtime_packages(self) -> tuple[str, ...]:
        """Every channel's engine packages and what they conflict with: what a package change touches."""
        names = [n for c in self.channels.values() for n in (c.package, *c.extra_packages, *c.conflicts)]
        return tuple(dict.fromkeys(names))

    @property
    def environment_files(self) -> tuple[str, ...]:
        """Every environment file a channel's unit reads (each channel's are its own to write)."""
        return tuple(dict.fromkeys(path for c in self.channels.values() for path in c.environment))

    def channel_for(self, package: str | None, channel: str | None) -> Channel | None:
        """The channel asked for by name or by package (docker_package=docker means EL7's extras)."""
        if package:
            return next((c for c in self.channels.values() if c.package == package), None)
        return self.channels.get(channel or self.channel)

    def distribution(self, facts: Facts) -> str | None:
        """The accepted distribution's name the host runs, or None."""
        if facts.distro_id in self.distributions:
            return self.distributions[facts.distro_id]
        return next((n for n in self.distributions.values() if facts.release_text.startswith(n)), None)


_reading = threading.RLock()  # all_platforms reads definitions while holding it


def definition(path: Path) -> Any:
    """A runtime/ YAML file, parsed once per process however many hosts' threads ask for it at once
    (``cache`` alone lets each of them parse it), with libyaml's loader where PyYAML has it."""
    with _reading:
        return _parsed(path)


@cache
def _parsed(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError:
        raise DefinitionError(f"{path} is missing: this installation of pyinstall is incomplete",
                              "reinstall pyinstall (pip install --force-reinstall pyinstall)") from None  # fmt: skip
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{path}: cannot be read as YAML ({exc})") from None


class _Reader:
    """One definition file's values, each refused by its file and key path when it is not what it must be."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> DefinitionError:
        return DefinitionError(f"{self.path}: {where}: {message}", "reinstall pyinstall, or correct the definition")

    def mapping(self, value: Any, where: str, required: Iterable[str], optional: Iterable[str] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a mapping, not {type(value).__name__}")
        required, known = tuple(required), {*required, *optional}
        unknown = [str(k) for k in value if k not in known]
        if unknown:
            raise self.fail(where, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        missing = [k for k in required if k not in value]
        if missing:
            raise self.fail(where, f"{missing[0]!r} is missing")
        return value

    def entries(self, value: Any, where: str) -> dict:
        """A mapping whose keys are names the definition chooses (channels, drivers, distributions)."""
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a mapping, not {type(value).__name__}")
        return value

    def text(self, value: Any, where: str, pattern: re.Pattern[str] | None = None) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(where, f"{value!r} is not text")
        text = str(value)
        if pattern is not None and not pattern.match(text):
            raise self.fail(where, f"{text!r} is not allowed here (it must match {pattern.pattern})")
        return text

    def words(self, value: Any, where: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(where, "must be a list")
        return tuple(self.text(v, f"{where}[{i}]", pattern) for i, v in enumerate(value))

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"{value!r} is not true or false")
        return value

    def code(self, value: Any, where: str) -> str:
        code = self.text(value, where)
        if code not in PREFLIGHT_CODES:
            raise self.fail(where, f"{code!r} is not a finding code pyinstall knows (installer/outcome.py)")
        return code


@dataclass(frozen=True)
class Storage:
    """runtime/storage.yml: the drivers pyinstall configures, and where drivers keep their data."""

    drivers: dict[str, Driver]
    data_dirs: tuple[str, ...]


def storage() -> Storage:
    with _reading:
        return _storage()


@cache
def _storage() -> Storage:
    path = RUNTIME_DIR / "storage.yml"
    r = _Reader(path)
    data = r.mapping(definition(path), "the file", ("drivers", "data_dirs"))
    drivers = {}
    for name, spec in r.entries(data["drivers"], "drivers").items():
        where = f"drivers.{name}"
        spec = r.mapping(spec or {}, where, (), ("kernel_options", "prerequisites", "kernel_code", "removed_in"))
        prerequisites = r.text(spec.get("prerequisites", ""), f"{where}.prerequisites")
        if prerequisites and prerequisites not in PREREQUISITES:
            raise r.fail(f"{where}.prerequisites", f"{prerequisites!r} is not one of {', '.join(PREREQUISITES)}")
        drivers[r.text(name, where, _WORD)] = Driver(
            name,
            kernel_options=r.words(spec.get("kernel_options"), f"{where}.kernel_options", _OPTION),
            prerequisites=prerequisites,
            kernel_code=r.code(spec.get("kernel_code", "KERNEL"), f"{where}.kernel_code"),
            removed_in=r.text(spec["removed_in"], f"{where}.removed_in", _VERSION) if "removed_in" in spec else None,
        )
    return Storage(drivers, r.words(data["data_dirs"], "data_dirs", _WORD))


_TOP = ("platform", "release", "distributions", "min_kernel", "kernel_options", "package_manager", "service",
        "cgroups", "config", "channel", "channels", "requires", "update", "storage_drivers",
        "default_storage_drivers")  # fmt: skip
_CHANNEL = (
    "package",
    "version",
    "last_release",
    "repository_hint",
    "extra_packages",
    "unpinned",
    "versions",
    "conflicts",
    "repos",
    "unit_options",
    "environment",
)


def load(path: Path) -> Platform:
    """One platform definition, every key checked."""
    r = _Reader(path)
    data = r.mapping(definition(path), "the file", _TOP, ("bridge_netfilter",))
    release = r.mapping(data["release"], "release", ("major",), ("min_minor",))
    config = r.mapping(data["config"], "config", ("file", "template", "style", "units"))
    service = r.mapping(data["service"], "service", ("enable", "disable", "start", "stop", "restart", "running"),
                        ("mounts_dropin", "reload"))  # fmt: skip
    cgroups = r.mapping(data["cgroups"], "cgroups", ("mounted_by", "v1", "v2"))
    manager = r.mapping(data["package_manager"], "package_manager", ("locks",), ("install_options",))
    channels = {
        r.text(name, "channels", _WORD): _channel(r, name, spec)
        for name, spec in r.entries(data["channels"], "channels").items()
    }
    shared = storage().drivers
    drivers = {}
    for name, spec in r.entries(data["storage_drivers"], "storage_drivers").items():
        where = f"storage_drivers.{name}"
        if name not in shared:
            raise r.fail(where, f"not a driver of runtime/storage.yml ({', '.join(shared)})")
        spec = r.mapping(spec or {}, where, (), ("min_kernel", "refused"))
        refused = None
        if spec.get("refused") is not None:
            said = r.mapping(spec["refused"], f"{where}.refused", ("code", "message", "hint"))
            refused = Refusal(r.code(said["code"], f"{where}.refused.code"),
                              r.text(said["message"], f"{where}.refused.message"),
                              r.text(said["hint"], f"{where}.refused.hint"))  # fmt: skip
            try:
                refused.message.format(driver=name, platform="id")
            except (KeyError, IndexError, ValueError) as exc:
                raise r.fail(
                    f"{where}.refused.message", f"only {{driver}} and {{platform}} are filled in ({exc})"
                ) from None
        minimum = spec.get("min_kernel")
        drivers[name] = Driver(
            name,
            kernel_options=shared[name].kernel_options,
            prerequisites=shared[name].prerequisites,
            kernel_code=shared[name].kernel_code,
            removed_in=shared[name].removed_in,
            min_kernel=r.text(minimum, f"{where}.min_kernel") if minimum is not None else None,
            refused=refused,
        )
    platform = Platform(
        id=r.text(data["platform"], "platform", _WORD),
        major=int(r.text(release["major"], "release.major", re.compile(r"^\d+$"))),
        min_minor=int(r.text(release.get("min_minor", 0), "release.min_minor", re.compile(r"^\d+$"))),
        distributions={
            r.text(k, "distributions", _WORD): r.text(v, f"distributions.{k}")
            for k, v in r.entries(data["distributions"], "distributions").items()
        },
        min_kernel=r.text(data["min_kernel"], "min_kernel"),
        kernel_options=r.words(data["kernel_options"], "kernel_options", _OPTION),
        lock_files=r.words(manager["locks"], "package_manager.locks", _PATH),
        service=Service(**{k: r.text(v, f"service.{k}") for k, v in service.items()}),
        cgroups=Cgroups(
            mounted_by=r.text(cgroups["mounted_by"], "cgroups.mounted_by"),
            v1=r.words(cgroups["v1"], "cgroups.v1", _WORD),
            v2=r.words(cgroups["v2"], "cgroups.v2", _WORD),
        ),
        config_file=r.text(config["file"], "config.file", _PATH),
        config_template=r.text(config["template"], "config.template"),
        config_style=r.text(config["style"], "config.style"),
        unit_files=r.words(config["units"], "config.units", _PATTERN),
        channel=r.text(data["channel"], "channel"),
        channels=channels,
        requires=r.words(data["requires"], "requires", _RPM_NAME),
        update={
            r.text(k, "update", _RPM_NAME): r.text(v, f"update.{k}")
            for k, v in r.entries(data["update"] or {}, "update").items()
        },
        storage_drivers=drivers,
        default_storage_drivers=r.words(data["default_storage_drivers"], "default_storage_drivers", _WORD),
        source=str(path),
        install_options=r.words(manager.get("install_options"), "package_manager.install_options", _FLAG),
        bridge_netfilter=r.text(data["bridge_netfilter"], "bridge_netfilter", _WORD)
        if "bridge_netfilter" in data
        else None,
    )
    for name, c in channels.items():
        for i, repo in enumerate(c.repos):
            unknown = [d for d in repo.distributions if d not in platform.distributions]
            if unknown:
                raise r.fail(f"channels.{name}.repos[{i}].distributions",
                             f"{unknown[0]!r} is not one of this platform's distributions")  # fmt: skip
        # A host of a distribution no repository is for would silently get none.
        covered = {d for repo in c.repos for d in repo.distributions or platform.distributions}
        if c.repos and (left := [d for d in platform.distributions if d not in covered]):
            raise r.fail(f"channels.{name}.repos", f"no repository is for {left[0]!r} (give one whose "
                         "distributions name it, or one without distributions)")  # fmt: skip
    if platform.config_style not in ("flags", "json"):
        raise r.fail("config.style", f"{platform.config_style!r} is not flags or json")
    if platform.cgroups.mounted_by not in ("systemd", "cgconfig"):
        raise r.fail("cgroups.mounted_by", f"{platform.cgroups.mounted_by!r} is not systemd or cgconfig")
    if platform.channel not in channels:
        raise r.fail("channel", f"{platform.channel!r} is not one of the channels defined")
    if not platform.default_storage_drivers or not set(platform.default_storage_drivers) <= set(drivers):
        raise r.fail("default_storage_drivers", "must name drivers of storage_drivers")
    if not (TEMPLATES_DIR / platform.config_template).is_file():
        raise r.fail("config.template", f"no {platform.config_template} in {TEMPLATES_DIR}")
    return platform


def _channel(r: _Reader, name: str, spec: Any) -> Channel:
    where = f"channels.{name}"
    spec = r.mapping(spec, where, ("package", "version"), _CHANNEL)
    repos = []
    for i, repo in enumerate(spec.get("repos") or ()):
        at = f"{where}.repos[{i}]"
        repo = r.mapping(repo, at, ("id", "name", "baseurl"), ("gpgkey", "mirror_path", "distributions"))
        values = {k: r.text(v, f"{at}.{k}") for k, v in repo.items() if k != "distributions"}
        only = r.words(repo.get("distributions"), f"{at}.distributions", _WORD)
        repos.append(RepoDefinition(**values, distributions=only))
    extra = r.words(spec.get("extra_packages"), f"{where}.extra_packages", _RPM_NAME)
    unpinned = r.words(spec.get("unpinned"), f"{where}.unpinned", _RPM_NAME)
    versions = {
        r.text(k, f"{where}.versions", _RPM_NAME): r.text(v, f"{where}.versions.{k}", _VERSION)
        for k, v in r.entries(spec.get("versions") or {}, f"{where}.versions").items()
    }
    for package in versions:
        if package not in extra or package in unpinned:
            raise r.fail(f"{where}.versions.{package}", "only a pinned package of extra_packages has a version here")
    return Channel(
        name=name,
        package=r.text(spec["package"], f"{where}.package", _RPM_NAME),
        version=r.text(spec["version"], f"{where}.version", _VERSION),
        last_release=r.text(spec["last_release"], f"{where}.last_release", _VERSION)
        if spec.get("last_release") is not None
        else None,
        repository_hint=r.text(spec.get("repository_hint", ""), f"{where}.repository_hint"),
        extra_packages=extra,
        unpinned=unpinned,
        versions=versions,
        conflicts=r.words(spec.get("conflicts"), f"{where}.conflicts", _RPM_NAME),
        repos=tuple(repos),
        unit_options=tuple(
            _option(r, key, f"{where}.unit_options[{i}]") for i, key in enumerate(spec.get("unit_options") or ())
        ),
        environment={
            r.text(path, f"{where}.environment", _PATH): {
                r.text(k, f"{where}.environment.{path}", _VARIABLE): _line(r, v, f"{where}.environment.{path}.{k}")
                for k, v in r.entries(variables or {}, f"{where}.environment.{path}").items()
            }
            for path, variables in r.entries(spec.get("environment") or {}, f"{where}.environment").items()
        },
    )


def _option(r: _Reader, key: Any, where: str) -> str:
    """A daemon option named in a definition: one of runtime/daemon.yml's."""
    known = definition(RUNTIME_DIR / "daemon.yml")["options"]
    if key not in known:
        raise r.fail(where, f"{key!r} is not a daemon option of runtime/daemon.yml")
    return str(key)


def _line(r: _Reader, value: Any, where: str) -> str:
    text = r.text(value, where)
    if not text.isprintable():
        raise r.fail(where, "must be one line of printable text")
    return text


def all_platforms() -> tuple[Platform, ...]:
    """Every runtime/*.yml that defines a platform (the shared files are not ones)."""
    with _reading:
        return _all_platforms()


@cache
def _all_platforms() -> tuple[Platform, ...]:
    paths = sorted(p for p in RUNTIME_DIR.glob("*.yml") if p.name not in SHARED)
    platforms = tuple(load(p) for p in paths)
    if not platforms:
        raise DefinitionError(f"no platform definition in {RUNTIME_DIR}: this installation of pyinstall is "
                              "incomplete", "reinstall pyinstall (pip install --force-reinstall)")  # fmt: skip
    ids = [p.id for p in platforms]
    for p in platforms:
        if ids.count(p.id) > 1 or Path(p.source).stem != p.id:
            raise DefinitionError(f"{p.source}: platform {p.id!r} must be defined once, in {p.id}.yml")
    return platforms


def by_id(platform_id: str) -> Platform:
    for p in all_platforms():
        if p.id == platform_id:
            return p
    raise DefinitionError(f"no runtime definition for {platform_id} in {RUNTIME_DIR}")


def of(facts: Facts) -> Platform | None:
    """The platform a host runs: an accepted distribution of a major release pyinstall has a definition for."""
    return next((p for p in all_platforms() if p.major == facts.major and p.distribution(facts)), None)


def family(facts: Facts) -> str | None:
    """The name of the accepted distribution the host runs, whatever its release."""
    return next((n for p in all_platforms() if (n := p.distribution(facts))), None)


def repo_ids() -> set[str]:
    """Every repository id any platform configures (yum_repos may name only these)."""
    return {r.id for p in all_platforms() for c in p.channels.values() for r in c.repos}


# ---------------------------------------------------------------- what the facts script looks at


def watched_packages() -> tuple[str, ...]:
    """Every package any platform's checks and plans read: the facts ask rpm for these."""
    return tuple(dict.fromkeys(name for p in all_platforms() for name in p.packages))


def watched_config_files() -> tuple[str, ...]:
    """Every file (or pattern) that may give the daemon options, on any platform."""
    files = [f for p in all_platforms() for f in (p.config_file, *p.environment_files, *p.unit_files)]
    return tuple(dict.fromkeys(files))


def watched_lock_files() -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for p in all_platforms() for f in p.lock_files))


def watched_kernel_options() -> tuple[str, ...]:
    """Every kernel option a platform or a storage driver requires."""
    options = [o for p in all_platforms() for o in p.kernel_options]
    options += [o for d in storage().drivers.values() for o in d.kernel_options]
    return tuple(dict.fromkeys(options))
