"""The fleet runner every command shares: ``forks`` hosts at a time, batch after batch, a failure budget,
and Ctrl-C that lets hosts in flight finish their step.

    hosts + work(host, stop) ─▶ run() ─▶ one result per host, in inventory order

Batches (--serial) and the budget (--max-fail-percentage) follow Ansible (rollout.py). A host never
started comes back from ``not_attempted(host, reason)``; one whose result never came (a second Ctrl-C)
from ``interrupted(host)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from installer import events, rollout
from installer.outcome import HostResult, failures
from installer.vocabulary import FORKS

NOT_ATTEMPTED_INTERRUPTED = "not attempted: the run was interrupted (Ctrl-C or SIGTERM)"


H = TypeVar("H")
R = TypeVar("R", bound=HostResult)


class Fleet(Generic[H, R]):
    def __init__(
        self,
        work: Callable[[H, threading.Event], R],
        not_attempted: Callable[[H, str], R],
        interrupted: Callable[[H], R],
        name: Callable[[H], str],
    ) -> None:
        self.work, self.not_attempted, self.interrupted = work, not_attempted, interrupted
        self.name = name  # for the events

    def run(
        self,
        hosts: Sequence[H],
        forks: int = FORKS,
        serial: Sequence[int | float] | None = None,
        max_fail_percentage: float | None = None,
        gate: Callable[[list[R]], str | None] | None = None,
    ) -> list[R]:
        """Every host, batch after batch. When a batch exceeds the failure budget, or on Ctrl-C, later
        hosts are not started: they come back from ``not_attempted`` with the reason. ``gate``, asked
        before each batch with the results so far (a rollout-wide budget, kept elsewhere), may stop the
        rest the same way by returning the reason."""
        results: list[R] = []
        groups = rollout.batches(hosts, serial)
        events.emit(events.RUN, status=str(len(hosts)))
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts) or 1))) as pool:
            for number, batch in enumerate(groups, 1):
                reason = gate(results) if gate else None
                if reason:
                    results += self._skip(groups[number - 1 :], reason)
                    break
                if len(groups) > 1:
                    events.emit(events.BATCH, name=f"batch {number}/{len(groups)}: {len(batch)} host(s)")
                futures = [pool.submit(self._work, host, stop) for host in batch]
                try:
                    done = [f.result() for f in futures]
                except KeyboardInterrupt:
                    # Start nothing new; hosts in flight finish their current step, then report.
                    stop.set()
                    results += [self._wait(f, host) for f, host in zip(futures, batch)]
                    results += self._skip(groups[number:], NOT_ATTEMPTED_INTERRUPTED)
                    break
                results += done
                failed = failures(r.status for r in done)
                if number < len(groups) and rollout.budget_exceeded(failed, len(batch), max_fail_percentage):
                    reason = f"not attempted: batch {number} of {len(groups)} had {failed} of {len(batch)} hosts fail"
                    if max_fail_percentage is not None:
                        reason += f", more than --max-fail-percentage {max_fail_percentage:g}"
                    results += self._skip(groups[number:], reason)
                    break
        return results

    def _work(self, host: H, stop: threading.Event) -> R:
        events.emit(events.HOST, self.name(host), status="started")
        result = self.work(host, stop)
        events.emit(events.HOST, self.name(host), status=result.status, detail=result.reason, result=result)
        return result

    def _skip(self, batches: Sequence[Sequence[H]], reason: str) -> list[R]:
        return [self.not_attempted(host, reason) for batch in batches for host in batch]

    def _wait(self, future: Future[R], host: H) -> R:
        """An in-flight host's result after Ctrl-C (a second Ctrl-C gives up waiting)."""
        try:
            return future.result()
        except KeyboardInterrupt:
            return self.interrupted(host)
