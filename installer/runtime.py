"""What a host should end up with: the runtime definition for its platform, merged with its variables.

    runtime/<platform>.yml + runtime/daemon.yml + host vars ─▶ desired() ─▶ Desired (files rendered)

Precedence, lowest first, in this one place: built-in defaults (runtime/) < the host's merged inventory
variables (all < parent group < child group < host, resolved by the inventory) < command-line options.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from installer.errors import UsageError
from installer.versions import evr_compare

HOME = Path(os.environ.get("PYINSTALL_HOME", Path(__file__).resolve().parent.parent))
RUNTIME_DIR = HOME / "runtime"
TEMPLATES_DIR = HOME / "templates"
BUNDLE_REPO_ID = "pyinstall-bundle"
_SAFE_FLAG_VALUE = re.compile(r"^[^\s'\"\\`$]*$")  # other_args is word-split by the init script
_RPM_WORD = re.compile(r"^[A-Za-z0-9._+~^:-]+$")  # package names and versions
# URLs, with yum's own variables ($basearch, $releasever, ...) as the only $ allowed.
_URL = re.compile(r"^(https?|ftp|file)://(?:[^\s'\"`$\\]|\$(?:basearch|releasever|arch|infra|contentdir|YUM\d))+$")


class PlanError(UsageError):
    """What was asked of a host cannot be turned into a configuration."""


@dataclass(frozen=True)
class Repo:
    id: str
    name: str
    baseurl: str
    gpgkey: str = ""

    @property
    def path(self) -> str:
        name = self.id if self.id.startswith("pyinstall-") else f"pyinstall-{self.id}"
        return f"/etc/yum.repos.d/{name}.repo"


@dataclass(frozen=True)
class ManagedFile:
    path: str
    content: str
    mode: int = 0o644
    owner: str = "root"
    group: str = "root"
    restarts_daemon: bool = False


@dataclass(frozen=True)
class Desired:
    platform: str  # el6 | el7
    service_manager: str  # sysv | systemd
    package: str
    version: str
    extra_packages: tuple[str, ...]
    remove: tuple[str, ...]  # removed when installed
    requires: tuple[str, ...]
    update: dict[str, str]  # package -> minimum version
    cgconfig: bool
    repos: tuple[Repo, ...]
    storage_driver: str
    daemon_options: dict[str, Any]
    files: tuple[ManagedFile, ...]
    foreign_config: tuple[str, ...] = ()
    bundle: Any = None  # an installer.bundle.Bundle: install from it, every other repository disabled
    yum_lock_wait: int = 120  # seconds a yum command waits for another one to release the lock

    @property
    def config_file(self) -> ManagedFile:
        return next(f for f in self.files if f.restarts_daemon)


@cache
def definition(platform: str) -> dict[str, Any]:
    path = RUNTIME_DIR / f"{platform}.yml"
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise PlanError(f"no runtime definition for {platform} ({path})") from None


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


def as_list(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        return tuple(v for v in re.split(r"[,\s]+", value) if v)
    return tuple(str(v) for v in value)


def daemon_options(platform_def: dict[str, Any], version: str, hostvars: dict[str, Any], driver: str) -> dict:
    """Defaults (those this Docker version has) < docker_daemon_options; None removes a default."""
    spec = yaml.safe_load((RUNTIME_DIR / "daemon.yml").read_text())
    since = spec["since"]
    options = {k: v for k, v in spec["defaults"].items() if k not in since or evr_compare(version, str(since[k])) >= 0}
    asked = hostvars.get("docker_daemon_options") or {}
    if not isinstance(asked, dict):
        raise PlanError(f"docker_daemon_options must be a mapping, got {asked!r}")
    for key, value in asked.items():
        if value is None:
            options.pop(key, None)
        elif key in since and evr_compare(version, str(since[key])) < 0:
            raise PlanError(f"daemon option {key!r} needs Docker {since[key]} or later; this host gets {version}")
        else:
            options[key] = value
    if options.get("icc") is False and options.get("iptables") is False:
        raise PlanError(
            "daemon options icc: false and iptables: false cannot go together (dockerd refuses to start)",
            "drop the icc default with docker_daemon_options icc: null, or keep iptables on",
        )
    options["storage-driver"] = driver
    storage_opts = as_list(hostvars.get("docker_storage_options"))
    if storage_opts:
        options["storage-opts"] = list(storage_opts)
    return options


def to_flags(options: dict[str, Any]) -> list[str]:
    """daemon.json options as dockerd/`docker -d` flags, for EL6's other_args."""
    names = yaml.safe_load((RUNTIME_DIR / "daemon.yml").read_text())["flags"]
    flags: list[str] = []
    for key in sorted(options):
        value = options[key]
        flag = names.get(key, f"--{key}")
        if isinstance(value, dict):
            items = [f"{k}={v}" for k, v in value.items()]
        elif isinstance(value, list):
            items = [str(v) for v in value]
        elif isinstance(value, bool):
            items = ["true" if value else "false"]
        else:
            items = [str(value)]
        for item in items:
            if not _SAFE_FLAG_VALUE.match(item):
                raise PlanError(
                    f"daemon option {key}={item!r} cannot be passed on EL6's command line (spaces, quotes, $ or "
                    "backslashes)",
                    "simplify the value",
                )
            flags.append(f"{flag}={item}")
    return flags


def desired(platform: str, hostvars: dict[str, Any], default_driver: str, bundle: Any = None) -> Desired:
    """The state a host of ``platform`` should reach, from its inventory variables (and an offline bundle,
    which then is the only repository)."""
    d = definition(platform)
    if platform == "el7":
        channel = hostvars.get("docker_channel", d["channel"])
        if hostvars.get("docker_package") == "docker":
            channel = "extras"
        if channel not in d["channels"]:
            raise PlanError(f"docker_channel={channel!r}: choose one of {', '.join(d['channels'])}")
        source = {**d, **d["channels"][channel]}
    else:
        source = d
    package = str(hostvars.get("docker_package") or source["package"])
    version = str(hostvars.get("docker_version") or source["version"])
    for var, value in (("docker_package", package), ("docker_version", version)):
        if not _RPM_WORD.match(value):
            raise PlanError(f"{var}={value!r} is not a package name or version", "letters, digits and . _ + ~ ^ : -")
    driver = str(hostvars.get("docker_storage_driver") or default_driver)
    if driver not in d["storage_drivers"]:
        raise PlanError(f"docker_storage_driver={driver!r} is not supported on {platform}")
    mirror = str(hostvars.get("yum_mirror") or "").rstrip("/")
    overrides = hostvars.get("yum_repos") or {}
    repos = []
    for r in source.get("repos", []):
        values = {"id": r["id"], "name": r["name"], "baseurl": r["baseurl"], "gpgkey": r.get("gpgkey", "")}
        if mirror:
            values["baseurl"] = f"{mirror}/{r['mirror_path']}"
            values["gpgkey"] = ""
        values.update(overrides.get(r["id"], {}))
        for key in ("baseurl", "gpgkey"):
            if values[key] and not _URL.match(str(values[key])):
                raise PlanError(
                    f"repository {r['id']}: {key} {values[key]!r} is not a plain URL",
                    "give http(s)://, ftp:// or file:// URLs without spaces, quotes, $ or backslashes (yum_mirror, "
                    "yum_repos)",
                )
        repos.append(Repo(**values))
    if bundle is not None:
        if bundle.platform != platform:
            raise PlanError(
                f"the bundle is for {bundle.platform}, this host is {platform}", "give one bundle per platform"
            )
        repos = [Repo(BUNDLE_REPO_ID, f"pyinstall offline bundle ({platform})", f"file://{bundle.remote_dir}")]
    options = daemon_options(d, version, hostvars, driver)
    if d["config_style"] == "sysconfig":
        content = render("sysconfig-docker.j2", other_args=" ".join(to_flags(options)))
    else:
        content = render("daemon.json.j2", options=options)
    files = [ManagedFile(r.path, render("yum.repo.j2", repo=r)) for r in repos]
    files.append(ManagedFile(d["config_file"], content, restarts_daemon=True))
    remove = [*as_list(source.get("remove")), *as_list(source.get("conflicts"))]
    return Desired(
        platform=platform,
        service_manager=d["service_manager"],
        package=package,
        version=version,
        extra_packages=as_list(source.get("extra_packages")),
        remove=tuple(p for p in remove if p != package),
        requires=as_list(source.get("requires")),
        update=dict(source.get("update") or {}),
        cgconfig=bool(source.get("cgconfig")),
        repos=tuple(repos),
        storage_driver=driver,
        daemon_options=options,
        files=tuple(files),
        foreign_config=as_list(d.get("foreign_config")),
        bundle=bundle,
        yum_lock_wait=int(hostvars.get("yum_lock_timeout", 120)),
    )
