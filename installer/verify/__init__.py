"""`pyinstall verify`: proof, host by host, that the runtime is installed and configured as asked, enabled,
running, and able to run a container. A suite of testinfra tests (installer/verify/suite, and the user's
own files given with --tests) runs against every host over pyinstall's own sessions: the same targets,
host keys, become and framed output as every other command.

    (Target, Asked) ─▶ Fleet (forks at a time) ─▶ a process per host (worker.py): connect ─▶ facts
        ─▶ pytest: suite + --tests, --keyword ─▶ [TestResult] ─▶ HostVerify

Each host's tests run in a process of their own: pytest keeps its state per process, and one host's
tests must never see another's. Test names and outcomes stream back as events while they run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from installer import events, interrupts, package_path
from installer.asked import Asked
from installer.connection import Target
from installer.errors import BrokenTests
from installer.fleet import FORKS, Fleet
from installer.outcome import HostResult, Status

SUITE = package_path("verify", "suite")
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"


@dataclass
class TestResult:
    __test__ = False  # a result, not a test class pytest should collect

    name: str  # the test's pytest node id, relative to its file's directory
    outcome: str  # passed | failed | error | skipped
    message: str = ""  # the first line of the failure, or the reason for a skip
    duration: float = 0.0


@dataclass
class HostVerify(HostResult):
    """ok (every test passed) | failed | not installed | unreachable | skipped | interrupted."""

    tests: list[TestResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(t.outcome == outcome for t in self.tests)

    @property
    def first_failure(self) -> TestResult | None:
        return next((t for t in self.tests if t.outcome in (FAILED, ERROR)), None)

    @property
    def reason(self) -> str:
        """The error that stopped it, else its first failed test."""
        first = self.first_failure
        return self.error or (f"{first.name}: {first.message}" if first else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "counts": {o: self.count(o) for o in (PASSED, FAILED, ERROR, SKIPPED)},
            "tests": [asdict(t) for t in self.tests],
            "error": self.error or None,
            "hint": self.hint or None,
        }


@dataclass(frozen=True)
class Job:
    """One host's verification, as its process receives it (pickled: passwords travel in a pipe)."""

    target: Target
    asked: Asked
    tests: tuple[str, ...] = ()  # the user's test files or directories, beside the suite
    keyword: str | None = None  # --keyword, given to pytest as -k


def run(
    hosts: Sequence[tuple[Target, Asked]],
    tests: Sequence[str] = (),
    keyword: str | None = None,
    forks: int = FORKS,
) -> list[HostVerify]:
    jobs = [Job(target, asked, tuple(str(Path(t).resolve()) for t in tests), keyword) for target, asked in hosts]
    if not jobs:
        return []
    with _workers(min(forks, len(jobs))) as pool:
        fleet: Fleet[Job, HostVerify] = Fleet(
            work=lambda job, stop: _cleaned(_verified(pool, job, stop)),
            not_attempted=lambda job, why: HostVerify(job.target.name, Status.SKIPPED, error=why),
            interrupted=lambda job: HostVerify(job.target.name, Status.INTERRUPTED, error="interrupted twice"),
            name=lambda job: job.target.name,
        )
        return fleet.run(jobs, forks)


def collection_errors(tests: Sequence[str]) -> None:
    """The operator's test files, collected here first (installer/verify/collect.py): those pytest cannot
    import are refused by FILE:LINE before any host is touched."""
    if not tests:
        return
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-m", "installer.verify.collect", *tests], capture_output=True,
                          text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})  # fmt: skip
    try:
        broken = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise BrokenTests(f"--tests: pytest could not collect the tests: {said}", "run pytest --collect-only on "
                          "them to see why") from None  # fmt: skip
    if broken:
        lines = "\n".join(f"  {b['where']}: {b['error']}" for b in broken)
        raise BrokenTests(f"--tests: {len(broken)} test file(s) cannot be imported; no host was touched:\n{lines}",
                          "fix the file at the line named, then run again")  # fmt: skip


def _verify(job: Job) -> HostVerify:
    from installer.verify.worker import verify_host  # in the worker process: pytest loads only there

    return verify_host(job)


def _verified(pool: ProcessPoolExecutor, job: Job, stop: threading.Event) -> HostVerify:
    """One host's verification in a worker process; once the run is stopped (Ctrl-C, SIGTERM), the workers
    are told (interrupts.WORKER_STOP), their tests end and report what ran."""
    future = pool.submit(_verify, job)
    try:
        while True:
            try:
                return future.result(timeout=interrupts.POLL)
            except FutureTimeout:
                if stop.is_set():
                    _tell_workers(pool, end=interrupts.signals > 1)
    except BrokenProcessPool:  # a process ended abruptly (a test called os._exit, or was killed)
        if stop.is_set():
            return HostVerify(job.target.name, Status.INTERRUPTED, error="interrupted: its process was ended")
        return HostVerify(job.target.name, Status.FAILED, error="a verification process died before it reported",
                          hint="look for a test that ends its process (os._exit) or a killed process")  # fmt: skip


_told: set[int] = set()  # worker processes already told to stop: told once, or their report breaks
_told_lock = threading.Lock()


def _tell_workers(pool: ProcessPoolExecutor, end: bool) -> None:
    """Tell each worker once to stop; after a second signal, end them (SIGTERM): the run gives up waiting."""
    # The pool's own table of its live processes: no pid of a process that ended is ever signalled.
    with _told_lock:
        for process in list(getattr(pool, "_processes", {}).values()):
            if end and process.is_alive():
                process.terminate()
            elif process.pid not in _told and process.is_alive():
                _told.add(process.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, interrupts.WORKER_STOP)


def _cleaned(result: HostVerify) -> HostVerify:
    """Secrets registered in this process (the worker knows none) are masked in what a host's tests said."""
    result.error = events.clean(result.error)
    for t in result.tests:
        t.message = events.clean(t.message)
    return result


@contextmanager
def _workers(size: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of fresh processes, a new one per host where Python allows (3.11+), whose test events are
    forwarded to this process's sinks while they run. They fork from a server process started clean (no
    thread of this one is copied) that has imported pytest, testinfra and the suite's modules once: a
    host's process costs a fork, not a second of imports."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["installer.verify.worker"])
    queue = context.SimpleQueue()
    forwarder = threading.Thread(target=_forward, args=(queue,), daemon=True)
    forwarder.start()
    fresh = {"max_tasks_per_child": 1} if sys.version_info >= (3, 11) else {}
    pool = ProcessPoolExecutor(size, mp_context=context, initializer=_started, initargs=(queue,), **fresh)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        queue.put(None)
        forwarder.join()


_events: Any = None  # in a worker process: where its test events go


def _started(queue: Any) -> None:
    """A worker process begins: its events go to the queue; what it prints, nowhere (the operator's
    terminal belongs to the live display; each test's output is in its result)."""
    global _events
    _events = queue
    interrupts.in_worker()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def emit(*event: str) -> None:
    """From a worker process: an event for the operator's process (kind, host, name, status, detail)."""
    if _events is not None:
        _events.put(event)


def _forward(queue: Any) -> None:
    while (event := queue.get()) is not None:
        events.emit(*event)
