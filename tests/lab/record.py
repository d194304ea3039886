"""Record a host's whole answer to the facts script, for the golden files under tests/facts/:

    python -m tests.lab.record INVENTORY HOST [--provision] > tests/facts/lab-el7-NAME.txt

then write its expected JSON with PYINSTALL_UPDATE_GOLDEN=1 and review the diff before committing.
"""

from __future__ import annotations

import argparse
import sys

from installer import asked, connection, inventory, preflight


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab.record", description=__doc__.splitlines()[0])
    parser.add_argument("inventory")
    parser.add_argument("host")
    parser.add_argument("--provision", action="store_true", help="provision's script (services, docker info, ...)")
    args = parser.parse_args(argv)
    host = inventory.load(args.inventory).host(args.host)
    with connection.connect(connection.target_from_vars(args.host, host.vars)) as session:
        script = preflight.facts_script(asked.parse(args.host, host.vars), provision=args.provision)
        result = session.run(script, timeout=120)
    sys.stdout.write(result.stdout)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
