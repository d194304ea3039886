"""--junit-xml: valid against the JUnit schema Jenkins and GitLab read; failed hosts, checks and tasks are
failures, unreachable hosts and unknown outcomes errors, hosts not attempted skipped."""

from __future__ import annotations

import os
from xml.etree import ElementTree as ET

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
    HostRun("web1", Status.CHANGED, tasks=[TaskResult("install docker-ce 20.10.24", Status.CHANGED, "not installed")]),
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


def test_provision_as_junit_is_valid_and_says_what_failed(schema) -> None:
    document = junit.document("provision", junit.provision_cases(RUNS), 12.5)
    schema.validate(document)
    root = ET.fromstring(document)
    (suite,) = root
    counts = [suite.get(k) for k in ("tests", "failures", "errors", "skipped")]
    assert counts == ["7", "2", "1", "1"]
    failed = {c.get("classname") + ": " + c.get("name"): c for c in suite if c.find("failure") is not None}
    assert set(failed) == {"web2: host", "web2: task start docker"}
    message = failed["web2: task start docker"].find("failure").get("message")
    assert "\\x1b[2J<bad>" in message, "host text made visible, escaped as XML"
    assert "look at the daemon's log" in failed["web2: task start docker"].find("failure").text
    (error,) = [c for c in suite if c.find("error") is not None]
    assert error.get("classname") == "web3" and "is sshd running" in error.find("error").text


def test_check_and_info_as_junit(schema) -> None:
    refused = Finding("KERNEL", Level.ERROR, "kernel 2.6.32-358.el6.x86_64 is older than 2.6.32-431", "update it")
    ignored = Finding("SELINUX", Level.WARNING, "enforcing", "", ignored=True)
    reports = [HostReport("db1", Status.FAILED, findings=[refused, ignored], seconds=0.4), HostReport("db2", Status.OK)]
    checked = junit.document("check", junit.check_cases(reports), 1.0)
    schema.validate(checked)
    names = [(c.get("classname"), c.get("name"), c.find("failure") is not None) for c in ET.fromstring(checked)[0]]
    assert names == [("db1", "host", True), ("db1", "preflight KERNEL", True), ("db1", "preflight SELINUX", False),
                     ("db2", "host", False)]  # fmt: skip
    hosts = [HostInfo("db1", Status.FAILED, findings=[Finding("STORAGE_DRIVER", Level.ERROR, "vfs, asked overlay2")])]
    schema.validate(junit.document("info", junit.info_cases(hosts), 2.0))


def test_the_cli_writes_it_beside_its_report(schema, tmp_path, unreachable) -> None:
    """The host is unreachable: an <error> in the suite."""
    out = tmp_path / "junit.xml"
    assert main(["check", str(unreachable), "--junit-xml", str(out)]) == ExitStatus.UNREACHABLE
    schema.validate(str(out))
    (case,) = ET.parse(out).getroot()[0]
    assert case.get("classname") == "web1" and "Connection refused" in case.find("error").get("message")


def test_verify_as_junit_a_case_per_host_and_test(schema) -> None:
    passed = TestResult("test_docker.py::test_a_container_runs", "passed", duration=1.2)
    failed = TestResult("test_docker.py::test_the_daemon_configuration_is_as_provision_writes_it", "failed",
                        "/etc/docker/daemon.json: debug added on the host (true), not asked for")  # fmt: skip
    skipped = TestResult("test_docker.py::test_the_cgroup_hierarchies_are_mounted", "skipped", "el7")
    hosts = [HostVerify("web1", Status.FAILED, tests=[passed, failed, skipped]),
             HostVerify("web2", Status.NOT_INSTALLED, error="Docker is not installed (no docker command)")]  # fmt: skip
    document = junit.document("verify", junit.verify_cases(hosts), 3.0)
    schema.validate(document)
    outcomes = {(c.get("classname"), c.get("name")): [e.tag for e in c] for c in ET.fromstring(document)[0]}
    assert outcomes == {
        ("web1", "host"): ["failure"],
        ("web1", f"test {passed.name}"): [],
        ("web1", f"test {failed.name}"): ["failure"],
        ("web1", f"test {skipped.name}"): ["skipped"],
        ("web2", "host"): ["failure"],
    }
