"""The commands that read the controller's side only: `config` (each setting and its source) and
`inventory` (the inventory as pyinstall reads it, in ansible-inventory's views)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from installer import inventory, settings, terminal
from installer.cli.context import ExitStatus, load_inventory
from installer.errors import UsageError

if TYPE_CHECKING:  # annotations only
    from rich.console import Console


def cmd_inventory(args: argparse.Namespace, out: Console) -> ExitStatus:
    inv = load_inventory(args)
    if args.list:
        print(json.dumps(inv.to_ansible_list(), indent=4, sort_keys=True))
    elif args.graph:
        if args.graph not in inv.groups:
            raise UsageError(f"no group {args.graph!r} in {inv.source}")
        print(inv.graph(args.graph))
    else:
        if args.host not in inv.inline_vars:
            raise UsageError(f"no host {args.host!r} in {inv.source}")
        # As ansible-inventory --host prints them: as written, vaulted values as vault objects.
        print(json.dumps(inventory.listed(inv.merged(args.host)), indent=4, sort_keys=True))
    return ExitStatus.OK


def cmd_config(args: argparse.Namespace) -> ExitStatus:
    """Every setting in effect and where it comes from, as `ansible-config dump` shows them; with -v, the
    config file's keys pyinstall does not use."""
    ignored: list[str] = []
    path = settings.config_file(ignored=ignored)
    config = settings.read_config(path) if path else None
    resolved = settings.resolve({})
    for warning in [*ignored, *(config.warnings if config else [])]:
        print(f"warning: {warning}", file=sys.stderr)
    unused = config.unused if config else []
    if args.json:
        print(json.dumps({"config_file": str(path) if path else None,
                          "settings": {k: {"value": v.value, "source": v.source, "section": settings.BY_NAME[k].section}
                                       for k, v in resolved.items()},
                          "unused": unused}, indent=2))  # fmt: skip
        return ExitStatus.OK
    searched = ", ".join((f"${settings.CONFIG_ENV}", *settings.SEARCH, f"${settings.ANSIBLE_CONFIG_ENV}",
                          *settings.ANSIBLE_SEARCH))  # fmt: skip
    print(terminal.visible(f"config file: {path or 'none found'} (searched: {searched})"))
    for section in settings.SECTIONS:
        names = [s.name for s in settings.SETTINGS if s.section == section]
        if names:
            print(f"[{section}]")
        for name in names:
            v = resolved[name]
            print(terminal.visible(f"{name} = {_config_value(v.value)}  ({v.source})"))
    if unused and args.verbose:
        print(f"not used by pyinstall ({len(unused)}):")
        for line in unused:
            print(terminal.visible(f"  {line}"))
    elif unused:
        print(f"{len(unused)} key(s) of {path} not used by pyinstall: -v lists them")
    return ExitStatus.OK


def _config_value(value: object) -> str:
    """A value as a config file would hold it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return ",".join(value) if isinstance(value, list) else str(value)
