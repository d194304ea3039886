"""Rollout control, as Ansible defines it: batches (--serial) and a failure budget per batch
(--max-fail-percentage); and beyond one controller, shards of one rollout (--shard K/N) that share a
rollout-wide failure budget (--rollout-max-fail). Pure: no connection.

    hosts + "1,5,25%" ─▶ batches()  ─▶ [[h1], [h2..h6], [25% of all], [25%], ...]
    a batch's results + P ─▶ budget_exceeded()  (more than P% failed or unreachable: stop the rollout)
    hosts + "2/4" ─▶ shard() ─▶ the hosts of shard 2 of 4 (stable: a host's shard depends on its name)
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import TypeVar

from installer.errors import UsageError

T = TypeVar("T")


def parse_serial(text: str) -> list[int | float]:
    """``5``, ``25%`` or ``1,5,25%`` -> sizes (ints) and fractions (floats of the whole fleet)."""
    out: list[int | float] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            if part.endswith("%"):
                value = float(part[:-1])
                if not 0 < value <= 100:
                    raise ValueError
                out.append(value / 100)
            else:
                size = int(part)
                if size < 1:
                    raise ValueError
                out.append(size)
        except ValueError:
            raise UsageError(
                f"--serial {text!r}: {part!r} is not a batch size",
                "give a count (5), a percentage (25%) or a list of them (1,5,25%)",
            ) from None
    if not out:
        raise UsageError("--serial needs a value", "e.g. --serial 1,5,25%")
    return out


def batches(hosts: Sequence[T], serial: Sequence[int | float] | None) -> list[list[T]]:
    """Split hosts into batches; the last size repeats until every host has one (Ansible's rule)."""
    if not serial:
        return [list(hosts)] if hosts else []
    out, i, step = [], 0, 0
    while i < len(hosts):
        spec = serial[min(step, len(serial) - 1)]
        size = max(1, math.floor(len(hosts) * spec)) if isinstance(spec, float) else spec
        out.append(list(hosts[i : i + size]))
        i += size
        step += 1
    return out


def budget_exceeded(failed: int, batch_size: int, max_fail_percentage: float | None) -> bool:
    """Ansible: stop when the failed share of a batch *exceeds* the percentage; without one, only when
    the whole batch failed."""
    if batch_size == 0:
        return False
    if max_fail_percentage is None:
        return failed == batch_size
    return failed / batch_size * 100 > max_fail_percentage


SHARD_MAX = 10_000  # shards of one rollout: far more CI jobs than any fleet needs
SHARD_FUNCTION = "jump"  # kept with each sharded run: a rollout's shards must all use the same one


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N``: shard K (1..N) of N, N at most SHARD_MAX."""
    match = re.fullmatch(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*", text, re.ASCII)
    if not match or not 1 <= int(match[1]) <= int(match[2]) <= SHARD_MAX:
        raise UsageError(
            f"--shard {text!r} is not K/N with 1 <= K <= N <= {SHARD_MAX}",
            "e.g. --shard 2/4; from a Kubernetes Indexed Job: --shard $((JOB_COMPLETION_INDEX + 1))/4",
        )
    return int(match[1]), int(match[2])


def shard_of(name: str, count: int) -> int:
    """The shard (1..count) a host belongs to: jump consistent hashing (Lamping and Veach, 2014) of its
    name, in O(log count). Adding hosts moves none of the others, and going from N to N+1 shards moves
    only the hosts the new shard takes (1/(N+1) of them), unlike a hash modulo N."""
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")
    bucket, jump = -1, 0
    while jump < count:
        bucket = jump
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        jump = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket + 1


def shard(names: Sequence[str], which: tuple[int, int] | None) -> list[str]:
    """The names in shard K of N, in the order given."""
    if which is None:
        return list(names)
    k, n = which
    return [name for name in names if shard_of(name, n) == k]


_ROLLOUT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}")


def parse_rollout(text: str) -> str:
    """A rollout id: what the shards of one rollout share (a CI pipeline's id, a Job's name). Never all
    digits, so that `pyinstall runs show ID` tells a rollout from a run."""
    if not _ROLLOUT_ID.fullmatch(text) or text.isdigit():
        raise UsageError(
            f"--rollout {text!r} is not a rollout id",
            "letters, digits and ._:@+- (up to 128, not all digits): e.g. --rollout ci-$CI_PIPELINE_ID",
        )
    return text


def parse_budget(text: str) -> int | float:
    """--rollout-max-fail: ``N`` hosts, or ``P%`` of the rollout's hosts (a float fraction)."""
    try:
        if text.strip().endswith("%"):
            value = float(text.strip()[:-1])
            if not 0 <= value <= 100:
                raise ValueError
            return value / 100
        count = int(text)
        if count < 0:
            raise ValueError
        return count
    except ValueError:
        raise UsageError(
            f"--rollout-max-fail {text!r} is not a budget",
            "give a number of hosts (0: stop at the first failure) or a percentage of the rollout (5%)",
        ) from None


def rollout_budget_exceeded(failed: int, budget: int | float, rollout_hosts: int) -> bool:
    """More hosts failed or unreachable across the rollout's shards than the budget allows."""
    allowed = math.floor(rollout_hosts * budget) if isinstance(budget, float) else budget
    return failed > allowed
