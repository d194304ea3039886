"""Ansible's truth values: the one table every input of pyinstall reads a boolean by (inventory variables,
config files, the environment), as ansible-core's module_utils.parsing.convert_bool has it. Imports
nothing from the package."""

from __future__ import annotations

from typing import Any

TRUE = frozenset(("y", "yes", "on", "1", "true", "t"))
FALSE = frozenset(("n", "no", "off", "0", "false", "f"))


def boolean(value: Any) -> bool | None:
    """True or False as Ansible reads ``value`` (text in any case, around spaces; 1 and 0, 1.0 and 0.0),
    None for anything else (Ansible's strict mode refuses it: so does every caller, by name)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in TRUE else False if text in FALSE else None
    return None
