"""Ansible-compatible inventories: INI and YAML files, group_vars/ and host_vars/ beside them.

    inventory file ─▶ groups (hosts, children, vars) + inline host vars ─▶ Inventory ─▶ Host (merged vars)

Variable precedence is Ansible's, lowest first: the inventory's group vars (``all``, then the host's
groups ordered by depth, ``ansible_group_priority`` and name), ``group_vars/all``, ``group_vars/GROUP``
(same order), the inventory's host vars, ``host_vars/HOST``. Errors name the file and line.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import shlex
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer.errors import InventoryError
from installer.vault import Unsafe, Vault, Vaulted, is_vaulted

if TYPE_CHECKING:  # PyYAML is imported where a YAML file is read: most inventories are INI
    import yaml

YAML_SUFFIXES = (".yml", ".yaml", ".json")
_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$")
_GROUP_LINE = re.compile(r"^([^:\]\s]+)\s*(?:[#;].*)?$")
_IPV6_PORT = re.compile(r"^\[([0-9A-Fa-f:.%]+)\](?::(\d+))?$")
_HOST_PORT = re.compile(r"^(.+?):(\d+)$")


@dataclass
class Group:
    name: str
    hosts: list[str] = field(default_factory=list)  # direct members, in order of appearance
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    priority: int = 1  # ansible_group_priority: orders groups of equal depth
    line: int | None = None  # where it was declared, for messages
    var_origins: dict[str, str] = field(default_factory=dict)  # where each variable was set: file:line

    def set_var(self, key: str, value: Any, source: str, line: int | None) -> None:
        if key != "ansible_group_priority":
            self.vars[key] = value
            self.var_origins[key] = _where(source, line)
            return
        try:
            self.priority = int(value)
        except (TypeError, ValueError):
            raise InventoryError(source, line, f"ansible_group_priority of {self.name!r} must be a number") from None


@dataclass(frozen=True)
class Host:
    """A host with its variables merged by Ansible's precedence."""

    name: str
    vars: dict[str, Any]
    groups: tuple[str, ...]  # every group it belongs to, directly or through children, "all" first

    def get(self, key: str, default: Any = None) -> Any:
        return self.vars.get(key, default)


class Inventory:
    """Groups, hosts and their variables, read from one or more inventory sources (merged in order, as
    Ansible does: a later source adds hosts and groups, and its values win)."""

    def __init__(self, source: str = "<memory>", vault: Vault | None = None) -> None:
        self.source = source  # the sources, for messages
        self.vault = vault or Vault()  # opens !vault values when a host's variables are read
        self.groups: dict[str, Group] = {
            "all": Group("all", children=["ungrouped"]),
            "ungrouped": Group("ungrouped", parents=["all"]),
        }
        self.host_names: list[str] = []  # every host, in order of first appearance
        self.inline_vars: dict[str, dict[str, Any]] = {}
        self.inline_origins: dict[str, dict[str, str]] = {}  # host -> variable -> file:line
        self.group_var_files: dict[str, dict[str, Any]] = {}
        self.host_var_files: dict[str, dict[str, Any]] = {}
        self.var_file_origins: dict[str, dict[str, str]] = {}  # "group_vars/G" or "host_vars/H" -> var -> file:line
        # Indexes that keep loading and lookups linear in the inventory's size.
        self._member_of: dict[str, dict[str, None]] = {}  # host -> its direct groups, in order
        self._ancestors: dict[str, set[str]] = {}
        self._depth: dict[str, int] = {}
        self._members: dict[str, list[str]] = {}  # group -> group_hosts(), until the next change

    # ------------------------------------------------------------ building
    def add_group(self, name: str, line: int | None = None) -> Group:
        if name not in self.groups:
            self.groups[name] = Group(name, line=line)
        return self.groups[name]

    def add_host(self, name: str, group: str) -> None:
        if name not in self.inline_vars:
            self.host_names.append(name)
            self.inline_vars[name] = {}
            self.inline_origins[name] = {}
            self._member_of[name] = {}
        if group not in self._member_of[name]:
            self._member_of[name][group] = None
            self.groups[group].hosts.append(name)
            self._members.clear()

    def add_child(self, parent: str, child: str, line: int | None = None, source: str | None = None) -> None:
        source = source or self.source
        if child == "all":
            raise InventoryError(source, line, f"group 'all' cannot be a child of {parent!r}")
        if parent == child or parent in self._descendants(child):
            raise InventoryError(
                source,
                line,
                f"adding group {child!r} as a child of {parent!r} creates a loop",
                "a group cannot contain itself, directly or through its children",
            )
        p, c = self.groups[parent], self.groups[child]
        if child not in p.children:
            p.children.append(child)
        if parent not in c.parents:
            c.parents.append(parent)
        self._ancestors.clear()
        self._depth.clear()
        self._members.clear()

    def _reach(self, group: str, edge: str) -> set[str]:
        """Every group reachable from ``group`` through ``edge`` ("parents" or "children")."""
        seen: set[str] = set()
        stack = list(getattr(self.groups[group], edge))
        while stack:
            g = stack.pop()
            if g not in seen:
                seen.add(g)
                stack.extend(getattr(self.groups[g], edge))
        return seen

    def _descendants(self, group: str) -> set[str]:
        return self._reach(group, "children")

    def reconcile(self) -> None:
        """Ansible's rules once parsing is done: every group under ``all``; a host the parser put in
        ``ungrouped`` leaves it once it is in another group, a host in no group joins it (after the
        parser's, in inventory order)."""
        for name, group in list(self.groups.items()):
            if name != "all" and not group.parents:
                self.add_child("all", name)
        ungrouped = self.groups["ungrouped"]
        leaving = set()
        for host in self.host_names:
            groups = self._member_of[host]
            if "ungrouped" in groups:
                if groups.keys() - {"all", "ungrouped"}:
                    del groups["ungrouped"]
                    leaving.add(host)
            elif not groups.keys() - {"all"}:
                groups["ungrouped"] = None
                ungrouped.hosts.append(host)
        if leaving:
            ungrouped.hosts = [h for h in ungrouped.hosts if h not in leaving]
        self._members.clear()

    # ------------------------------------------------------------ reading
    def ancestors(self, group: str) -> set[str]:
        if group not in self._ancestors:
            self._ancestors[group] = self._reach(group, "parents")
        return self._ancestors[group]

    def depth(self, group: str) -> int:
        """Longest path from ``all``: children weigh more than their parents."""
        if group not in self._depth:
            parents = self.groups[group].parents
            self._depth[group] = 0 if group == "all" or not parents else 1 + max(self.depth(p) for p in parents)
        return self._depth[group]

    def host_groups(self, name: str) -> list[str]:
        """Every group of a host, sorted the way Ansible merges their variables."""
        direct = list(self._member_of.get(name, ()))
        groups = {"all", *direct}
        for g in direct:
            groups |= self.ancestors(g)
        return sorted(groups, key=lambda g: (self.depth(g), self.groups[g].priority, g))

    def merged(self, name: str) -> dict[str, Any]:
        """A host's variables as written: ``!vault`` values still encrypted."""
        if name not in self.inline_vars:
            raise KeyError(name)
        groups = self.host_groups(name)
        merged: dict[str, Any] = {}
        for g in groups:
            merged.update(self.groups[g].vars)
        for g in groups:
            merged.update(self.group_var_files.get(g, {}))
        merged.update(self.inline_vars[name])
        merged.update(self.host_var_files.get(name, {}))
        return merged

    def opened(self, name: str) -> dict[str, Any]:
        """A host's variables merged, vaulted values decrypted (and masked from then on), templates as written."""
        return _opened(self.merged(name), self.vault)

    def host(self, name: str) -> Host:
        """A host with its variables merged, decrypted, and rendered as Ansible renders them
        (installer.templating)."""
        from installer.templating import render

        return Host(name, render(name, self.opened(name), self), tuple(self.host_groups(name)))

    def origin(self, host: str, key: str) -> str:
        """Where the value of ``key`` that ``host`` gets was set (``file:line``), following the precedence
        of host(); "" when no inventory source sets it."""
        found = self.var_file_origins.get(f"host_vars/{host}", {}).get(key)
        if found:
            return found
        if key in self.inline_vars.get(host, {}):
            return self.inline_origins[host].get(key, self.source)
        groups = self.host_groups(host)[::-1]
        for g in groups:
            found = self.var_file_origins.get(f"group_vars/{g}", {}).get(key)
            if found:
                return found
        for g in groups:
            if key in self.groups[g].vars:
                return self.groups[g].var_origins.get(key, self.source)
        return ""

    def set_inline(self, host: str, variables: dict[str, Any], source: str, line: int | None) -> None:
        self.inline_vars[host].update(variables)
        self.inline_origins[host].update(dict.fromkeys(variables, _where(source, line)))

    def hosts(self, names: Iterable[str] | None = None) -> list[Host]:
        return [self.host(n) for n in (self.host_names if names is None else names)]

    def group_hosts(self, group: str) -> list[str]:
        """Every host of a group and of its descendants in Ansible's order: the group's own hosts as
        listed, then its children's, level by level (breadth first), each host once."""
        if group not in self._members:
            order, level, seen = [group], [group], {group}
            while level:
                level = list(dict.fromkeys(c for g in level for c in self.groups[g].children if c not in seen))
                seen.update(level)
                order += level
            self._members[group] = list(dict.fromkeys(h for g in order for h in self.groups[g].hosts))
        return list(self._members[group])

    # ------------------------------------------------------------ ansible-inventory views
    def to_ansible_list(self) -> dict[str, Any]:
        """The shape of ``ansible-inventory --list``: groups with hosts/children, ``_meta.hostvars``."""
        out: dict[str, Any] = {}

        def visit(name: str) -> None:
            group = self.groups[name]
            entry: dict[str, Any] = {}
            if name != "all" and group.hosts:
                entry["hosts"] = list(group.hosts)
            if group.children:
                entry["children"] = list(group.children)
            if entry:
                out[name] = entry
            for child in group.children:
                if child not in out:
                    visit(child)

        visit("all")
        hostvars = {h: listed(v) for h in self.host_names if (v := self.merged(h))}
        return {"_meta": {"hostvars": hostvars}, **out}

    def graph(self, group: str = "all") -> str:
        """The tree of ``ansible-inventory --graph``."""
        lines = [f"@{group}:"]

        def walk(name: str, depth: int) -> None:
            pad = "  |" * depth
            for child in self.groups[name].children:
                lines.append(f"{pad}--@{child}:")
                walk(child, depth + 1)
            if name != "all":
                lines.extend(f"{pad}--{h}" for h in self.groups[name].hosts)

        walk(group, 1)
        return "\n".join(lines)


# ---------------------------------------------------------------- values and host patterns


def _where(path: str, line: int | None) -> str:
    return f"{path}:{line}" if line else path


def _opened(value: Any, vault: Vault) -> Any:
    if isinstance(value, Vaulted):
        return vault.value(value)
    if isinstance(value, dict):
        return {k: _opened(v, vault) for k, v in value.items()}
    if isinstance(value, list):
        return [_opened(v, vault) for v in value]
    return value


def listed(value: Any) -> Any:
    """A value as ``ansible-inventory --list`` prints it: vaulted and unsafe values as tagged objects."""
    if isinstance(value, Vaulted):
        return value.as_ansible_list()
    if isinstance(value, Unsafe):
        return {"__ansible_unsafe": str(value)}
    if isinstance(value, dict):
        return {k: listed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [listed(v) for v in value]
    return value


def parse_value(text: str) -> Any:
    """A value as Ansible's INI parser reads it: a Python literal if it is one, else the string."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if value is ... or isinstance(value, complex):
        return str(value) if value is not ... else "..."
    return value


def expand_hostpattern(pattern: str) -> tuple[list[str], int | None]:
    """``web[01:03]:2222`` -> (["web01", "web02", "web03"], 2222). Raises ValueError with the reason."""
    pattern = pattern.strip()
    v6 = _IPV6_PORT.match(pattern)
    if (v6 and v6[1].count(":") >= 2) or (pattern.count(":") >= 2 and "[" not in pattern):
        return [v6[1] if v6 else pattern], int(v6[2]) if v6 and v6[2] else None
    if pattern.endswith(":"):
        raise ValueError(f"host {pattern!r} ends in ':', which is reserved for a port")
    name, port = split_host_port(pattern)
    if name == "---":
        raise ValueError("'---' starts a YAML document: a YAML inventory must be named *.yml or *.yaml")
    return _expand_ranges(name), port


def split_host_port(text: str) -> tuple[str, int | None]:
    """``web1:2222`` -> ("web1", 2222), ``[fe80::1]:22`` -> ("fe80::1", 22); a bare IPv6 address has no port."""
    v6 = _IPV6_PORT.match(text)
    if v6 and v6[1].count(":") >= 2:
        return v6[1], int(v6[2]) if v6[2] else None
    if text.count(":") >= 2 and "[" not in text:
        return text, None
    host_port = _HOST_PORT.match(text)
    if host_port and "]" not in host_port[2]:
        return host_port[1], int(host_port[2])
    return text, None


def _expand_ranges(name: str) -> list[str]:
    if "[" not in name:
        if "]" in name:
            raise ValueError(f"host {name!r} has a ']' without '['")
        return [name]
    head, rest = name.split("[", 1)
    if "]" not in rest:
        raise ValueError(f"host range in {name!r} has no closing ']'")
    spec, tail = rest.split("]", 1)
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise ValueError(f"host range [{spec}] must be [begin:end] or [begin:end:step]")
    beg, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise ValueError(f"host range [{spec}] has no end")
    try:
        step = int(step_text)
    except ValueError:
        raise ValueError(f"host range [{spec}]: step {step_text!r} is not a number") from None
    if step < 1:
        raise ValueError(f"host range [{spec}]: step must be 1 or more")
    if beg in string.ascii_letters and end in string.ascii_letters:
        i, j = string.ascii_letters.index(beg), string.ascii_letters.index(end)
        if i > j:
            raise ValueError(f"host range [{spec}]: begin comes after end")
        items = list(string.ascii_letters[i : j + 1 : step])
    elif beg.isdigit() and end.isdigit():
        if beg.startswith("0") and len(beg) > 1 and len(beg) != len(end):
            raise ValueError(f"host range [{spec}]: a zero-padded range needs begin and end of equal length")
        if int(beg) > int(end):
            raise ValueError(f"host range [{spec}]: begin is greater than end")
        width = len(beg) if beg.startswith("0") and len(beg) > 1 else 0
        items = [str(n).zfill(width) for n in range(int(beg), int(end) + 1, step)]
    else:
        raise ValueError(f"host range [{spec}] must be numbers (01:50) or single letters (a:f)")
    return [host for item in items for host in _expand_ranges(f"{head}{item}{tail}")]


# ---------------------------------------------------------------- INI


def parse_ini(text: str, source: str = "<memory>", inv: Inventory | None = None) -> Inventory:
    """An INI inventory, read into ``inv`` on top of what it holds (load() reconciles once all are read),
    or into a new one."""
    alone = inv is None
    inv = inv if inv is not None else Inventory(source)
    # Ansible's INI parser: a child listed before its own section joins its parents when that section comes
    # (so children are in the order they are declared), and [g:vars] alone does not declare g.
    pending_children: dict[str, list[tuple[str, int]]] = {}  # child -> [(parent, line listed)]
    pending_vars: dict[str, int] = {}
    group, state = "ungrouped", "hosts"

    def fail(lineno: int, message: str, hint: str = "") -> InventoryError:
        return InventoryError(source, lineno, message, hint)

    def declared(name: str) -> None:
        for parent, lineno in pending_children.pop(name, ()):
            inv.add_child(parent, name, lineno, source)
            if parent in pending_children and parent in inv.groups:
                declared(parent)

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        section = _SECTION.match(line)
        if section:
            group, state = section[1], section[2] or "hosts"
            if state not in ("hosts", "children", "vars"):
                raise fail(lineno, f"section [{group}:{state}] has unknown type {state!r}", "use :vars or :children")
            if group not in inv.groups:
                if state == "vars" and group not in pending_children:
                    pending_vars[group] = lineno
                inv.add_group(group, lineno)
            if state != "vars":
                pending_vars.pop(group, None)
                declared(group)
            continue
        if line.startswith("[") and line.endswith("]"):
            raise fail(
                lineno,
                f"invalid section header {line!r}",
                "write [group], [group:vars] or [group:children], with no spaces in the brackets",
            )
        if state == "hosts":
            _ini_host_line(inv, line, group, source, lineno, fail)
        elif state == "vars":
            if "=" not in line:
                raise fail(lineno, f"expected key=value in [{group}:vars], got {line!r}")
            key, value = (part.strip() for part in line.split("=", 1))
            if not key:
                raise fail(lineno, f"variable with no name in [{group}:vars]")
            inv.groups[group].set_var(key, parse_value(value), source, lineno)
        else:  # children
            match = _GROUP_LINE.match(line)
            if not match:
                raise fail(lineno, f"expected a group name in [{group}:children], got {line!r}")
            child = match[1]
            if child in inv.groups:
                inv.add_child(group, child, lineno, source)
            else:
                pending_children.setdefault(child, []).append((group, lineno))

    for child, parents in pending_children.items():
        parent, lineno = parents[-1]
        raise fail(
            lineno,
            f"[{parent}:children] includes undefined group {child!r}",
            f"declare it with a [{child}] or [{child}:children] section, or remove the line",
        )
    for name, lineno in pending_vars.items():
        raise fail(
            lineno,
            f"[{name}:vars] is for a group that is never declared",
            f"declare it with a [{name}] or [{name}:children] section, or fix the name",
        )
    if alone:
        inv.reconcile()
    return inv


def _ini_host_line(inv: Inventory, line: str, group: str, source: str, lineno: int, fail) -> None:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        raise fail(
            lineno, f"cannot parse host line ({exc}): {line!r}", "close the quote, or escape it with \\"
        ) from None
    if not tokens:
        return
    try:
        names, port = expand_hostpattern(tokens[0])
    except ValueError as exc:
        raise fail(lineno, str(exc)) from None
    variables: dict[str, Any] = {}
    for token in tokens[1:]:
        if "=" not in token:
            raise fail(
                lineno,
                f"expected key=value host variable, got {token!r}",
                "quote values that contain spaces: key='a value'",
            )
        key, value = token.split("=", 1)
        variables[key] = parse_value(value)
    for name in names:
        inv.add_host(name, group)
        if port is not None:
            inv.set_inline(name, {"ansible_port": port}, source, lineno)
        inv.set_inline(name, variables, source, lineno)


# ---------------------------------------------------------------- YAML


def _compose(text: str, source: str) -> yaml.Node | None:
    import yaml

    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise InventoryError(source, mark.line + 1 if mark else None, f"not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise InventoryError(source, None, f"not valid YAML: {exc}") from None


@functools.cache
def _loader() -> type:
    """PyYAML's safe loader, with Ansible's two tags: ``!vault`` (kept encrypted) and ``!unsafe``."""
    import yaml

    class Loader(yaml.SafeLoader):
        source = "<memory>"

    def vaulted(loader: Loader, node: yaml.Node) -> Vaulted:
        if not isinstance(node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(None, None, "!vault tags a string, the output of "
                                                    "ansible-vault encrypt_string", node.start_mark)  # fmt: skip
        return Vaulted(loader.construct_scalar(node), f"{loader.source}:{node.start_mark.line + 1}")

    def unsafe(loader: Loader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return Unsafe(loader.construct_scalar(node))
        value = loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode) else \
            loader.construct_mapping(node, deep=True)  # fmt: skip
        return _unsafe_strings(value)

    Loader.add_constructor("!vault", vaulted)
    Loader.add_constructor("!unsafe", unsafe)
    return Loader


def _unsafe_strings(value: Any) -> Any:
    if isinstance(value, str):
        return Unsafe(value)
    if isinstance(value, dict):
        return {k: _unsafe_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsafe_strings(v) for v in value]
    return value


def _construct(node: yaml.Node, source: str) -> Any:
    import yaml

    loader = _loader()("")
    loader.source = source
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise InventoryError(source, node.start_mark.line + 1, f"cannot read value: {_problem(exc)}") from None


def _problem(exc: Exception) -> str:
    """PyYAML's complaint without the excerpt of the file it quotes (which may be ciphertext)."""
    problem = getattr(exc, "problem", None)
    return problem if problem else str(exc).splitlines()[0]


def _mapping(node: yaml.Node | None, source: str, what: str) -> list[tuple[yaml.Node, yaml.Node]]:
    import yaml

    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"):
        return []
    if not isinstance(node, yaml.MappingNode):
        raise InventoryError(source, node.start_mark.line + 1, f"{what} must be a mapping, got {_kind(node)}")
    seen: set[str] = set()
    for key, _ in node.value:
        name = str(_construct(key, source))
        if name in seen:
            raise InventoryError(source, key.start_mark.line + 1, f"{what}: {name!r} appears twice")
        seen.add(name)
    return node.value


def _kind(node: yaml.Node) -> str:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.ScalarNode):
        return f"the value {node.value!r}"
    return "something else"


def parse_yaml(text: str, source: str = "<memory>", inv: Inventory | None = None) -> Inventory:
    """Ansible's YAML inventory: ``GROUP: {hosts: {NAME: vars}, vars: {...}, children: {GROUP: ...}}``,
    read into ``inv`` on top of what it holds (load() reconciles once all are read), or into a new one."""
    return _parse_yaml_root(_compose(text, source), source, inv)


def _parse_yaml_root(root: yaml.Node | None, source: str, inv: Inventory | None) -> Inventory:
    import yaml

    alone = inv is None
    inv = inv if inv is not None else Inventory(source)
    if root is None:
        raise InventoryError(source, None, "the file is empty", "a YAML inventory starts with 'all:'")
    if not isinstance(root, yaml.MappingNode):
        raise InventoryError(
            source,
            root.start_mark.line + 1,
            f"not an inventory: the top level is {_kind(root)}, not a mapping of groups",
            "a YAML inventory starts with 'all:' followed by hosts, vars and children",
        )

    def group_entry(name: str, node: yaml.Node | None, line: int) -> None:
        inv.add_group(name, line)
        for key, value in _mapping(node, source, f"group {name!r}"):
            section = _construct(key, source)
            lineno = key.start_mark.line + 1
            if section == "hosts":
                for host_key, host_vars in _mapping(value, source, f"hosts of group {name!r}"):
                    pattern = str(_construct(host_key, source))
                    try:
                        names, port = expand_hostpattern(pattern)
                    except ValueError as exc:
                        raise InventoryError(source, host_key.start_mark.line + 1, str(exc)) from None
                    pairs = _mapping(host_vars, source, f"variables of host {pattern!r}")
                    for host in names:
                        inv.add_host(host, name)
                        if port is not None:
                            inv.set_inline(host, {"ansible_port": port}, source, host_key.start_mark.line + 1)
                        for k, v in pairs:
                            inv.set_inline(host, {str(_construct(k, source)): _construct(v, source)},
                                           source, k.start_mark.line + 1)  # fmt: skip
            elif section == "vars":
                for k, v in _mapping(value, source, f"vars of group {name!r}"):
                    inv.groups[name].set_var(
                        str(_construct(k, source)), _construct(v, source), source, k.start_mark.line + 1
                    )
            elif section == "children":
                for child_key, child in _mapping(value, source, f"children of group {name!r}"):
                    child_name = str(_construct(child_key, source))
                    child_line = child_key.start_mark.line + 1
                    inv.add_group(child_name, child_line)
                    inv.add_child(name, child_name, child_line, source)
                    group_entry(child_name, child, child_line)
            else:
                raise InventoryError(
                    source,
                    lineno,
                    f"group {name!r} has an unknown key {section!r}",
                    "a group holds only 'hosts', 'vars' and 'children'; is this file an inventory?",
                )

    for key, value in root.value:
        name = str(_construct(key, source))
        group_entry(name, value, key.start_mark.line + 1)
    if alone:
        inv.reconcile()
    return inv


# ---------------------------------------------------------------- group_vars/ and host_vars/


def _vars_files(directory: Path, name: str) -> Iterator[Path]:
    """``NAME``, ``NAME.yml``, ``NAME.yaml``, ``NAME.json``, or every file of a ``NAME/`` directory."""
    for candidate in (directory / name, *(directory / f"{name}{s}" for s in YAML_SUFFIXES)):
        if candidate.is_dir():
            yield from sorted(p for p in candidate.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif candidate.is_file():
            yield candidate


def load_vars_file(path: Path, origins: dict[str, str] | None = None, vault: Vault | None = None) -> dict[str, Any]:
    """A vars file's variables (the file may be vaulted whole); ``origins`` receives ``file:line`` for each."""
    source = str(path)
    text, vaulted = read_source(path, vault)
    node = _compose(text, source)
    out = {}
    for k, v in _mapping(node, source, "a vars file"):
        key = str(_construct(k, source))
        out[key] = _construct(v, source)
        if origins is not None:
            origins[key] = f"{source}:{k.start_mark.line + 1}"
    if vaulted:
        _secret(out.values())
    return out


def read_source(path: Path, vault: Vault | None = None) -> tuple[str, bool]:
    """A file's text, decrypted if ansible-vault encrypted it whole (then True)."""
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InventoryError(source, None, "no such file", "check the path given with -i") from None
    except OSError as exc:
        raise InventoryError(source, None, f"cannot read: {exc.strerror or exc}") from None
    if is_vaulted(data):
        return (vault or Vault()).decrypt(data.decode("ascii", "replace"), source), True
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError as exc:
        raise InventoryError(source, data[: exc.start].count(b"\n") + 1, "not UTF-8 text") from None


def _secret(values: Iterable[Any]) -> None:
    """Mask, from now on, every text among values read from a vaulted file."""
    from installer import events
    from installer.vault import SHORTEST_MASKED

    for value in values:
        if isinstance(value, str) and len(value) >= SHORTEST_MASKED:
            events.redact(value)
        elif isinstance(value, dict):
            _secret(value.values())
        elif isinstance(value, list):
            _secret(value)


def _load_vars_dirs(inv: Inventory, base: Path) -> None:
    for kind, names, target in (
        ("group_vars", list(inv.groups), inv.group_var_files),
        ("host_vars", inv.host_names, inv.host_var_files),
    ):
        directory = base / kind
        if not directory.is_dir():
            continue
        for name in names:
            merged: dict[str, Any] = {}
            origins: dict[str, str] = {}
            for path in _vars_files(directory, name):
                merged.update(load_vars_file(path, origins, inv.vault))
            if merged:
                target[name] = merged
                inv.var_file_origins[f"{kind}/{name}"] = origins


# ---------------------------------------------------------------- entry point


# Files a directory of inventories skips, as Ansible's inventory_ignore_extensions does.
IGNORED_SUFFIXES = ("~", ".orig", ".bak", ".cfg", ".retry", ".pyc", ".pyo", ".swp", ".rpm", ".md", ".txt", ".rst")
VARS_DIRS = ("group_vars", "host_vars")


def load(*paths: str | os.PathLike[str], vault: Vault | None = None) -> Inventory:
    """Read inventory sources, merged in the order given (Ansible's -i -i): INI files, YAML by their
    suffix, host lists, scripts, --list JSON, plugin configurations (installer.inventory_sources), and
    directories of them; then group_vars/ and host_vars/ beside each file (inside each directory), the
    later ones winning."""
    if not paths:
        raise InventoryError("-i", None, "no inventory given", "give an inventory file with -i")
    from installer import inventory_sources as sources

    inv = Inventory(", ".join(str(p) for p in paths), vault)
    bases: list[Path] = []
    read: list[str] = []
    for path in paths:
        if sources.is_host_list(str(path)):
            sources.read_host_list(str(path), inv)
            read.append(str(path))
            continue
        p = Path(path)
        files = _directory_sources(p) if p.is_dir() else [p]
        for f in files:
            _parse_file(f, inv, read)
            read.append(str(f))
        base = p if p.is_dir() else p.parent
        if base not in bases:
            bases.append(base)
    inv.reconcile()
    for base in bases:
        _load_vars_dirs(inv, base)
    return inv


def _directory_sources(directory: Path) -> list[Path]:
    sources = sorted(
        p for p in directory.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(IGNORED_SUFFIXES)
    )  # fmt: skip
    if not sources:
        raise InventoryError(str(directory), None, "a directory with no inventory file in it",
                             "give an inventory file, or a directory holding some")  # fmt: skip
    return sources


def _parse_file(p: Path, inv: Inventory, before: list[str]) -> None:
    """One file, as the first of Ansible's default inventory plugins that accepts it reads it: an
    executable script, a YAML plugin configuration, ansible-inventory's --list JSON, YAML, else INI.
    ``before``: the sources given before this one (the ``constructed`` plugin reads their hosts)."""
    from installer import inventory_sources as sources

    if sources.is_script(p):
        sources.read_script(p, inv)
        return
    source = str(p)
    text, vaulted = read_source(p, inv.vault)
    if p.suffix in YAML_SUFFIXES:
        root = _compose(text, source)
        plugin = _top_scalar(root, "plugin")
        if plugin and p.suffix != ".json":
            sources.read_plugin(p, plugin, inv, before)
        elif _top_scalar(root, "_meta", mapping=True):
            sources.read_json(_construct(root, source), inv, source)
        else:
            _parse_yaml_root(root, source, inv)
    else:
        parse_ini(text, source, inv)
    if vaulted:  # every variable this file set is a secret (its host and group names are not)
        _secret(
            v for g in inv.groups.values() for k, v in g.vars.items() if g.var_origins.get(k, "").startswith(source)
        )
        _secret(v for h, variables in inv.inline_vars.items() for k, v in variables.items()
                if inv.inline_origins[h].get(k, "").startswith(source))  # fmt: skip


def _top_scalar(root: yaml.Node | None, key: str, mapping: bool = False) -> str | None:
    """The value of a top-level key of a YAML document (a mapping's presence: its key), or None."""
    import yaml

    if not isinstance(root, yaml.MappingNode):
        return None
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            if mapping and isinstance(v, yaml.MappingNode):
                return key
            if not mapping and isinstance(v, yaml.ScalarNode):
                return v.value
    return None
