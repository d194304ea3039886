"""What a host should end up with: its platform's definition, merged with what was asked of it.

    Platform (runtime/<id>.yml) + Asked + the storage driver and version preflight settled
        ─▶ desired() ─▶ Desired (packages, repositories, files rendered from templates/)

Precedence, lowest first, in this one place: the platform's definition and runtime/daemon.yml's
defaults < the host's variables (merged by the inventory, validated by asked.py) < command-line options.
Nothing here refuses a request: preflight did that, with a finding for each refusal.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from installer import daemon_options
from installer.asked import SECRET_REPO_FIELDS, YUM_LOCK_TIMEOUT, Asked
from installer.errors import UsageError
from installer.platforms import TEMPLATES_DIR, Channel, Platform

BUNDLE_REPO_ID = "pyinstall-bundle"


class PlanError(UsageError):
    """What was asked of a host cannot be turned into a configuration."""


@dataclass(frozen=True)
class Repo:
    id: str
    name: str
    baseurl: str
    gpgkey: str = ""
    gpgcheck: bool = True
    fields: tuple[tuple[str, str], ...] = ()  # other yum fields from yum_repos, rendered as given

    @property
    def path(self) -> str:
        name = self.id if self.id.startswith("pyinstall-") else f"pyinstall-{self.id}"
        return f"/etc/yum.repos.d/{name}.repo"

    @property
    def secret(self) -> bool:
        return any(key in SECRET_REPO_FIELDS for key, _ in self.fields)


@dataclass(frozen=True)
class ManagedFile:
    path: str
    content: str
    mode: int = 0o644
    owner: str = "root"
    group: str = "root"
    restarts_daemon: bool = False
    secret: bool = False  # holds a password: mode 0600, never shown in a diff


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

    @property
    def config_file(self) -> ManagedFile:
        return next(f for f in self.files if f.restarts_daemon)


@cache
def _environment() -> jinja2.Environment:
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


def version(channel: Channel, asked: Asked) -> str:
    return asked.version or channel.version


def repos(platform: Platform, channel: Channel, asked: Asked) -> tuple[Repo, ...]:
    """The channel's repositories as this host gets them: yum_mirror moves every baseurl under one
    mirror (signature checks stay on), yum_repos overrides fields, yum_gpgcheck=false turns checks off.
    An offline bundle for the platform replaces them all."""
    bundle = asked.bundles.get(platform.id)
    if bundle is not None:
        return (
            Repo(
                BUNDLE_REPO_ID,
                f"pyinstall offline bundle ({platform.id})",
                f"file://{bundle.remote_dir}",
                gpgcheck=False,
            ),
        )  # every file's sha256 is verified on the host instead
    out = []
    for r in channel.repos:
        values: dict[str, Any] = {
            "name": r.name,
            "baseurl": r.baseurl,
            "gpgkey": r.gpgkey,
            "gpgcheck": asked.yum_gpgcheck,
        }
        if asked.yum_mirror and r.mirror_path:
            values["baseurl"] = f"{asked.yum_mirror}/{r.mirror_path}"
        values.update(asked.yum_repos.get(r.id, {}))
        main = {k: values.pop(k) for k in ("name", "baseurl", "gpgkey", "gpgcheck")}
        fields = tuple((k, str(int(v)) if isinstance(v, bool) else str(v)) for k, v in sorted(values.items()))
        out.append(Repo(r.id, fields=fields, **main))
    return tuple(out)


def repo_files(platform: Platform, channel: Channel, asked: Asked) -> list[ManagedFile]:
    """The repository files a host gets (a password in one makes it 0600)."""
    return [
        ManagedFile(r.path, render("yum.repo.j2", repo=r), mode=0o600 if r.secret else 0o644, secret=r.secret)
        for r in repos(platform, channel, asked)
    ]


def daemon_config(platform: Platform, options: dict[str, Any]) -> str:
    if platform.config_style == "flags":
        try:
            flags = daemon_options.to_flags(options)
        except ValueError as exc:  # preflight's DAEMON_OPTION refuses these first; never render them
            raise PlanError(
                f"daemon options cannot be written as flags: {exc}", "see the DAEMON_OPTION finding"
            ) from None
        return render(platform.config_template, other_args=" ".join(flags))
    return render(platform.config_template, options=options)


def desired(platform: Platform, channel: Channel, asked: Asked, driver: str, installed_version: str) -> Desired:
    """The state a host of ``platform`` should reach. ``installed_version``: the Docker version it will
    run (resolved by preflight), which decides the defaults it can take."""
    wanted = version(channel, asked)
    options = daemon_options.merged(asked.daemon_options, installed_version, driver, asked.storage_options)
    files = repo_files(platform, channel, asked)
    files.append(ManagedFile(platform.config_file, daemon_config(platform, options), restarts_daemon=True))
    installs = [f"{channel.package}-{wanted}"]
    installs += [p if p in channel.unpinned else f"{p}-{wanted}" for p in channel.extra_packages]
    return Desired(
        platform=platform,
        channel=channel,
        package=channel.package,
        version=wanted,
        installs=tuple(installs),
        remove=tuple(p for p in channel.conflicts if p != channel.package),
        repos=repos(platform, channel, asked),
        storage_driver=driver,
        daemon_options=options,
        files=tuple(files),
        bundle=asked.bundles.get(platform.id),
        yum_lock_wait=asked.yum_lock_timeout,
    )
