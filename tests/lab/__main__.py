"""python -m tests.lab up|down|status|start|stop|restart|ssh --root DIR ...; python -m tests.lab kernel"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .fleet import Lab, LabError
from .spec import SpecError
from .uml import KernelError, kernel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab", description="The simulated CentOS fleet.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", required=True, type=Path, help="lab directory (created if missing)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", parents=[common], help="build what is missing and start the hosts of SPEC")
    up.add_argument("--hosts", required=True, metavar="SPEC", help="e.g. el6:2,el7:2,el6-i686:1,el7+tmpfs:1")
    up.add_argument("--inventory", type=Path, help="where to write the inventory (default ROOT/inventory.ini)")
    up.add_argument("--prefix", default="", help="prepended to every host name")
    up.add_argument(
        "--subnet",
        default="127.0.0",
        help="first three octets of the hosts' addresses (or two, 127.1, for more than 245 hosts)",
    )
    up.add_argument("--port", type=int, default=22, help="the port every host's sshd listens on")
    down = sub.add_parser("down", parents=[common], help="stop every host, unmount the layers")
    down.add_argument("--purge", action="store_true", help="also delete the lab directory")
    sub.add_parser("status", parents=[common], help="list the hosts and whether they run")
    for name in ("start", "stop", "restart"):
        p = sub.add_parser(name, parents=[common], help=f"{name} hosts by name")
        p.add_argument("names", nargs="+")
    ssh = sub.add_parser("ssh", parents=[common], help="print the ssh command line for a host")
    ssh.add_argument("name")
    sub.add_parser("kernel", help="fetch the @uml hosts' kernel into the machine's cache (once)")
    args = parser.parse_args(argv)
    if args.command == "kernel":
        try:
            k = kernel()
        except KernelError as exc:
            print(f"lab: {exc}", file=sys.stderr)
            return 2
        print(f"User-Mode Linux {k.release}: {k.binary}")
        return 0

    lab = Lab(args.root, subnet=getattr(args, "subnet", "127.0.0"), port=getattr(args, "port", 22))
    try:
        if args.command == "up":
            hosts = lab.up(args.hosts, prefix=args.prefix, inventory=args.inventory)
            inventory = args.inventory or lab.root / "inventory.ini"
            print(f"{len(hosts)} host(s) up; inventory: {inventory}", file=sys.stderr)
            print(inventory.read_text(), end="")
        elif args.command == "down":
            lab.down(purge=args.purge)
        elif args.command == "status":
            for h, running in lab.status():
                print(f"{h.name:24} {h.address:15} {h.kind:14} {h.store:6} {'running' if running else 'stopped'}")
        elif args.command in ("start", "stop", "restart"):
            getattr(lab, args.command)(args.names)
        elif args.command == "ssh":
            h = lab.host(args.name)
            print(
                f"ssh -i {lab.key} -o UserKnownHostsFile={lab.known_hosts} -o StrictHostKeyChecking=yes "
                f"root@{h.address}"
            )
    except (LabError, SpecError, KernelError) as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
