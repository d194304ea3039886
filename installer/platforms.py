"""Platforms: everything pyinstall knows of one family of hosts, loaded from runtime/<id>.yml.

    runtime/el6.yml, runtime/el7.yml ─▶ Platform records ─▶ of(facts) picks a host's (once, from its facts)

Checks, runtime and plan read these records; no code outside this module asks which platform a host is.
A new platform is a new YAML file (and its templates): see README.md, "Adding a platform".
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from installer.errors import PyinstallError
from installer.facts import Facts

HOME = Path(os.environ.get("PYINSTALL_HOME", Path(__file__).resolve().parent.parent))
RUNTIME_DIR = HOME / "runtime"
TEMPLATES_DIR = HOME / "templates"


class DefinitionError(PyinstallError):
    """A runtime definition file pyinstall cannot use (a broken installation, not the operator's input)."""


@dataclass(frozen=True)
class RepoDefinition:
    id: str
    name: str
    baseurl: str
    gpgkey: str = ""
    mirror_path: str = ""  # the path under yum_mirror that serves this repository


@dataclass(frozen=True)
class Channel:
    """Where the runtime comes from: its package, pinned version, repositories and what it conflicts with."""

    name: str
    package: str
    version: str
    extra_packages: tuple[str, ...] = ()
    unpinned: tuple[str, ...] = ()  # extra packages installed at whatever version the repository has
    conflicts: tuple[str, ...] = ()  # removed before the package is installed
    repos: tuple[RepoDefinition, ...] = ()
    reads_foreign_config: bool = True  # its service reads the platform's foreign config files


@dataclass(frozen=True)
class Service:
    """The docker service's commands under this platform's init system."""

    enable: str
    disable: str
    start: str
    stop: str
    restart: str
    running: str  # exits 0 while the daemon runs


@dataclass(frozen=True)
class Driver:
    name: str
    min_kernel: str | None = None
    refused: str | None = None  # the finding code that refuses it here


@dataclass(frozen=True)
class Platform:
    id: str  # el6, el7
    major: int
    min_minor: int
    distributions: dict[str, str]
    min_kernel: str
    service: Service
    cgconfig: bool  # libcgroup's cgconfig must be installed, enabled and started
    config_file: str
    config_template: str
    config_style: str  # flags (other_args) | json (daemon.json)
    foreign_config: tuple[str, ...]
    channel: str  # the default channel
    channels: dict[str, Channel]
    requires: tuple[str, ...]
    update: dict[str, str]  # package -> minimum version-release
    storage_drivers: dict[str, Driver]
    default_storage_drivers: tuple[str, ...]
    source: str = field(default="", compare=False)

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


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


_reading = threading.RLock()  # all_platforms reads definitions while holding it


def definition(path: Path) -> Any:
    """A runtime/ YAML file, parsed once per process however many hosts' threads ask for it at once
    (``cache`` alone lets each of them parse it), with libyaml's loader where PyYAML has it."""
    with _reading:
        return _parsed(path)


@cache
def _parsed(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _load(path: Path) -> Platform:
    data = definition(path)
    try:
        channels = {
            name: Channel(
                name=name,
                package=c["package"],
                version=str(c["version"]),
                extra_packages=_strings(c.get("extra_packages")),
                unpinned=_strings(c.get("unpinned")),
                conflicts=_strings(c.get("conflicts")),
                repos=tuple(RepoDefinition(**r) for r in c.get("repos") or ()),
                reads_foreign_config=bool(c.get("reads_foreign_config", True)),
            )
            for name, c in data["channels"].items()
        }
        release, config = data["release"], data["config"]
        platform = Platform(
            id=data["platform"],
            major=int(release["major"]),
            min_minor=int(release.get("min_minor", 0)),
            distributions=dict(data["distributions"]),
            min_kernel=str(data["min_kernel"]),
            service=Service(**data["service"]),
            cgconfig=bool(data.get("cgconfig")),
            config_file=config["file"],
            config_template=config["template"],
            config_style=config["style"],
            foreign_config=_strings(config.get("foreign")),
            channel=data["channel"],
            channels=channels,
            requires=_strings(data.get("requires")),
            update={str(k): str(v) for k, v in (data.get("update") or {}).items()},
            storage_drivers={n: Driver(n, **(d or {})) for n, d in data["storage_drivers"].items()},
            default_storage_drivers=_strings(data["default_storage_drivers"]),
            source=str(path),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DefinitionError(f"{path}: not a platform definition ({type(exc).__name__}: {exc})") from None
    if platform.config_style not in ("flags", "json") or platform.channel not in channels:
        raise DefinitionError(f"{path}: config style must be flags or json, and the default channel defined")
    return platform


def all_platforms() -> tuple[Platform, ...]:
    """Every runtime/*.yml that defines a platform (the daemon options schema is not one)."""
    with _reading:
        return _all_platforms()


@cache
def _all_platforms() -> tuple[Platform, ...]:
    paths = sorted(p for p in RUNTIME_DIR.glob("*.yml") if p.name != "daemon.yml")
    return tuple(_load(p) for p in paths)


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
