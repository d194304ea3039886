"""Inventory variables rendered as Ansible renders them: Jinja2 in a sandbox, with the host's variables,
``inventory_hostname``, ``group_names``, ``groups`` and ``hostvars`` in scope, Jinja2's filters and Ansible's
core ones. A lookup, or a filter or test that is not here, is refused by name; ``!unsafe`` values stay as
written. A value that is one expression keeps its type (``"{{ 7*7 }}"`` is 49), as in ansible-core 2.19;
anything else renders to text.

    Inventory.merged(host) ─▶ render(host, variables, inventory) ─▶ the values pyinstall uses

Rendering is lazy, variable by variable, so one may use another, and a loop is named.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from installer.errors import InventoryError
from installer.vault import Unsafe

if TYPE_CHECKING:
    from installer.inventory import Inventory

_MARKERS = ("{{", "{%", "{#")
_ONE_EXPRESSION = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}).)*)\}\}$", re.S)


def templated(value: Any) -> bool:
    """Whether a value holds a template (an unsafe value never does)."""
    if isinstance(value, Unsafe):
        return False
    if isinstance(value, str):
        return any(m in value for m in _MARKERS)
    if isinstance(value, dict):
        return any(templated(v) for v in value.values())
    if isinstance(value, list):
        return any(templated(v) for v in value)
    return False


class TemplateProblem(Exception):
    """What is wrong with a template, in a sentence."""


# ---------------------------------------------------------------- Ansible's core filters and tests


def _bool(value: Any) -> bool:
    from installer.truth import boolean

    parsed = boolean(value)
    if parsed is None:
        raise TemplateProblem(f"bool: {value!r} is not a boolean")
    return parsed


def _to_yaml(value: Any, **kw: Any) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=kw.pop("default_flow_style", None), **kw)


def _from_yaml(value: str) -> Any:
    import yaml

    return yaml.safe_load(value)


def _combine(*dicts: Any, recursive: bool = False, list_merge: str = "replace") -> dict[str, Any]:
    def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            if recursive and isinstance(out.get(k), dict) and isinstance(v, dict):
                out[k] = merge(out[k], v)
            elif list_merge == "append" and isinstance(out.get(k), list) and isinstance(v, list):
                out[k] = out[k] + v
            else:
                out[k] = v
        return out

    result: dict[str, Any] = {}
    for d in dicts:
        for one in d if isinstance(d, list) else [d]:
            result = merge(result, one)
    return result


def _flatten(value: list[Any], levels: int | None = None) -> list[Any]:
    out: list[Any] = []
    for item in value:
        if isinstance(item, list) and (levels is None or levels > 0):
            out.extend(_flatten(item, None if levels is None else levels - 1))
        elif item is not None:
            out.append(item)
    return out


def _unique(value: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in value:
        if item not in out:
            out.append(item)
    return out


def _regex_search(value: str, pattern: str, *groups: str, ignorecase: bool = False) -> Any:
    found = re.search(pattern, value, re.I if ignorecase else 0)
    if not found:
        return None
    if not groups:
        return found.group(0)
    return [found.group(int(g[1:]) if g.startswith("\\") else g) for g in groups]


def _ternary(value: Any, true: Any, false: Any, none: Any = None) -> Any:
    if value is None and none is not None:
        return none
    return true if value else false


def _hash(value: str, kind: str = "sha1") -> str:
    if kind not in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512"):
        raise TemplateProblem(f"hash: {kind!r} is not a hash pyinstall renders")
    return hashlib.new(kind, str(value).encode()).hexdigest()


def _mandatory(value: Any, msg: str | None = None) -> Any:
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        raise TemplateProblem(msg or "a mandatory variable is not defined")
    return value


FILTERS: dict[str, Callable[..., Any]] = {
    "bool": _bool,
    "ternary": _ternary,
    "to_json": lambda v, **kw: json.dumps(v, **kw),
    "to_nice_json": lambda v, indent=4, **kw: json.dumps(v, indent=indent, sort_keys=True, **kw),
    "from_json": json.loads,
    "to_yaml": _to_yaml,
    "to_nice_yaml": lambda v, indent=4, **kw: _to_yaml(v, indent=indent, default_flow_style=False, **kw),
    "from_yaml": _from_yaml,
    "b64encode": lambda v, encoding="utf-8": base64.b64encode(str(v).encode(encoding)).decode(),
    "b64decode": lambda v, encoding="utf-8": base64.b64decode(str(v)).decode(encoding),
    "regex_replace": lambda v, p, r="", ignorecase=False, count=0: re.sub(
        p, r, str(v), count=count, flags=re.I if ignorecase else 0
    ),
    "regex_search": _regex_search,
    "regex_findall": lambda v, p, ignorecase=False: re.findall(p, str(v), re.I if ignorecase else 0),
    "regex_escape": lambda v: re.escape(str(v)),
    "quote": lambda v: shlex.quote(str(v)),
    "basename": lambda v: posixpath.basename(str(v)),
    "dirname": lambda v: posixpath.dirname(str(v)),
    "splitext": lambda v: list(posixpath.splitext(str(v))),
    "expanduser": lambda v: os.path.expanduser(str(v)),
    "combine": _combine,
    "dict2items": lambda d, key_name="key", value_name="value": [{key_name: k, value_name: v} for k, v in d.items()],
    "items2dict": lambda items, key_name="key", value_name="value": {i[key_name]: i[value_name] for i in items},
    "flatten": _flatten,
    "unique": _unique,
    "union": lambda a, b: _unique([*a, *b]),
    "intersect": lambda a, b: [x for x in _unique(list(a)) if x in b],
    "difference": lambda a, b: [x for x in _unique(list(a)) if x not in b],
    "symmetric_difference": lambda a, b: [x for x in _unique([*a, *b]) if (x in a) != (x in b)],
    "mandatory": _mandatory,
    "hash": _hash,
    "checksum": lambda v: _hash(v, "sha1"),
    "type_debug": lambda v: type(v).__name__,
    "split": lambda v, sep=None, maxsplit=-1: str(v).split(sep, maxsplit),
}


def _version(value: Any, other: Any, operator: str = "eq", strict: bool = False) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        a, b = Version(str(value)), Version(str(other))
    except InvalidVersion as exc:
        raise TemplateProblem(f"version: {exc}") from None
    ops = {"eq": a == b, "==": a == b, "ne": a != b, "!=": a != b, "lt": a < b, "<": a < b, "le": a <= b,
           "<=": a <= b, "gt": a > b, ">": a > b, "ge": a >= b, ">=": a >= b}  # fmt: skip
    if operator not in ops:
        raise TemplateProblem(f"version: {operator!r} is not a comparison")
    return ops[operator]


TESTS: dict[str, Callable[..., bool]] = {
    "match": lambda v, p, ignorecase=False: re.match(p, str(v), re.I if ignorecase else 0) is not None,
    "search": lambda v, p, ignorecase=False: re.search(p, str(v), re.I if ignorecase else 0) is not None,
    "regex": lambda v, p, ignorecase=False, match_type="search": (
        getattr(re, match_type)(p, str(v), re.I if ignorecase else 0) is not None
    ),
    "version": _version,
    "version_compare": _version,
    "truthy": lambda v: bool(v),
    "falsy": lambda v: not v,
    "contains": lambda seq, v: v in seq,
    "subset": lambda a, b: set(a) <= set(b),
    "superset": lambda a, b: set(a) >= set(b),
}


@functools.cache
def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    env.globals.clear()  # no range(), lipsum(), dict(), cycler...: what Ansible's inventory needs only
    env.globals.update(range=range, dict=dict)

    def refused(name: str) -> Callable[..., Any]:
        def call(*_: Any, **__: Any) -> Any:
            raise TemplateProblem(f"{name}() reads outside the inventory: pyinstall does not run lookups")

        return call

    env.globals.update(lookup=refused("lookup"), query=refused("query"), q=refused("q"))
    return env


# ---------------------------------------------------------------- rendering a host's variables


class _Scope(Mapping[str, Any]):
    """The variables a host's templates see: its own (rendered when first read), then Ansible's magic
    variables."""

    def __init__(self, name: str, raw: dict[str, Any], inv: Inventory) -> None:
        self.name, self.raw, self.inv = name, raw, inv
        self.done: dict[str, Any] = {}
        self.rendering: list[str] = []

    @functools.cached_property
    def magic(self) -> dict[str, Any]:
        return {
            "inventory_hostname": self.name,
            "inventory_hostname_short": self.name.split(".", 1)[0],
            "group_names": sorted(g for g in self.inv.host_groups(self.name) if g != "all"),
            "groups": _Groups(self.inv),
            "hostvars": _HostVars(self.inv),
        }

    def __getitem__(self, key: str) -> Any:
        if key in self.done:
            return self.done[key]
        if key not in self.raw:
            magic = self.magic
            return magic[key] if key in magic else _environment().globals[key]
        if key in self.rendering:
            chain = " -> ".join([*self.rendering[self.rendering.index(key) :], key])
            raise TemplateProblem(f"a variable refers to itself: {chain}")
        self.rendering.append(key)
        try:
            value = self.done[key] = _render_value(self.raw[key], self)
        finally:
            self.rendering.pop()
        return value

    def __iter__(self) -> Iterator[str]:
        return iter({*self.raw, *self.magic, *_environment().globals})

    def __len__(self) -> int:
        return len({*self.raw, *self.magic, *_environment().globals})


class _Groups(Mapping[str, list[str]]):
    """``groups``: each group's hosts, listed when read (a large inventory is not walked for one name)."""

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv

    def __getitem__(self, group: str) -> list[str]:
        if group not in self.inv.groups:
            raise KeyError(group)
        return self.inv.group_hosts(group)

    def __iter__(self) -> Iterator[str]:
        return iter(self.inv.groups)

    def __len__(self) -> int:
        return len(self.inv.groups)


class _HostVars(Mapping[str, Any]):
    """``hostvars``: every host's variables, rendered when read."""

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv

    def __getitem__(self, host: str) -> Mapping[str, Any]:
        if host not in self.inv.inline_vars:
            raise KeyError(host)
        return _Scope(host, self.inv.opened(host), self.inv)

    def __iter__(self) -> Iterator[str]:
        return iter(self.inv.host_names)

    def __len__(self) -> int:
        return len(self.inv.host_names)


def _render_value(value: Any, scope: _Scope) -> Any:
    if isinstance(value, Unsafe) or not templated(value):
        return value
    if isinstance(value, dict):
        return {k: _render_value(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_value(v, scope) for v in value]
    return _render_text(value, scope)


def _render_text(text: str, scope: _Scope) -> Any:
    from jinja2 import TemplateError, Undefined, UndefinedError
    from jinja2.exceptions import SecurityError

    try:
        # The scope is shared, not copied (as Template.render would copy it): variables render when read.
        template, one = _compiled(text)
        if one:
            context = template.new_context(scope, shared=True)
            for _ in template.root_render_func(context):
                pass
            result = context.vars["result"]
            if isinstance(result, Undefined):
                str(result)  # raises what made it undefined: a missing name, an attribute the sandbox refuses
            return result
        return "".join(template.root_render_func(template.new_context(scope, shared=True)))
    except TemplateProblem:
        raise
    except UndefinedError as exc:
        raise TemplateProblem(f"{exc.message}") from None
    except SecurityError as exc:
        raise TemplateProblem(f"the sandbox refused it: {exc}") from None
    except TemplateError as exc:
        message = str(exc.message or exc).splitlines()[0]
        if message.startswith(("No filter named", "No test named")):
            message += ": not one pyinstall renders (Jinja2's filters and Ansible's core ones are)"
        raise TemplateProblem(message) from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError) as exc:
        raise TemplateProblem(f"{type(exc).__name__}: {exc}") from None


@functools.lru_cache(maxsize=4096)
def _compiled(text: str) -> tuple[Any, bool]:
    """A template compiled once (a group variable is rendered for each of its hosts), and whether it is one
    expression (its value keeps its type)."""
    env = _environment()
    one = _ONE_EXPRESSION.match(text)
    if one:
        return env.compile_expression(one["expr"], undefined_to_none=False)._template, True
    return env.from_string(text), False


def render(name: str, variables: dict[str, Any], inv: Inventory) -> dict[str, Any]:
    """A host's variables, every template rendered; a template that cannot be is an InventoryError naming
    where the variable was set."""
    if not templated(variables):
        return variables
    scope = _Scope(name, variables, inv)
    out = {}
    for key in variables:
        try:
            out[key] = scope[key]
        except TemplateProblem as exc:
            where = inv.origin(name, key) or inv.source
            hint = "fix the template, or mark the value !unsafe to keep it as written"
            raise InventoryError(where, None, f"{key} (host {name}): cannot render {variables[key]!r}: {exc}",
                                 hint) from None  # fmt: skip
    return out
