"""`pyinstall bundle create`: an offline bundle of RPMs for air-gapped fleets."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from installer import terminal
from installer.cli.context import ExitStatus
from installer.errors import UsageError

if TYPE_CHECKING:  # annotations only
    from rich.console import Console


def cmd_bundle(args: argparse.Namespace, out: Console) -> ExitStatus:
    from installer import bundle

    if args.bundle_command != "create":
        raise UsageError(
            "pyinstall bundle: say what to do", "pyinstall bundle create --platform el6 --from DIR -o FILE"
        )
    for option, value in (("--from", args.source), ("--output", args.output), ("--platform", args.platform)):
        if not value.strip():
            raise UsageError(
                f"bundle create {option}: empty", "pyinstall bundle create --platform el6 --from DIR -o FILE"
            )
    manifest = bundle.create(args.platform, Path(args.source), Path(args.output), [Path(p) for p in args.image])
    for package in manifest["packages"]:
        name = f"{package['name']}-{package['version']}-{package['release']}.{package['arch']}"
        out.print(terminal.text(f"  {name}  {package['sha256'][:12]}"))
    images = [image for archive in manifest.get("images", []) for image in archive["images"]]
    for archive in manifest.get("images", []):
        needs = f" (docker {archive['min_engine']} or later loads it)" if archive["min_engine"] else ""
        for image in archive["images"]:
            out.print(terminal.text(f"  {', '.join(image['tags']) or '<untagged>'}  {image['id'][:19]}{needs}"))
    out.print(terminal.text(f"{args.output}: {len(manifest['packages'])} packages for {args.platform}, with yum "
                            f"repodata" + (f", and {len(images)} image(s)" if images else "")))  # fmt: skip
    return ExitStatus.OK
