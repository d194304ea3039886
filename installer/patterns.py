"""Host patterns, as ``--limit`` takes them: Ansible's syntax.

``web,db`` (or ``web:db`` when there is no comma) unions, ``&staging`` intersects, ``!db03`` excludes, ``web*`` and
``~web\\d+`` match host and group names, ``web[0]``/``web[1:3]`` pick from a group, ``all``/``*`` is
everything, and ``@FILE`` reads one pattern per line (a retry file). Unions come first, then
intersections, then exclusions, whatever the order written.

Order is Ansible's: a term lists a group's hosts as Inventory.group_hosts does (so ``db[1]`` is the
host Ansible picks), and the selection keeps the order of ``all``, as ``ansible-playbook --limit``
filters a play on ``hosts: all``: batches and reports go host by host as Ansible's would.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from installer.errors import PatternError
from installer.inventory import Inventory

# Ansible's subscript: any pattern followed by [N] (N may be negative), [N:M], [N:] or the old [N-M].
_SUBSCRIPT = re.compile(r"^(?P<base>.+)\[(?:(?P<index>-?\d+)|(?P<start>\d+)[:-](?P<end>\d*))\]$")


@dataclass
class Selection:
    hosts: list[str]  # in the order of Ansible's "all"
    unmatched: list[str] = field(default_factory=list)  # terms that matched nothing (worth a warning)


_COLON_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


def split_pattern(pattern: str) -> list[str]:
    """Ansible's split: on commas if there are any, else on colons outside ``[...]``, unless the whole
    pattern is an IPv6 address."""
    if "," in pattern:
        return [t.strip() for t in pattern.split(",") if t.strip()]
    pattern = pattern.strip()
    bare = pattern[1:] if pattern[:1] in "!&" else pattern
    try:
        ipaddress.IPv6Address(bare.strip("[]"))
        return [pattern] if pattern else []
    except ValueError:
        pass
    return _COLON_TERMS.findall(pattern)


def _expand_files(terms: list[str]) -> list[str]:
    out: list[str] = []
    for term in terms:
        if not term.startswith("@"):
            out.append(term)
            continue
        path = Path(term[1:])
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise PatternError(f"cannot read limit file {path}: {exc.strerror}", "check the path after '@'") from None
        out.extend(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return out


def _match(inv: Inventory, term: str) -> list[str]:
    """The hosts one term designates, in Ansible's order: a subscript picks from what the rest of the
    term matches (``web*[0:1]``; ``db0[1:2]`` is the 2nd and 3rd host named ``db0``, so none)."""
    sub = None if term.startswith("~") else _SUBSCRIPT.match(term)
    if sub is None:
        return _enumerate(inv, term)
    hosts = _enumerate(inv, sub["base"])
    if sub["index"] is not None:
        index = int(sub["index"])
        if hosts and not -len(hosts) <= index < len(hosts):
            raise PatternError(
                f"no host at position {index} of {sub['base']!r}: it matches {len(hosts)} hosts",
                f"count from 0 (or from -1 at the end); {sub['base']}[0:{len(hosts) - 1}] is all of them",
            )
        return [hosts[index]] if hosts else []
    start, end = int(sub["start"]), int(sub["end"]) if sub["end"] else -1
    if end == 0:  # Ansible reads [N:0] as [N]
        return hosts[start : start + 1]
    return hosts[start:] if end == -1 else hosts[start : end + 1]


def _enumerate(inv: Inventory, term: str) -> list[str]:
    """Ansible's _enumerate_matches: the hosts of each matching group (groups in the order they were
    declared), then the matching host names (in the order they first appeared), each host once."""
    if term in ("all", "*"):
        return inv.group_hosts("all")
    if term in inv.groups:
        return inv.group_hosts(term)
    if term in inv.inline_vars:
        return [term]
    if term.startswith("~"):
        try:
            regex = re.compile(term[1:])
        except re.error as exc:
            raise PatternError(f"bad regular expression in host pattern {term!r}: {exc}") from None
        matches = lambda name: regex.match(name) is not None  # noqa: E731
    elif any(c in term for c in "*?["):
        matches = lambda name: fnmatch.fnmatchcase(name, term)  # noqa: E731
    else:
        return []
    found = [h for group in inv.groups if matches(group) for h in inv.group_hosts(group)]
    found += [h for h in inv.host_names if matches(h)]
    return list(dict.fromkeys(found))


def select(inv: Inventory, pattern: str | None) -> Selection:
    """The hosts a pattern designates, in the order of ``all``."""
    everyone = inv.group_hosts("all")
    if pattern is None or not pattern.strip():
        return Selection(everyone)
    terms = _expand_files(split_pattern(pattern))
    if not terms:
        raise PatternError(f"empty host pattern {pattern!r}")
    union = [t for t in terms if not t.startswith(("!", "&"))]
    intersect = [t[1:] for t in terms if t.startswith("&")]
    exclude = [t[1:] for t in terms if t.startswith("!")]
    unmatched: list[str] = []
    chosen: set[str] = set()
    for term in union or ["all"]:
        found = [term] if term in inv.inline_vars else _match(inv, term)  # a host's own name first, as Ansible
        if not found:
            unmatched.append(term)
        chosen.update(found)
    for term in intersect:
        found = _match(inv, term)
        if not found:
            unmatched.append("&" + term)
        chosen &= set(found)
    for term in exclude:
        found = _match(inv, term)
        if not found:
            unmatched.append("!" + term)
        chosen -= set(found)
    return Selection([h for h in everyone if h in chosen], unmatched)
