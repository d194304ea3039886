"""From the command line to what a command works on: its settings settled, the inventory loaded, the
hosts selected and each one's model validated, passwords read; and the one exit status of a run.

    args ─▶ settle() ─▶ load_inventory() ─▶ selected() (--limit, --shard) ─▶ targets(): [(Target, Asked)]
"""

from __future__ import annotations

import argparse
import enum
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from installer import interrupts, terminal
from installer.cli.parser import DEFAULT_REPORT, RETRY_FILE
from installer.errors import UsageError

if TYPE_CHECKING:  # annotations only: `--help` loads neither the inventory nor the settings
    from rich.console import Console

    from installer import asked, bundle, inventory, patterns
    from installer.connection import Target
    from installer.outcome import Status
    from installer.vault import Vault

__all__ = ["DEFAULT_REPORT", "RETRY_FILE", "ExitStatus", "exit_status", "load_inventory", "settle", "targets"]


class ExitStatus(enum.IntEnum):
    OK = 0
    ERROR = 1
    FAILED = 2
    UNREACHABLE = 4
    USAGE = 5
    INTERRUPTED = 130  # Ctrl-C (SIGINT): a report of every host's state was printed
    TERMINATED = 143  # SIGTERM: the same


def exit_status(statuses: Iterable[Status]) -> ExitStatus:
    """The one mapping from hosts' outcomes to the exit status (see EPILOG)."""
    from installer.outcome import Status

    seen = set(statuses)
    if Status.INTERRUPTED in seen:
        return ExitStatus(interrupts.exit_status())
    if Status.UNREACHABLE in seen:
        return ExitStatus.UNREACHABLE
    if seen & {Status.FAILED, Status.SKIPPED, Status.NOT_INSTALLED}:
        return ExitStatus.FAILED
    return ExitStatus.OK


def settle(args: argparse.Namespace) -> None:
    """Fill what the command line left out from the environment, the config file and the defaults
    (installer/settings.py), so that every later step reads args alone. ``args.warnings``: what the
    user must be told (a config file passed over)."""
    from installer import settings

    given = dict(vars(args))
    if hasattr(args, "inventory_opt"):  # INVENTORY and every -i, in the order they merge
        given["inventory_opt"] = ([args.inventory_pos] if args.inventory_pos else []) + args.inventory_opt
    given["host_key_checking"] = False if getattr(args, "accept_new_host_keys", False) else None
    args.warnings = []
    resolved = settings.resolve(given, ignored=args.warnings)
    args.settings = resolved
    for s in settings.SETTINGS:
        if hasattr(args, s.dest):
            setattr(args, s.dest, resolved[s.name].value)
    if hasattr(args, "accept_new_host_keys"):
        args.accept_new_host_keys = not resolved["host_key_checking"].value
    if hasattr(args, "retry_file") and args.retry_file is None:
        args.retry_file = RETRY_FILE if resolved["retry_files_enabled"].value else ""


def load_inventory(args: argparse.Namespace) -> inventory.Inventory:
    """The inventories, merged in the order given (settled: the command line's, else the environment's or
    the config file's)."""
    from installer import inventory

    sources = list(args.inventory_opt)
    if any(not str(source).strip() for source in sources):
        raise UsageError("--inventory: an empty path", "give an inventory file or directory")
    if not sources:
        raise UsageError(
            "no inventory given", f"pyinstall {args.command} -i inventory.ini (or set PYINSTALL_INVENTORY)"
        )
    return inventory.load(*sources, vault=_vault(args))


def _vault(args: argparse.Namespace) -> Vault:
    """The vault passwords asked for (--vault-id, --vault-password-file, -J, the environment, the config)."""
    from installer import localfiles, vault

    asked = vault.identities(args.settings["vault_identity_list"].value, args.vault_ids,
                             args.vault_password_files, args.ask_vault_pass)  # fmt: skip
    for identity in asked:
        warning = identity.source != vault.PROMPT and localfiles.readable_by_others(identity.source)
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    import getpass

    prompt = getpass.getpass if sys.stdin.isatty() else None
    return vault.load_secrets(asked, prompt)


def _ignored_codes(args: argparse.Namespace) -> list[str]:
    from installer import asked

    codes = [c for c in getattr(args, "ignore_preflight_errors", "").split(",") if c.strip()]
    if getattr(args, "allow_downgrade", False):
        codes.append("DOWNGRADE")
    unknown = asked.unknown_codes(codes)
    if unknown:
        raise UsageError(f"unknown check code(s) for --ignore-preflight-errors: {', '.join(unknown)}", asked.CODES_HINT)
    return codes


def targets(
    args: argparse.Namespace,
    err: Console,
    inv: inventory.Inventory | None = None,
    bundles: dict[str, bundle.Bundle] | None = None,
) -> list[tuple[Target, asked.Asked]]:
    """The selected hosts: how to reach each, and what is asked of it, every variable validated before
    any host is contacted."""
    from installer import ansible_vars, asked, events, localfiles, platforms, settings
    from installer.connection import target_from_vars

    inv = inv or load_inventory(args)
    selection = selected(args, inv)
    for term in selection.unmatched:
        err.print(terminal.text(("warning", "yellow"), f": host pattern {term!r} matched no host"))
    if not selection.hosts:
        raise UsageError(f"no hosts matched{' --limit ' + repr(args.limit) if args.limit else ''}"
                         f"{' in --shard ' + args.shard if args.shard else ''}", "check the pattern")  # fmt: skip
    ignore = _ignored_codes(args)  # refuse a typo before asking for passwords
    moving = asked.Migration(
        migrate=getattr(args, "migrate_storage", False),
        stop_containers=getattr(args, "stop_containers", False),
        purge_old=getattr(args, "purge_old_storage", False),
    )
    if moving.stop_containers and not moving.migrate:
        raise UsageError("--stop-containers is for --migrate-storage", "add --migrate-storage, or leave it out")
    if moving.migrate and (getattr(args, "tags", None) or getattr(args, "skip_tags", None)):
        raise UsageError("--migrate-storage moves the whole store: it takes no --tags or --skip-tags",
                         "run the migration alone, then the tagged run")  # fmt: skip
    upgrade_to = getattr(args, "upgrade_to", None)
    if upgrade_to is not None and upgrade_to not in (known := [p.id for p in platforms.all_platforms()]):
        raise UsageError(f"--upgrade-to {upgrade_to!r} is not a platform pyinstall has a definition for",
                         f"choose one of {', '.join(known)}")  # fmt: skip
    # The settings that stand for inventory variables: the environment's and a config file's are defaults
    # the inventory beats, the command line's beat the inventory (installer/settings.py).
    defaults, overrides, set_at = settings.variables(args.settings)
    models, notes = [], set()
    for host in inv.hosts(selection.hosts):
        hostvars = {**defaults, **host.vars, **overrides}
        origin = lambda v, h=host.name: set_at[v] if v in overrides else inv.origin(h, v) or set_at.get(v, "")  # noqa: E731
        model = asked.parse(host.name, hostvars, origin, ignore, bundles, notes, moving, upgrade_to)
        models.append((host.name, hostvars, model))
        if args.verbose:
            notes.update(
                f"{name} has no bearing on pyinstall: {why}" for name, why in ansible_vars.no_bearing(hostvars)
            )
    for note in sorted(notes):
        err.print(terminal.text(("note", "cyan"), f": {note}"), soft_wrap=True)
    for path in (args.connection_password_file, args.become_password_file):
        warning = path and localfiles.readable_by_others(path)
        if warning:
            err.print(terminal.text(("warning", "yellow"), f": {warning}"), soft_wrap=True)
    ssh_password = password(args.ask_pass, "-k", "SSH password: ", args.connection_password_file,
                            "--connection-password-file", "ansible_password")  # fmt: skip
    become_password = password(args.ask_become_pass, "-K", "BECOME password: ", args.become_password_file,
                                "--become-password-file", "ansible_become_password")  # fmt: skip
    given = {"password": ssh_password, "become_password": become_password,
             "known_hosts": tuple(args.known_hosts) or None,
             "accept_new": args.accept_new_host_keys or None}  # fmt: skip
    hosts = [(target_from_vars(name, hostvars, **given), model) for name, hostvars, model in models]
    _strict_off_said(hosts, err)
    _keys_usable(hosts, args, inv)
    events.redact(*(secret for target, _ in hosts for secret in (target.password, target.become_password)))
    events.redact(*(secret for _, model in hosts for secret in model.day_two.secrets()))
    return hosts


def _strict_off_said(hosts: list[tuple[Target, asked.Asked]], err: Console) -> None:
    """StrictHostKeyChecking no in ~/.ssh/config means accept-new here, as host_key_checking=false does:
    said once, since a user who wrote it may expect no checking at all."""
    from installer.connection import strict_host_key_checking

    lax = sorted({t.name for t, _ in hosts if strict_host_key_checking(t.address) in ("no", "off", "false")})
    if lax:
        shown = ", ".join(lax[:5]) + (f" and {len(lax) - 5} more" if len(lax) > 5 else "")
        err.print(terminal.text(("warning", "yellow"), f": ~/.ssh/config says StrictHostKeyChecking no for {shown}: "
                                "pyinstall records unknown host keys (accept-new) and still refuses a changed one"),
                  soft_wrap=True)  # fmt: skip


def _keys_usable(hosts: list[tuple[Target, asked.Asked]], args: argparse.Namespace, inv: inventory.Inventory) -> None:
    """Every private key named (option, config, inventory, ~/.ssh/config's IdentityFile) exists and is one
    OpenSSH would use, before any host is contacted: a refusal names the key and who named it."""
    from installer import localfiles
    from installer.connection import identity_files

    checked: set[str] = set()
    for target, _ in hosts:
        named = [(target.key_file, _key_origin(args, inv, target.name))] if target.key_file else []
        named += [(path, "~/.ssh/config IdentityFile") for path in identity_files(target)]
        for path, origin in named:
            problem = path not in checked and localfiles.key_problem(path)
            checked.add(path)
            if problem:
                hint = "fix the key, or name another (--private-key, ansible_ssh_private_key_file)"
                raise UsageError(f"{problem} (host {target.name}: {origin})", hint)


def _key_origin(args: argparse.Namespace, inv: inventory.Inventory, host: str) -> str:
    from installer import settings

    setting, where = args.settings["private_key_file"], inv.origin(host, "ansible_ssh_private_key_file")
    if setting.source == settings.COMMAND_LINE or (setting.value and not where):
        return f"private_key_file from {setting.source}"
    return f"ansible_ssh_private_key_file at {where or inv.source}"


def selected(args: argparse.Namespace, inv: inventory.Inventory) -> patterns.Selection:
    """--limit, then --shard. ``args.rollout_hosts``: the hosts of every shard (a budget's percentage)."""
    from installer import patterns, rollout

    selection = patterns.select(inv, args.limit)
    args.rollout_hosts = len(selection.hosts)
    if args.shard:
        selection.hosts = rollout.shard(selection.hosts, rollout.parse_shard(args.shard))
    return selection


def password(ask: bool, flag: str, prompt: str, path: str | None, file_flag: str, variable: str) -> str | None:
    """A password asked on the terminal, or read from a file (its first line); never from the command line."""
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n")
        except OSError as exc:
            raise UsageError(f"{file_flag}: cannot read {path}: {exc.strerror or exc}") from None
    if not ask:
        return None
    hint = f"give it in a file with {file_flag} FILE, or as {variable} in the inventory"
    if not sys.stdin.isatty():
        raise UsageError(f"{flag} asks for a password on a terminal, and there is none (cron, CI, < /dev/null)", hint)
    try:
        import getpass

        return getpass.getpass(prompt)
    except EOFError:  # Ctrl-D at the prompt
        raise UsageError(f"{flag}: no password given", hint) from None
