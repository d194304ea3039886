"""What a host should end up with: its platform's definition, merged with what was asked of it.

    Subject (the host's platform, channel, storage driver and pin, settled by preflight; checks.py)
        ─▶ desired() ─▶ Desired (packages, repositories, files rendered from templates/)

Precedence, lowest first, in this one place: the platform's definition and runtime/daemon.yml's
defaults < the host's variables (merged by the inventory, validated by asked.py) < command-line options.
Nothing here refuses a request: preflight did that, with a finding for each refusal.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from installer import daemon_options, daytwo
from installer.asked import YUM_LOCK_TIMEOUT, Asked
from installer.checks import Subject, store_mount
from installer.errors import UsageError
from installer.platforms import TEMPLATES_DIR, Channel, Platform
from installer.repos import Repo, repos

if TYPE_CHECKING:  # annotations only: Jinja2 loads where a template is rendered
    import jinja2


class PlanError(UsageError):
    """What was asked of a host cannot be turned into a configuration."""


class NotProvisionable(PlanError):
    """A host without a platform, channel or storage driver pyinstall provisions (its findings say why)."""


@dataclass(frozen=True)
class ManagedFile:
    path: str
    content: str
    mode: int = 0o644
    owner: str = "root"
    group: str = "root"
    restarts_daemon: bool = False
    secret: bool = False  # holds a password or a key: never shown in a diff, never read back from the host
    tag: str = "config"  # what it belongs to, for --tags (plan.TAGS): repo, config, proxy, registries, sysctl


@dataclass(frozen=True)
class Desired:
    platform: Platform
    channel: Channel
    package: str
    version: str  # as asked (or the channel's default): what yum is given
    installs: tuple[str, ...]  # package specs for yum: the package and its extras, pinned where they follow it
    remove: tuple[str, ...]  # removed when installed
    repos: tuple[Repo, ...]
    storage_driver: str
    daemon_options: dict[str, Any]
    files: tuple[ManagedFile, ...]
    bundle: Any = None  # an installer.bundle.Bundle: install from it, every other repository disabled
    yum_lock_wait: int = YUM_LOCK_TIMEOUT  # seconds a yum command waits for another one to release the lock
    storage_device: str | None = None  # formatted and mounted at the driver's directory (checks.store_mount)
    foreign_build: int | None = None  # the EL release the installed runtime was built for, when not the host's
    day_two: daytwo.DayTwo = field(
        default_factory=daytwo.DayTwo
    )  # its files are in ``files``; its users and sysctls, the plan's

    @property
    def config_file(self) -> ManagedFile:
        return next(f for f in self.files if f.path == self.platform.config_file)

    def pin_of(self, name: str) -> str | None:
        return pin_of(self.channel, name, self.version)


def pin_of(channel: Channel, name: str, pin: str) -> str | None:
    """The version the channel's package NAME is installed at: the pin, a plugin's own version
    (channel.versions), or None for one installed at whatever its repository has (channel.unpinned)."""
    if name == channel.package:
        return pin
    return None if name in channel.unpinned else channel.versions.get(name, pin)


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["shquote"] = shlex.quote
    env.filters["to_json"] = lambda value: json.dumps(value, indent=2, sort_keys=True)
    return env


def render(template: str, **values: Any) -> str:
    return _environment().get_template(template).render(**values)


def repo_files(platform: Platform, channel: Channel, asked: Asked, distribution: str | None) -> list[ManagedFile]:
    """The repository files a host of ``distribution`` gets (a password in one makes it 0600)."""
    return [
        ManagedFile(
            r.path, render("yum.repo.j2", repo=r), mode=0o600 if r.secret else 0o644, secret=r.secret, tag="repo"
        )
        for r in repos(platform, channel, asked, distribution)
    ]


def daemon_config(platform: Platform, options: dict[str, Any], proxy: bool = False) -> str:
    """``proxy``: EL6's file exports the daemon's proxy (daytwo.PROXY_ENVIRONMENT)."""
    if platform.config_style == "flags":
        try:
            flags = daemon_options.to_flags(options)
        except ValueError as exc:  # preflight's DAEMON_OPTION refuses these first; never render them
            raise PlanError(
                f"daemon options cannot be written as flags: {exc}", "see the DAEMON_OPTION finding"
            ) from None
        environment = daytwo.PROXY_ENVIRONMENT if proxy else ""
        return render(platform.config_template, other_args=" ".join(flags), proxy_environment=environment)
    return render(platform.config_template, options=options)


def environment_files(platform: Platform, channel: Channel, options: dict[str, Any]) -> list[ManagedFile]:
    """The environment files the channel's unit reads, each variable with the flags daemon.json sets
    taken out: every option has one source of truth (README: "Who owns which option")."""
    keys = set(options)
    return [
        ManagedFile(
            path,
            render(
                "sysconfig-environment.j2",
                path=path,
                package=channel.package,
                config=platform.config_file,
                variables={name: daemon_options.without_flags(value, keys) for name, value in variables.items()},
            ),
            restarts_daemon=True,
        )
        for path, variables in channel.environment.items()
    ]


def desired(s: Subject, installed_version: str | None = None) -> Desired:
    """The state the host should reach. ``installed_version``: the Docker version it will run (preflight's
    resolved version unless given), which decides the defaults it can take. A host pyinstall cannot
    provision (no platform, channel or storage driver: its findings said why) raises NotProvisionable."""
    platform, channel, asked, driver = s.platform, s.channel, s.asked, s.storage_driver
    if platform is None or channel is None or driver is None or s.pin is None:
        raise NotProvisionable(
            "no platform, channel or storage driver for this host", "see `pyinstall check` for what this host is"
        )
    if installed_version is None:
        installed_version = s.version or ""
    wanted = s.pin
    options = daemon_options.merged(asked.daemon_options, installed_version, driver, asked.storage_options)
    files = repo_files(platform, channel, asked, s.facts.distro_id)
    proxied = asked.day_two.proxy is not None
    files.append(ManagedFile(platform.config_file, daemon_config(platform, options, proxied), restarts_daemon=True))
    files += environment_files(platform, channel, options)
    if asked.storage_device and platform.service.mounts_dropin:
        mount = render("docker-mounts.conf.j2", mount=store_mount(driver))
        files.append(ManagedFile(platform.service.mounts_dropin, mount, restarts_daemon=True))
    files += daytwo.files(asked.day_two, platform)
    pins = ((name, pin_of(channel, name, wanted)) for name in (channel.package, *channel.extra_packages))
    return Desired(
        platform=platform,
        channel=channel,
        package=channel.package,
        version=wanted,
        installs=tuple(name if pin is None else f"{name}-{pin}" for name, pin in pins),
        remove=tuple(p for p in channel.conflicts if p != channel.package),
        repos=repos(platform, channel, asked, s.facts.distro_id),
        storage_driver=driver,
        daemon_options=options,
        files=tuple(files),
        bundle=asked.bundles.get(platform.id),
        yum_lock_wait=asked.yum_lock_timeout,
        storage_device=asked.storage_device,
        foreign_build=s.foreign_build,
        day_two=asked.day_two,
    )
