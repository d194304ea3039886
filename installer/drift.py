"""Drift: where a host differs from what was asked. What was asked is what provision would write for
this host (runtime.desired, the same model); what is, the host's facts: its managed files as they are
now and its daemon as `docker info` shows it. Each difference is named: file, key, asked, found.

    Facts + Asked ─▶ runtime.desired ─▶ differences() ─▶ [Difference]   (pure: no connection)
"""

from __future__ import annotations

import configparser
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from installer import checks, daemon_options, daytwo, runtime
from installer.asked import SECRET_REPO_FIELDS, Asked
from installer.docker_info import DockerInfo
from installer.facts import Facts
from installer.runtime import ManagedFile

ABSENT = None  # a key asked for and missing on the host, or found there and never asked for
HIDDEN = "<secret>"


@dataclass(frozen=True)
class Difference:
    where: str  # a file's path, or "docker info"
    key: str  # a daemon option, a repository field ("[id] field"), a docker info field; "" for a whole file
    asked: str | None  # None: not asked for (added on the host)
    found: str | None  # None: not on the host (removed there)

    def __str__(self) -> str:
        what = f"{self.where}: {self.key}" if self.key else self.where
        if self.asked is ABSENT:
            return f"{what} added on the host ({self.found}), not asked for"
        if self.found is ABSENT:
            return f"{what} asked {self.asked}, missing on the host"
        return f"{what} asked {self.asked}, found {self.found}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def differences(facts: Facts, asked: Asked, info: DockerInfo | None = None) -> list[Difference]:
    """Every way the host differs from what provision would make of it: its configuration files (the
    daemon's and the repositories'), and the running daemon's storage driver. Empty for a host provision
    cannot plan (no platform or channel): its findings say why."""
    s = checks.subject(facts, asked)
    try:
        desired = runtime.desired(s)
    except runtime.PlanError:  # not provisionable, or an ignored refusal: its findings say why
        return []
    found: list[Difference] = []
    for f in desired.files:
        if daytwo.owned(f.path):
            found += _day_two_file(facts, f)
            continue
        current = facts.file_content(f.path)
        if current is None:
            found.append(Difference(f.path, "", "present", ABSENT))
        elif f.path in desired.channel.environment:
            want, have = daemon_options.read_environment(f.content), daemon_options.read_environment(current)
            found += _compare(f.path, want, have, str)
        elif f.path == s.platform.config_file:
            found += _config(f.path, f.content, current, s.platform.config_style)
        else:  # INI files: the repositories', and a unit drop-in
            found += _ini_file(f.path, f.content, current)
    found += _day_two(facts, desired)
    if info is not None and info.reachable and info.storage_driver != desired.storage_driver:
        found.append(Difference("docker info", "Storage Driver", desired.storage_driver, info.storage_driver))
    return found


def _day_two_file(facts: Facts, f: ManagedFile) -> list[Difference]:
    """Compared by checksum (a secret's text never leaves the host); the kernel settings key by key."""
    if not facts.has_file(f.path):
        return [Difference(f.path, "", "present", ABSENT)]
    if facts.file_sums.get(f.path) == hashlib.sha256(f.content.encode()).hexdigest():
        return []
    if f.path == daytwo.SYSCTL_FILE:
        return _compare(f.path, _settings(f.content), _settings(facts.file_content(f.path) or ""), str)
    return [Difference(f.path, "", HIDDEN if f.secret else "as provision writes it", "changed on the host")]


def _settings(text: str) -> dict[str, str]:
    """A sysctl.d file's KEY = VALUE lines (the last one of a key wins, as sysctl applies them)."""
    pairs = (
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith(("#", ";"))
    )
    return {k.strip(): " ".join(v.split()) for k, v in pairs}


def _day_two(facts: Facts, desired: runtime.Desired) -> list[Difference]:
    """The kernel's settings now, the docker group's members, and day two's files nothing asks for any more."""
    asked = desired.day_two
    out = [
        Difference("kernel", key, value, facts.sysctls[key])
        for key, value in asked.sysctls.items()
        if key in facts.sysctls and facts.sysctls[key] != " ".join(value.split())
    ]
    if facts.docker_group is not None:
        out += [
            Difference(f"{daytwo.GROUP} group", u, "member", ABSENT) for u in asked.users if u not in facts.docker_group
        ]
        added = [u for u in dict.fromkeys(facts.ledger.get("member", [])) if u in facts.docker_group]
        out += [Difference(f"{daytwo.GROUP} group", u, ABSENT, "member") for u in added if u not in asked.users]
    wanted = {f.path for f in desired.files}
    out += [
        Difference(path, "", ABSENT, "present")
        for path in dict.fromkeys(facts.ledger.get("file", []))
        if daytwo.owned(path) and path not in wanted and facts.has_file(path)
    ]
    return out


def _config(path: str, asked: str, current: str, style: str) -> list[Difference]:
    if style == "json":
        want, have = json.loads(asked), daemon_options.read_config(current, style)
        if have is None:
            return [Difference(path, "", "a JSON object", "not one")]
        return _compare(path, want, have, json.dumps)
    want_flags, have_flags = daemon_options.read_config(asked, style), daemon_options.read_config(current, style)
    if have_flags is None:
        return [Difference(path, "other_args", " ".join(f"--{k}" for k in want_flags or {}), ABSENT)]
    return _compare(path, want_flags or {}, have_flags, lambda values: " ".join(values) or "set")


def _compare(path: str, want: dict[str, Any], have: dict[str, Any], show: Any) -> list[Difference]:
    out = []
    for key in sorted(set(want) | set(have)):
        if key not in have:
            out.append(Difference(path, key, show(want[key]), ABSENT))
        elif key not in want:
            out.append(Difference(path, key, ABSENT, show(have[key])))
        elif want[key] != have[key]:
            out.append(Difference(path, key, show(want[key]), show(have[key])))
    return out


def _ini_file(path: str, asked: str, current: str) -> list[Difference]:
    want, have = _ini(asked) or {}, _ini(current)
    if have is None:
        return [Difference(path, "", "an INI file", "not one")]
    out = []
    for key in sorted(set(want) | set(have)):
        pair = want.get(key), have.get(key)
        if pair[0] == pair[1]:
            continue
        if key.rsplit(" ", 1)[-1] in SECRET_REPO_FIELDS:  # a password: only that it differs, never its value
            pair = tuple(ABSENT if v is ABSENT else HIDDEN for v in pair)
        out.append(Difference(path, key, *pair))
    return out


def _ini(text: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return {f"[{section}] {key}": value for section in parser.sections() for key, value in parser[section].items()}
