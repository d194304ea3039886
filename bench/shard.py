"""--shard on a large fleet: the time to pick one shard's hosts out of many, for a few shard counts, to show
the cost per host grows with log N (jump consistent hashing), not with N.

    python -m bench.shard [--hosts 100000] [--shards 2,2000,10000]
"""

from __future__ import annotations

import argparse
import time

from installer import rollout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100_000, help="hosts in the selection")
    parser.add_argument("--shards", default=f"2,2000,{rollout.SHARD_MAX}", help="shard counts N, comma separated")
    args = parser.parse_args()
    names = [f"web{i:06d}.example.com" for i in range(args.hosts)]
    print(f"{'hosts':>7} {'shard':>10} {'s':>6} {'us/host':>8} {'vs 1/2':>7}")
    first = None
    for count in (int(n) for n in args.shards.split(",")):
        start = time.perf_counter()
        picked = rollout.shard(names, (1, count))
        took = time.perf_counter() - start
        first = first or took
        print(
            f"{args.hosts:>7} {f'1/{count}':>10} {took:>6.2f} {took / args.hosts * 1e6:>8.2f} {took / first:>6.1f}x"
            f"  ({len(picked)} hosts)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
