"""The repositories a host's yum gets: its channel's (runtime/<id>.yml), moved under yum_mirror, with the
fields yum_repos overrides; or, for an offline bundle, the bundle's alone.

    Platform's channel + Asked ─▶ repos() ─▶ [Repo]   (pure: preflight checks them, runtime writes them)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from installer.asked import SECRET_REPO_FIELDS, Asked
from installer.platforms import Channel, Platform

BUNDLE_REPO_ID = "pyinstall-bundle"


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


def repos(platform: Platform, channel: Channel, asked: Asked, distribution: str | None) -> tuple[Repo, ...]:
    """The channel's repositories as this host gets them (those for its ``distribution``, its os-release
    ID): yum_mirror moves every baseurl under one mirror (signature checks stay on), yum_repos overrides
    fields, yum_gpgcheck=false turns checks off. An offline bundle for the platform replaces them all."""
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
        if r.distributions and distribution not in r.distributions:
            continue
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
