"""Inventory sources beyond INI and YAML files, as Ansible enables them by default: a host list
(``-i 'web1,web2:2222,'``), an executable inventory script (``--list``, ``--host``), the JSON
``ansible-inventory --list`` prints (an export from AWX, NetBox or a cloud plugin), and YAML inventory
plugin configurations (``plugin: aws_ec2``...), which only ansible-core can run: they are handed to
``ansible-inventory --list`` and its JSON is read back.

    -i SOURCE ─▶ kind() ─▶ host list | script ─┐
                           plugin config ──────┼─▶ JSON ─▶ read_json() ─▶ Inventory (as any other source)
                           --list JSON file ───┘
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer.errors import InventoryError
from installer.vault import Unsafe, Vaulted

if TYPE_CHECKING:
    from installer.inventory import Inventory

SCRIPT_TIMEOUT = 300.0  # seconds an inventory script (or ansible-inventory) may take: a cloud API can be slow
STDERR_SHOWN = 5  # lines of a failing script's stderr shown
PLUGIN_HINT = "install ansible-core (pip install ansible-core, and the plugin's collection), or export the " \
              "inventory: ansible-inventory -i FILE --list > inventory.json, then -i inventory.json"  # fmt: skip


def is_host_list(source: str) -> bool:
    """Ansible's host_list: a comma in something that is not a path."""
    return "," in source and not os.path.exists(source)


def is_script(path: Path) -> bool:
    """An executable file that starts with ``#!`` (an INI file left executable by a checkout is read as INI)."""
    if not (path.is_file() and os.access(path, os.X_OK)):
        return False
    with path.open("rb") as f:
        return f.read(2) == b"#!"


def plugin_name(data: Any) -> str | None:
    """The ``plugin:`` of a YAML inventory plugin configuration, if ``data`` is one."""
    if isinstance(data, dict) and isinstance(data.get("plugin"), str):
        return data["plugin"]
    return None


def is_list_json(data: Any) -> bool:
    """What ``ansible-inventory --list`` (or an inventory script) prints: it has ``_meta``."""
    return isinstance(data, dict) and isinstance(data.get("_meta"), dict)


# ---------------------------------------------------------------- host lists


def read_host_list(source: str, inv: Inventory) -> None:
    """``web1,web2:2222,[fe80::1]:22,``: hosts in ``ungrouped``, a port where one is given."""
    from installer.inventory import split_host_port

    for item in source.split(","):
        item = item.strip()
        if not item:
            continue
        name, port = split_host_port(item)
        if name in inv.inline_vars:
            continue  # Ansible keeps the first
        inv.add_host(name, "ungrouped")
        if port is not None:
            inv.set_inline(name, {"ansible_port": port}, "-i host list", None)


# ---------------------------------------------------------------- scripts and ansible-inventory


def read_script(path: Path, inv: Inventory) -> None:
    """Run an inventory script as Ansible does: ``--list``, then ``--host NAME`` for each host when the
    output has no ``_meta.hostvars``."""
    where = f"{path} --list"
    data = _json(_run([str(path), "--list"], where), where)
    hostvars = read_json(data, inv, where)
    if hostvars is None:
        for host in _hosts(data):
            asked = f"{path} --host {host}"
            out = _run([str(path), "--host", host], asked)
            found = _json(out, asked) if out.strip() else {}
            if not isinstance(found, dict):
                raise InventoryError(asked, None, f"printed {_kind(found)}, not a mapping of variables")
            inv.set_inline(host, _tagged(found, asked), asked, None)


def read_plugin(path: Path, plugin: str, inv: Inventory, before: list[str]) -> None:
    """A plugin configuration, through ``ansible-inventory --list``. ``constructed`` builds its groups
    from the hosts of the sources given before it: they are handed over with it."""
    program = ansible_inventory()
    if program is None:
        raise InventoryError(str(path), None, f"inventory plugin {plugin!r} needs ansible-core, which is not "
                                              "installed", PLUGIN_HINT)  # fmt: skip
    sources = [*(before if plugin.rsplit(".", 1)[-1] == "constructed" else []), str(path)]
    where = f"ansible-inventory -i {path} --list"
    data = _json(_run([program, *(a for s in sources for a in ("-i", s)), "--list"], where), where)
    read_json(data, inv, f"{path} (plugin {plugin})")


def ansible_inventory() -> str | None:
    """ansible-inventory beside this Python (a virtualenv's), else on PATH."""
    beside = Path(sys.executable).parent / "ansible-inventory"
    return str(beside) if beside.is_file() else shutil.which("ansible-inventory")


def _run(argv: list[str], where: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=SCRIPT_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise InventoryError(where, None, f"did not finish in {SCRIPT_TIMEOUT:g} s") from None
    except OSError as exc:
        raise InventoryError(where, None, f"cannot run: {exc.strerror or exc}", "check its #! line") from None
    if done.returncode:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()[-STDERR_SHOWN:]
        raise InventoryError(where, None, f"exited {done.returncode}" + "".join(f"\n  {line}" for line in said),
                             "run it by hand to see why")  # fmt: skip
    try:
        return done.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise InventoryError(where, None, "printed something that is not UTF-8 text") from None


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryError(where, exc.lineno, f"did not print JSON: {exc.msg} (column {exc.colno})",
                             "an inventory script prints ansible-inventory's --list JSON") from None  # fmt: skip


# ---------------------------------------------------------------- the --list JSON


def read_json(data: Any, inv: Inventory, where: str) -> dict[str, Any] | None:
    """Groups (``{"hosts": [...], "vars": {...}, "children": [...]}``, or a bare list of hosts) and
    ``_meta.hostvars`` into ``inv``, in the order given; returns the hostvars, None when there is no
    ``_meta.hostvars`` (a script is then asked ``--host``)."""
    if not isinstance(data, dict):
        raise InventoryError(where, None, f"the JSON is {_kind(data)}, not a mapping of groups")
    meta = data.get("_meta", {})
    if not isinstance(meta, dict):
        raise InventoryError(where, None, f"_meta is {_kind(meta)}, not a mapping")
    hostvars = meta.get("hostvars")
    if hostvars is not None and not isinstance(hostvars, dict):
        raise InventoryError(where, None, f"_meta.hostvars is {_kind(hostvars)}, not a mapping of hosts")
    for name, entry in data.items():
        if name != "_meta":
            _group(inv, str(name), entry, where)
    listed = set(_hosts(data))
    for host, variables in (hostvars or {}).items():
        if not isinstance(variables, dict):
            raise InventoryError(where, None, f"_meta.hostvars.{host} is {_kind(variables)}, not a mapping")
        if host not in listed:
            raise InventoryError(where, None, f"_meta.hostvars has host {host!r}, which no group lists",
                                 "list it in a group (\"ungrouped\" will do), or drop its variables")  # fmt: skip
        inv.set_inline(host, _tagged(variables, where), where, None)
    return hostvars


def _group(inv: Inventory, name: str, entry: Any, where: str) -> None:
    inv.add_group(name)
    if isinstance(entry, list):
        entry = {"hosts": entry}
    if not isinstance(entry, dict) or not entry.keys() <= {"hosts", "vars", "children"}:
        raise InventoryError(where, None, f"group {name!r} is {_kind(entry)}",
                             "a group is a list of hosts, or a mapping of hosts, vars and children")  # fmt: skip
    hosts, variables, children = entry.get("hosts", []), entry.get("vars", {}), entry.get("children", [])
    for key, value, kind in (("hosts", hosts, list), ("vars", variables, dict), ("children", children, list)):
        if not isinstance(value, kind):
            raise InventoryError(where, None, f"{name}.{key} is {_kind(value)}, not a {kind.__name__}")
    for host in hosts:
        inv.add_host(str(host), name)
    for key, value in _tagged(variables, where).items():
        inv.groups[name].set_var(str(key), value, where, None)
    for child in children:
        inv.add_group(str(child))
        inv.add_child(name, str(child), None, where)


def _hosts(data: dict[str, Any]) -> list[str]:
    found: dict[str, None] = {}
    for name, entry in data.items():
        if name != "_meta":
            found.update(dict.fromkeys(str(h) for h in (entry if isinstance(entry, list) else entry.get("hosts", []))))
    return list(found)


def _tagged(value: Any, where: str) -> Any:
    """Ansible's JSON tags: ``{"__ansible_vault": TEXT}`` is a vaulted value, ``{"__ansible_unsafe": TEXT}``
    an unsafe one."""
    if isinstance(value, dict):
        if value.keys() == {"__ansible_vault"}:
            return Vaulted(str(value["__ansible_vault"]), where)
        if value.keys() == {"__ansible_unsafe"}:
            return Unsafe(str(value["__ansible_unsafe"]))
        return {k: _tagged(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_tagged(v, where) for v in value]
    return value


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string"}.get(type(value), f"a {type(value).__name__}")
