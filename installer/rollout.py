"""Rollout control, as Ansible defines it: batches (--serial) and a failure budget per batch
(--max-fail-percentage). Pure: no connection.

    hosts + "1,5,25%" ─▶ batches()  ─▶ [[h1], [h2..h6], [25% of all], [25%], ...]
    a batch's results + P ─▶ budget_exceeded()  (more than P% failed or unreachable: stop the rollout)
"""

from __future__ import annotations

import math
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
