"""`docker info` text, every era: 1.7 (EL6) to current, with or without Client:/Server: sections.

    text ─▶ parse() ─▶ DockerInfo (a tree of the server's part) ─▶ to_dict() (named fields + the tree)

The output is an indented tree of ``Key: value`` lines. A key may carry a value and children at once
(``Storage Driver: devicemapper`` then its status lines): it becomes ``{"value": ..., <children>}``.
Bare lines (``seccomp``, ``127.0.0.0/8``, ``rack=r12``) are members of their section: a section of bare
lines only becomes a list. WARNING lines (from stderr, wherever 2>&1 put them, with their indented
continuation lines) and ERROR/"Cannot connect" lines are collected apart. A paste that lost its
indentation is re-nested with the keys every era prints under Containers, Storage Driver and Plugins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_SECTION = re.compile(r"^(Client|Server):(?:\s.*)?$")
_UNREACHABLE = re.compile(
    r"^(ERROR:|Cannot connect to the Docker daemon|error during connect|errors pretty printing info)"
)
_DEBUG = re.compile(r"^Debug [Mm]ode( \(server\))?$")
_SIZE = re.compile(r"^\s*([\d.]+)\s*([kKMGTP]i?B|B)\s*$")
# Children every era prints under these keys, for pastes whose indentation was lost.
_CHILDREN = {
    "Containers": {"Running", "Paused", "Stopped"},
    "Storage Driver": {
        "Pool Name", "Pool Blocksize", "Base Device Size", "Backing Filesystem", "Data file", "Metadata file",
        "Data Space Used", "Data Space Total", "Data Space Available", "Metadata Space Used",
        "Metadata Space Total", "Metadata Space Available", "Thin Pool Minimum Free Space", "Udev Sync Supported",
        "Deferred Removal Enabled", "Deferred Deletion Enabled", "Deferred Deleted Device Count", "Data loop file",
        "Metadata loop file", "Library Version", "Supports d_type", "Native Overlay Diff", "Using metacopy",
        "userxattr", "Root Dir", "Dirs", "Dirperm1 Supported", "Zpool", "Zpool Health", "Build Version",
    },
    "Plugins": {"Volume", "Network", "Authorization", "Log"},
}  # fmt: skip


@dataclass
class DockerInfo:
    tree: dict[str, Any] = field(default_factory=dict)  # the server's part, as printed
    client: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def reachable(self) -> bool:
        return not self.errors and bool(self.tree)

    def get(self, *path: str) -> Any:
        """A value by its printed keys; a key with children gives its own value."""
        node: Any = self.tree
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node.get("value") if isinstance(node, dict) else node

    def driver_status(self, key: str) -> str | None:
        return self.get("Storage Driver", key)

    @property
    def storage_driver(self) -> str | None:
        return self.get("Storage Driver")

    @property
    def server_version(self) -> str | None:
        return self.get("Server Version")

    def to_dict(self) -> dict[str, Any]:
        return {
            "reachable": self.reachable,
            "server_version": self.server_version,
            "storage_driver": self.storage_driver,
            "backing_filesystem": self.driver_status("Backing Filesystem"),
            "supports_d_type": _bool(self.driver_status("Supports d_type")),
            "pool_name": self.driver_status("Pool Name"),  # devicemapper's thin pool
            "data_loop_file": self.driver_status("Data loop file"),
            "metadata_loop_file": self.driver_status("Metadata loop file"),
            "data_space_used": self.driver_status("Data Space Used"),
            "data_space_total": self.driver_status("Data Space Total"),
            "kernel_version": self.get("Kernel Version"),
            "operating_system": self.get("Operating System"),
            "cpus": _int(self.get("CPUs")),
            "total_memory": self.get("Total Memory"),
            "name": self.get("Name"),
            "id": self.get("ID"),
            "docker_root_dir": self.get("Docker Root Dir"),
            "cgroup_driver": self.get("Cgroup Driver"),
            "containers": _int(self.get("Containers")),
            "images": _int(self.get("Images")),
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "sections": self.tree,
        }


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _bool(value: Any) -> bool | None:
    return {"true": True, "false": False}.get(str(value).lower()) if value is not None else None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _collapse(node: Any) -> Any:
    """Sections made of bare lines only become lists; ``None`` marks a bare line."""
    if not isinstance(node, dict):
        return node
    if node and all(v is None for v in node.values()):
        return list(node)
    return {k: _collapse(v) for k, v in node.items()}


def _renest_flat(lines: list[str]) -> list[str]:
    """Give back the indentation of a paste that lost it (no line starts with a space)."""
    out, parent = [], None
    for line in lines:
        key = line.split(":", 1)[0].strip()
        if parent and key in _CHILDREN[parent]:
            out.append(" " + line)
            continue
        parent = key if key in _CHILDREN else None
        out.append(line)
    return out


def _tree(lines: list[str], info: DockerInfo) -> dict[str, Any]:
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    last: tuple[int, dict[str, Any], str] | None = None  # the last key line: its indent, parent and key
    warning_indent: int | None = None
    for raw in lines:
        line = raw.rstrip()
        text = line.strip()
        if not text:
            warning_indent = None
            continue
        indent = _indent(line)
        if warning_indent is not None and indent > warning_indent and ": " not in text:
            info.warnings[-1] += " " + text  # a WARNING's continuation line
            continue
        warning_indent = None
        if text.startswith("WARNING:"):
            info.warnings.append(text)
            warning_indent = indent
            continue
        if _UNREACHABLE.match(text):
            info.errors.append(text)
            continue
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if last and indent > last[0] and last[1] is parent and not isinstance(parent.get(last[2]), dict):
            value = parent[last[2]]
            parent[last[2]] = {"value": value} if value not in ("", None) else {}
            stack.append((last[0], parent[last[2]]))
            parent = parent[last[2]]
        key, sep, value = text.partition(": ")
        if not sep and text.endswith(":"):
            key, value, sep = text[:-1], "", ": "
        if sep:
            parent[key.strip()] = value.strip()
        else:
            parent[text] = None  # a bare line
            key = text
        last = (indent, parent, key.strip())
    return _collapse(root)


def parse(text: str) -> DockerInfo:
    """Parse `docker info` output (stdout, or stdout and stderr together)."""
    info = DockerInfo()
    lines = text.replace("\r\n", "\n").split("\n")
    if not any(line[:1] in (" ", "\t") for line in lines if line.strip()):
        lines = _renest_flat(lines)
    parts: dict[str, list[str]] = {"": []}
    current = ""
    for line in lines:
        match = _SECTION.match(line)
        if match:
            current = match[1]
            parts[current] = []
            continue
        parts[current].append(line)
    if "Server" in parts or "Client" in parts:
        client = DockerInfo()  # the client's warnings are not the server's
        info.client = _tree(parts.get("Client", []), client)
        info.errors += client.errors
        info.tree = _hoist_debug(_tree(parts.get("Server", []) + parts[""], info))
    else:
        info.tree = _hoist_debug(_tree(parts[""], info))
    return info


def _hoist_debug(tree: dict[str, Any]) -> dict[str, Any]:
    """Daemons in debug mode (1.8 to 1.10) print server fields, ``Docker Root Dir`` and the proxies among
    them, indented under ``Debug mode (server): true``: they belong to the server, where every other era
    prints them. A field printed at both places keeps its top-level value."""
    out: dict[str, Any] = {}
    for key, node in tree.items():
        if _DEBUG.match(key) and isinstance(node, dict):
            out[key] = node.get("value")
            for child, value in node.items():
                if child != "value" and child not in tree:
                    out.setdefault(child, value)
        else:
            out[key] = node
    return out


def size_bytes(text: str | None) -> float | None:
    """``107.4 GB`` (decimal) or ``1.5GiB`` (binary) -> bytes."""
    if not text:
        return None
    match = _SIZE.match(text)
    if not match:
        return None
    number, unit = float(match[1]), match[2]
    powers = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}
    return number * (1024 if "i" in unit else 1000) ** powers[unit[0].upper()]
