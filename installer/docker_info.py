"""`docker info` text, every era: 1.7 (EL6) to current, with or without Client:/Server: sections.

    text ─▶ parse() ─▶ DockerInfo (a tree of the output) ─▶ to_dict() (named fields + everything else)

Keys may carry a value and children at once (``Storage Driver: devicemapper`` then its status lines);
such a key becomes ``{"value": ..., <children>}`` in the tree. Lines without ``key: value`` inside a
section (``Labels:``, ``Insecure Registries:``, ``Security Options:``) are kept as its ``items``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_UNREACHABLE = re.compile(r"Cannot connect to the Docker daemon|Is the docker daemon running|error during connect")
_SIZE = re.compile(r"^\s*([\d.]+)\s*([KMGTP]i?B|B)\s*$")


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
        cpus = self.get("CPUs")
        return {
            "reachable": self.reachable,
            "server_version": self.server_version,
            "storage_driver": self.storage_driver,
            "backing_filesystem": self.driver_status("Backing Filesystem"),
            "supports_d_type": self.driver_status("Supports d_type"),
            "data_loop_file": self.driver_status("Data loop file"),
            "metadata_loop_file": self.driver_status("Metadata loop file"),
            "data_space_used": self.driver_status("Data Space Used"),
            "data_space_total": self.driver_status("Data Space Total"),
            "kernel_version": self.get("Kernel Version"),
            "operating_system": self.get("Operating System"),
            "cpus": int(cpus) if isinstance(cpus, str) and cpus.isdigit() else None,
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


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _parse_block(lines: list[str], info: DockerInfo) -> dict[str, Any]:
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    last: tuple[int, dict[str, Any], str] | None = None  # (indent, parent, key) of the last key line
    for raw in lines:
        line = raw.rstrip()
        text = line.strip()
        if not text:
            continue
        if text.startswith("WARNING:"):
            info.warnings.append(text)
            continue
        if text.startswith("ERROR:") or _UNREACHABLE.search(text):
            info.errors.append(text)
            continue
        indent = _indent(line)
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if last and indent > last[0] and last[1] is parent and not isinstance(parent.get(last[2]), dict):
            # children under a key that has a value: "Storage Driver: overlay2" then its status lines
            value = parent[last[2]]
            parent[last[2]] = {"value": value} if value != "" else {}
            stack.append((last[0], parent[last[2]]))
            parent = parent[last[2]]
        key, sep, value = text.partition(": ")
        if not sep and text.endswith(":"):
            key, value, sep = text[:-1], "", ": "
        if not sep:
            parent.setdefault("items", []).append(text)
            continue
        key = key.strip()
        parent[key] = value.strip()
        last = (indent, parent, key)
    return root


def parse(text: str) -> DockerInfo:
    """Parse `docker info` output (stdout, or stdout and stderr together)."""
    info = DockerInfo()
    lines = text.replace("\r\n", "\n").split("\n")
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in lines:
        if line.strip() in ("Client:", "Server:") and not line.startswith(" "):
            current = line.strip()[:-1]
            sections[current] = []
            continue
        sections.setdefault(current, []).append(line)
    if "Server" in sections or "Client" in sections:
        info.client = _parse_block(sections.get("Client", []), info)
        info.tree = _parse_block(sections.get("Server", []) + sections[""], info)
    else:
        info.tree = _parse_block(sections[""], info)
    return info


def size_bytes(text: str | None) -> float | None:
    """``107.4 GB`` or ``1.5GiB`` -> bytes."""
    if not text:
        return None
    match = _SIZE.match(text)
    if not match:
        return None
    number, unit = float(match[1]), match[2]
    powers = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}
    base = 1024 if "i" in unit else 1000
    return number * base ** powers[unit[0]]
