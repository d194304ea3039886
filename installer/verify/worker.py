"""One host's verification, in a worker process: connect, gather the facts, run pytest with the suite
and the user's tests against a testinfra host that speaks through pyinstall's session."""

from __future__ import annotations

import os
from typing import Any

import pytest
import testinfra.backend.base
import testinfra.host

from installer import checks, connection, events, facts, interrupts, runtime
from installer.connection import Session
from installer.errors import HostError, Unreachable
from installer.outcome import NOT_INSTALLED, Status
from installer.preflight import facts_script, gather_facts
from installer.verify import ERROR, FAILED, PASSED, SKIPPED, SUITE, HostVerify, Job, TestResult, emit

PYTEST_INI = SUITE.parent / "pytest.ini"  # pytest reads this, never a configuration from where it runs
TEST_TIMEOUT = 300.0  # one command of a test


def verify_host(job: Job) -> HostVerify:
    # No plugin installed where pyinstall runs joins in: testinfra's own would give the tests a `host`
    # that runs commands here, on the controller.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    name = job.target.name
    try:
        with connection.connect(job.target) as session:
            if gather_facts(session, script=facts.docker_script()).daemon() is None:  # as info tells it
                return HostVerify(name, Status.NOT_INSTALLED, error=NOT_INSTALLED,
                                  hint=f"provision it: pyinstall provision INVENTORY --limit {name}")  # fmt: skip
            plugin = Plugin(session, job.asked)
            args = [str(SUITE), *job.tests, "-c", str(PYTEST_INI), "--rootdir", str(SUITE.parent),
                    "-p", "no:cacheprovider", "-q"]  # fmt: skip
            if job.keyword:
                args += ["-k", job.keyword]
            code = pytest.main(args, plugins=[plugin])
    except Unreachable as exc:
        return HostVerify(name, Status.UNREACHABLE, error=exc.message, hint=exc.hint)
    except HostError as exc:  # reached, but a command hung, printed too much, sudo refused...
        return HostVerify(name, Status.FAILED, error=f"{exc.code}: {exc.message}", hint=exc.hint)
    except KeyboardInterrupt:  # told to stop before the tests began
        return HostVerify(name, Status.INTERRUPTED, error="interrupted: the run was stopped")
    if code == pytest.ExitCode.INTERRUPTED and interrupts.received:  # the run told this process to stop
        return HostVerify(name, Status.INTERRUPTED, tests=plugin.results, error="interrupted: the run was stopped")
    if code == pytest.ExitCode.INTERRUPTED:  # pytest's word for a collection that failed: a test file's error
        return HostVerify(name, Status.FAILED, tests=plugin.results, error=_collection_error(plugin),
                          hint="fix the test file named (--tests)")  # fmt: skip
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        return HostVerify(name, Status.FAILED, tests=plugin.results, error="no test was selected", hint="check -k")
    if code == pytest.ExitCode.USAGE_ERROR:
        return HostVerify(
            name, Status.FAILED, tests=plugin.results, error="pytest refused the tests given (--tests, -k)"
        )
    failed = any(t.outcome in (FAILED, ERROR) for t in plugin.results)
    return HostVerify(name, Status.FAILED if failed else Status.OK, tests=plugin.results)


class Backend(testinfra.backend.base.BaseBackend):
    """testinfra's commands through a pyinstall session (host key verified, become, framed output)."""

    NAME = "pyinstall"

    def __init__(self, session: Session, *args: Any, **kwargs: Any) -> None:
        self.session = session
        super().__init__(session.target.name, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> testinfra.backend.base.CommandResult:
        command = self.get_command(command, *args)
        result = self.session.run(command, timeout=TEST_TIMEOUT)
        return self.result(result.rc, self.encode(command), result.stdout, result.stderr)

    def get_encoding(self) -> str:
        return "utf-8"  # commands run with LC_ALL=C; text from the host is decoded, never interpreted


class Plugin:
    """The fixtures every test gets (``host`` as in testinfra; the host's facts and what was asked of
    it, from the model provision uses) and the results, as they come."""

    def __init__(self, session: Session, asked: Any) -> None:
        self.session, self.asked_of_host = session, asked
        self.results: list[TestResult] = []

    @pytest.fixture(scope="session")
    def host(self) -> testinfra.host.Host:
        return testinfra.host.Host(Backend(self.session))

    @pytest.fixture(scope="session")
    def facts(self) -> facts.Facts:
        """The host's facts (provision's, `docker info` among them): gathered once, by the first test that
        asks, so that an operator's own tests alone cost no facts run."""
        return gather_facts(self.session, script=facts_script(self.asked_of_host, provision=True))

    @pytest.fixture(scope="session")
    def asked(self) -> Any:
        """What the inventory asks of this host (installer.asked.Asked)."""
        return self.asked_of_host

    @pytest.fixture(scope="session")
    def subject(self, facts: facts.Facts) -> checks.Subject:
        return checks.subject(facts, self.asked_of_host)

    @pytest.fixture(scope="session")
    def desired(self, subject: checks.Subject) -> runtime.Desired:
        """What provision would make of this host: its packages, files and daemon options."""
        try:
            return runtime.desired(subject)
        except runtime.PlanError as exc:
            pytest.fail(f"pyinstall provisions no runtime on this host: {exc.message} ({exc.hint})", pytrace=False)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        emit(events.STEP, self.session.target.name, _name(nodeid), "started")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed) or report.failed:
            outcome = report.outcome if report.when == "call" else (SKIPPED if report.skipped else ERROR)
            self._add(TestResult(_name(report.nodeid), outcome, _message(report), report.duration))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._add(TestResult(_name(report.nodeid) or "collection", ERROR, _message(report)))

    def _add(self, result: TestResult) -> None:
        previous = next((t for t in self.results if t.name == result.name), None)
        if previous is not None:  # a teardown error after the call: one result per test, the worst
            if previous.outcome == PASSED:
                previous.outcome, previous.message = result.outcome, result.message
            return
        self.results.append(result)
        emit(events.STEP, self.session.target.name, result.name, result.outcome, result.message)


def _name(nodeid: str) -> str:
    """``test_docker.py::test_a_container_runs``: the file's name, not its path from pytest's rootdir."""
    path, sep, rest = nodeid.partition("::")
    return f"{path.rsplit('/', 1)[-1]}{sep}{rest}"


def _message(report: Any) -> str:
    """The first line that says why: an assertion's message, an exception, a skip's reason."""
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr)
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0].removeprefix("AssertionError: ").removeprefix("Failed: ") if lines else ""


def _collection_error(plugin: Plugin) -> str:
    """What stopped pytest before any test ran: the test file that could not be collected, and why."""
    broken = next((t for t in plugin.results if t.outcome == ERROR), None)
    if broken is None:
        return "pytest stopped before running any test"
    return f"{broken.name} could not be collected: {broken.message}"
