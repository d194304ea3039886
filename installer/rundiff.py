"""`pyinstall runs diff A B`: what changed on the fleet between two kept runs. Pure: two runs as
records.run() returns them in, one document out (text or JSON from it).

    run A, run B ─▶ diff() ─▶ {hosts added and gone, per host: status, Docker version and driver,
                               findings and drift that appeared or cleared} ─▶ render() / JSON

Runs of different commands look at different things: their statuses are compared as good or not (a
provision's "changed" and a later info's "ok" are both good), and a finding is never said to have cleared
because the later command does not look for it. Drift is known from info (measured) and from a provision
that succeeded (it left the host as asked); where one side does not know it, what the other found is
listed as found, not as appeared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from installer import docker_info

if TYPE_CHECKING:
    from rich.console import Console

GOOD = {"ok", "changed", "would change"}
RUN_FIELDS = ("id", "command", "started", "ended", "exit_status", "status", "check_mode", "argv", "inventory")


def _daemon(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """The Docker version and storage driver the record saw (provision and info keep `docker info`; check
    keeps it raw in its facts)."""
    info = record.get("docker_info")
    if not isinstance(info, dict):
        raw = (record.get("facts") or {}).get("docker_info")
        if not isinstance(raw, str) or not raw.strip():
            return None, None
        parsed = docker_info.parse(raw)
        return parsed.server_version, parsed.storage_driver
    return info.get("server_version"), info.get("storage_driver")


def _drift(record: dict[str, Any], command: str) -> set[tuple[str, str, str | None, str | None]] | None:
    """Each difference as (where, key, asked, found); None where the run does not say."""
    if isinstance(record.get("drift"), list):
        return {(d.get("where", ""), d.get("key", ""), d.get("asked"), d.get("found")) for d in record["drift"]}
    if command == "provision" and record.get("status") in ("ok", "changed"):
        return set()  # a provision that succeeded left the host as asked
    return None


def _findings(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f.get("code", ""): f for f in record.get("findings") or [] if f.get("level") in ("error", "warning")}


def _host(old: dict[str, Any], new: dict[str, Any], commands: tuple[str, str]) -> list[dict[str, Any]]:
    same = commands[0] == commands[1]
    changes: list[dict[str, Any]] = []
    was, now = str(old.get("status")), str(new.get("status"))
    if (was != now) if same else ((was in GOOD) != (now in GOOD)):
        changes.append({"what": "status", "old": was, "new": now})
    for what, before, after in zip(("version", "storage_driver"), _daemon(old), _daemon(new), strict=True):
        if before is not None and after is not None and before != after:
            changes.append({"what": what, "old": before, "new": after})
    found_before, found_now = _findings(old), _findings(new)
    for code in sorted(found_now.keys() - found_before.keys()):
        f = found_now[code]
        changes.append({"what": "finding", "change": "appeared", "code": code, "level": f.get("level"),
                        "message": f.get("message", "")})  # fmt: skip
    if same:
        for code in sorted(found_before.keys() - found_now.keys()):
            f = found_before[code]
            changes.append({"what": "finding", "change": "cleared", "code": code, "level": f.get("level"),
                            "message": f.get("message", "")})  # fmt: skip
    drift_before, drift_now = _drift(old, commands[0]), _drift(new, commands[1])
    if drift_now is not None:
        for where, key, asked, found in sorted(drift_now - (drift_before or set()), key=str):
            change = "appeared" if drift_before is not None else "found"
            changes.append({"what": "drift", "change": change, "where": where, "key": key, "asked": asked,
                            "found": found})  # fmt: skip
        if drift_before is not None:
            for where, key, asked, found in sorted(drift_before - drift_now, key=str):
                changes.append({"what": "drift", "change": "cleared", "where": where, "key": key, "asked": asked,
                                "found": found})  # fmt: skip
    return changes


def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Run ``a`` (the earlier) against run ``b``: hosts added and gone, and each common host's changes."""
    old, new = a["report_json"].get("hosts", {}), b["report_json"].get("hosts", {})
    commands = (a["command"], b["command"])
    changed = {name: _host(old[name], new[name], commands) for name in sorted(old.keys() & new.keys())}
    return {
        "a": {k: a.get(k) for k in RUN_FIELDS},
        "b": {k: b.get(k) for k in RUN_FIELDS},
        "added": sorted(new.keys() - old.keys()),
        "gone": sorted(old.keys() - new.keys()),
        "changed": {name: c for name, c in changed.items() if c},
        "unchanged": sorted(name for name, c in changed.items() if not c),
    }


def describe(change: dict[str, Any]) -> str:
    """One change in words, as the text and the web view say it."""
    what = change["what"]
    if what in ("status", "version", "storage_driver"):
        label = {"storage_driver": "storage driver"}.get(what, what)
        return f"{label}: {change['old']} -> {change['new']}"
    if what == "finding":
        return f"{change['level']} {change['code']} {change['change']}: {change['message']}"
    target = f"{change['where']}: {change['key']}" if change["key"] else change["where"]
    return f"drift {change['change']}: {target} (asked {change['asked']}, found {change['found']})"


def _style(change: dict[str, Any]) -> str:
    if change.get("change") == "cleared" or (change["what"] == "status" and change["new"] in GOOD):
        return "green"
    if change["what"] == "status" or change.get("level") == "error" or change["what"] == "drift":
        return "red"
    return "yellow" if change["what"] == "finding" else ""


def render(d: dict[str, Any], console: Console) -> None:
    from installer.terminal import text

    def title(run: dict[str, Any]) -> str:
        mode = " --check" if run["check_mode"] else ""
        return f"run {run['id']} ({run['command']}{mode}, {run['status']})"

    console.print(text((f"{title(d['a'])} -> {title(d['b'])}", "bold")), soft_wrap=True)
    if d["a"]["command"] != d["b"]["command"]:
        note = (f"  {d['a']['command']} and {d['b']['command']} look at different things: statuses compared as "
                "good or not, no finding said to have cleared")  # fmt: skip
        console.print(text((note, "dim")), soft_wrap=True)
    for label, names in (("added", d["added"]), ("gone", d["gone"])):
        if names:
            console.print(text((f"{label} ({len(names)}): ", "bold"), ", ".join(names)), soft_wrap=True)
    for name, changes in d["changed"].items():
        console.print(text(("\n" + name, "bold")), soft_wrap=True)
        for change in changes:
            console.print(text("  ", (describe(change), _style(change))), soft_wrap=True)
    console.print(text(f"\n{len(d['changed'])} host(s) changed, {len(d['unchanged'])} unchanged, "
                       f"{len(d['added'])} added, {len(d['gone'])} gone"))  # fmt: skip
