"""Day two (installer/daytwo.py) on recorded facts: what each variable accepts and refuses, the files and
operations it becomes, what a later run takes away, what remove and drift see, and where a secret never goes."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from installer import asked, checks, daytwo, drift, facts, platforms, runtime
from installer.asked import AskedError
from installer.executor import execute
from installer.plan import Plan, plan, tagged
from installer.remove import removal
from tests.lab import spec as lab_spec

FACTS = Path(__file__).parent / "facts"
CERTS = Path(__file__).parent / "certs"
REGISTRY = "registry.example.com:5000"
PASSWORD = "pr0xy-pw"


def recorded(name: str, **changes: object) -> facts.Facts:
    return replace(facts.parse((FACTS / f"{name}.txt").read_text()), **changes)


def desired(platform_id: str, variables: dict, driver: str) -> runtime.Desired:
    a = asked.parse("h1", {**lab_spec.LAB_VARS, **variables})
    platform = platforms.by_id(platform_id)
    s = checks.Subject(facts.Facts(), a, platform, platform.channel_for(a.package, a.channel), driver)
    return runtime.desired(s, s.pin)


def names(p: Plan) -> list[str]:
    return [op.name for op in p.operations]


def refused(variable: str, value: object) -> AskedError:
    with pytest.raises(AskedError) as caught:
        asked.parse("h1", {variable: value})
    assert caught.value.variable == variable
    return caught.value


# ---------------------------------------------------------------- the variables


def test_the_proxy_as_docker_reads_it() -> None:
    given = {"https": "http://proxy.example.com:3128", "no_proxy": "localhost, .example.com 10.0.0.0/8"}
    p = asked.parse("h1", {"docker_proxy": given}).day_two.proxy
    assert p == daytwo.Proxy(None, "http://proxy.example.com:3128", ("localhost", ".example.com", "10.0.0.0/8"))
    assert p.environment() == {"HTTPS_PROXY": "http://proxy.example.com:3128",
                               "NO_PROXY": "localhost,.example.com,10.0.0.0/8"}  # fmt: skip
    assert not p.secret
    assert asked.parse("h1", {"docker_proxy": {"http": f"http://u:{PASSWORD}@proxy:8080/"}}).day_two.proxy.secret


@pytest.mark.parametrize(
    "value, said",
    [
        ("http://proxy:3128", "is not a mapping"),
        ({"ftp": "http://x"}, "'ftp' is not one of http, https, no_proxy"),
        ({"no_proxy": ["a"]}, "names no proxy"),
        ({"https": f"http://u:{PASSWORD}@proxy:3128 ; rm -rf /"}, "is not a proxy URL"),
        ({"https": "socks5://proxy:1080"}, "is not a proxy URL"),
        ({"https": "http://proxy:3128", "no_proxy": ["a b"]}, "no_proxy"),
        ({"https": "http://proxy:3128", "no_proxy": ["$(id)"]}, "no_proxy"),
    ],
)
def test_a_bad_proxy_is_refused_by_name_and_never_quotes_the_password(value: object, said: str) -> None:
    error = refused("docker_proxy", value)
    assert said in error.message and PASSWORD not in str(error) + error.hint


def test_the_proxy_has_one_source_daemon_json_proxies_is_refused() -> None:
    """docker-ce 23 and later read `proxies` from daemon.json too: never written, and refused when asked."""
    with pytest.raises(AskedError, match="unknown daemon option 'proxies'"):
        asked.parse("h1", {"docker_daemon_options": {"proxies": {"https-proxy": "http://p:3128"}}})


def test_registry_certificates_from_files_or_pem_text() -> None:
    (r,) = asked.parse("h1", {"docker_registries": {REGISTRY: {
        "ca_cert": str(CERTS / "ca.crt"), "client_cert": (CERTS / "client.cert").read_text(),
        "client_key": str(CERTS / "client.key")}}}).day_two.registries  # fmt: skip
    assert r.name == REGISTRY and r.ca_cert == (CERTS / "ca.crt").read_text()
    assert r.client_key == (CERTS / "client.key").read_text()


@pytest.mark.parametrize(
    "entry, said",
    [
        ({"ca_cert": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"}, "not a PEM certificate"),
        ({"ca_cert": "/nonexistent/ca.pem"}, "cannot read /nonexistent/ca.pem"),
        ({"ca_cert": str(CERTS)}, "is not a file"),
        ({"ca_cert": str(CERTS / "README.md")}, "holds no PEM block"),
        ({"client_cert": str(CERTS / "client.cert")}, "needs its key"),
        ({"client_cert": str(CERTS / "client.cert"), "client_key": str(CERTS / "client-encrypted.key")}, "encrypted"),
        ({"client_cert": str(CERTS / "ca.crt"), "client_key": str(CERTS / "client.key")}, "are not a pair"),
        ({"client_cert": str(CERTS / "client.cert"), "client_key": str(CERTS / "ca.crt")}, "not a PEM private key"),
        ({"ca": "x"}, "'ca' is not one of ca_cert"),
        ({}, "give ca_cert, or client_cert and client_key"),
    ],
)
def test_a_bad_registry_entry_is_refused_before_any_host_is_touched(entry: dict, said: str) -> None:
    error = refused("docker_registries", {REGISTRY: entry})
    assert said in error.message and REGISTRY in error.message
    assert "PRIVATE KEY" not in error.message


def test_a_registry_is_named_as_certs_d_names_it() -> None:
    assert "is not a registry's HOST or HOST:PORT" in refused("docker_registries", {"../etc": {"ca_cert": "x"}}).message
    assert "is not a registry's" in refused("docker_registries", {"https://r:5000": {"ca_cert": "x"}}).message


def test_users_and_kernel_settings() -> None:
    model = asked.parse("h1", {"docker_users": "alice, deploy alice",
                               "docker_sysctls": {"net.ipv4.ip_forward": True,
                                                  "net.bridge.bridge-nf-call-ip6tables": None,
                                                  "vm.max_map_count": 262144}}).day_two  # fmt: skip
    assert model.users == ("alice", "deploy")
    assert model.sysctls == {"net.bridge.bridge-nf-call-iptables": "1", "net.ipv4.ip_forward": "1",
                             "vm.max_map_count": "262144"}  # fmt: skip
    assert asked.parse("h1", {}).day_two.sysctls == daytwo.DEFAULT_SYSCTLS
    assert "root needs no group" in refused("docker_users", ["root"]).message
    assert "is not a list of user names" in refused("docker_users", ["alice; reboot"]).message
    assert "is not a kernel setting's name" in refused("docker_sysctls", {"../../x": 1}).message
    assert "is not a kernel setting's value" in refused("docker_sysctls", {"kernel.x": "1; reboot"}).message


# ---------------------------------------------------------------- files and operations

PROXIED = {"docker_proxy": {"https": f"http://u:{PASSWORD}@proxy:3128"}}


def test_the_proxy_reaches_dockerd_through_a_file_only_root_reads() -> None:
    el7 = desired("el7", PROXIED, "overlay2")
    env, dropin = (f for f in el7.files if f.tag == "proxy")
    assert (env.path, env.mode, env.secret) == (daytwo.PROXY_ENVIRONMENT, 0o600, True)
    assert env.content.splitlines()[-1] == f"HTTPS_PROXY=http://u:{PASSWORD}@proxy:3128"
    assert dropin.path == daytwo.PROXY_DROPIN and f"EnvironmentFile={daytwo.PROXY_ENVIRONMENT}" in dropin.content
    assert [line for line in dropin.content.splitlines() if line.startswith("Environment")] == [
        f"EnvironmentFile={daytwo.PROXY_ENVIRONMENT}"
    ]
    # EL6's init script sources /etc/sysconfig/docker, which exports the same file.
    el6 = desired("el6", PROXIED, "vfs")
    assert [f.path for f in el6.files if f.tag == "proxy"] == [daytwo.PROXY_ENVIRONMENT]
    assert f"set -a; . {daytwo.PROXY_ENVIRONMENT}; set +a" in el6.config_file.content
    assert "set -a" not in desired("el6", {}, "vfs").config_file.content


def test_a_secret_is_in_no_diff_no_shown_command_and_no_check_mode_report() -> None:
    host = recorded("lab-el7-provisioned")
    steps = plan(host, desired("el7", PROXIED, "overlay2"), "S")
    (env,) = [op for op in steps.operations if op.file == daytwo.PROXY_ENVIRONMENT]
    shown = env.diff + env.why + " ".join(env.shown)
    assert PASSWORD not in shown and base64.b64encode(PASSWORD.encode()).decode()[:8] not in shown
    assert steps.restart is not None, "the daemon reads its environment when it starts"
    (dropin,) = [op for op in steps.operations if op.file == daytwo.PROXY_DROPIN]
    assert dropin.commands[0].endswith("&& systemctl daemon-reload")
    tasks = execute(None, steps, check=True)
    assert PASSWORD not in repr(tasks)


def test_registry_files_as_docker_reads_them_and_no_restart() -> None:
    variables = {"docker_registries": {REGISTRY: {"ca_cert": str(CERTS / "ca.crt"),
                                                  "client_cert": str(CERTS / "client.cert"),
                                                  "client_key": str(CERTS / "client.key")}}}  # fmt: skip
    wanted = desired("el7", variables, "overlay2")
    written = {f.path: f for f in wanted.files if f.tag == "registries"}
    base = f"/etc/docker/certs.d/{REGISTRY}"
    assert list(written) == [f"{base}/ca.crt", f"{base}/client.cert", f"{base}/client.key"]
    assert written[f"{base}/client.key"].mode == 0o600 and written[f"{base}/client.key"].secret
    steps = plan(recorded("lab-el7-provisioned"), wanted, "S")
    assert names(tagged(steps, frozenset({"registries"}))) == [f"write registry certificate {p}" for p in written]
    assert steps.restart is None, "dockerd reads certs.d at each connection"
    key = next(op for op in steps.operations if op.file.endswith("client.key"))
    assert "PRIVATE KEY" not in key.diff + " ".join(key.shown)


def test_users_join_the_group_once_and_leave_it_when_dropped() -> None:
    host = recorded("lab-el7-provisioned", users=["alice", "bob"], docker_group=["bob"])
    steps = plan(host, desired("el7", {"docker_users": ["alice", "bob"]}, "overlay2"))
    (join,) = [op for op in steps.operations if op.tag == "users"]
    assert join.name == "add alice to the docker group" and "usermod -a -G docker alice" in join.commands[0]
    assert "member alice" in join.commands[0] and not join.restarts
    # The group did not exist yet (a package without one): made, and the daemon restarts to give it the socket.
    grouped = plan(replace(host, docker_group=None), desired("el7", {"docker_users": ["bob"]}, "overlay2"))
    (made,) = [op for op in grouped.operations if op.tag == "users"]
    assert "groupadd -r docker" in made.commands[0] and made.restarts and grouped.restart is not None
    # alice was added by pyinstall (the ledger), and nothing asks for her any more; carol was not: she stays.
    later = replace(
        host, docker_group=["alice", "bob", "carol"], ledger={**host.ledger, "member": ["alice", "carol;x"]}
    )
    (leave,) = [op for op in plan(later, desired("el7", {"docker_users": ["bob"]}, "overlay2")).operations
                if op.tag == "users"]  # fmt: skip
    assert leave.commands == ("gpasswd -d alice docker >/dev/null",)


def test_kernel_settings_set_where_they_differ_with_bridge_netfilter_loaded_first() -> None:
    host = recorded("lab-el7-provisioned")
    wanted = desired("el7", {"docker_sysctls": {"vm.max_map_count": 262144}}, "overlay2")
    (apply,) = [op for op in plan(host, wanted).operations if op.name == "set the kernel settings Docker needs"]
    assert apply.commands == ("sysctl -w vm.max_map_count=262144 >/dev/null",), "the defaults hold already"
    fresh = replace(host, sysctls={k: "0" for k in daytwo.DEFAULT_SYSCTLS})
    (apply,) = [op for op in plan(fresh, desired("el7", {}, "overlay2")).operations if op.tag == "sysctl"]
    assert apply.commands[0].startswith("[ -d /proc/sys/net/bridge ] || modprobe br_netfilter")
    modules = {f.path: f.content for f in desired("el6", {}, "vfs").files if f.tag == "sysctl"}
    assert modules[daytwo.MODULES_SCRIPT].endswith("/sbin/modprobe bridge >/dev/null 2>&1\n")
    dropped = {k: None for k in daytwo.DEFAULT_SYSCTLS}
    assert not [f for f in desired("el7", {"docker_sysctls": dropped}, "overlay2").files if f.tag == "sysctl"]


def test_a_provisioned_host_needs_nothing_and_dropped_files_go_by_the_ledger() -> None:
    host = recorded("lab-el7-provisioned")
    assert not plan(host, desired("el7", {}, "overlay2"))
    ca = f"/etc/docker/certs.d/{REGISTRY}/ca.crt"
    left = replace(host, ledger={**host.ledger, "file": [*host.ledger["file"], ca, daytwo.PROXY_ENVIRONMENT,
                                                           "/etc/passwd"]},
                   file_sums={**host.file_sums, ca: "0" * 64, daytwo.PROXY_ENVIRONMENT: "1" * 64})  # fmt: skip
    steps = plan(left, desired("el7", {}, "overlay2"), "S")
    assert names(steps) == [f"remove registry certificate {ca}",
                            f"remove daemon proxy environment {daytwo.PROXY_ENVIRONMENT}"]  # fmt: skip
    assert steps.restart is not None
    assert "rmdir /etc/docker/certs.d/registry.example.com:5000 " in steps.operations[0].commands[0]
    assert not steps.operations[0].restarts and steps.operations[1].restarts
    assert "/etc/passwd" not in " ".join(c for op in steps.operations for c in op.commands)
    removed = removal(left, desired("el7", {}, "overlay2"), stamp="S")
    assert f"remove registry certificate {ca}" in names(removed)


def test_drift_names_each_setting_without_showing_a_secret() -> None:
    variables = {
        **PROXIED,
        "docker_users": ["alice"],
        "docker_registries": {REGISTRY: {"ca_cert": str(CERTS / "ca.crt")}},
    }
    a = asked.parse("h1", {**lab_spec.LAB_VARS, "docker_storage_driver": "overlay2", **variables})
    host = recorded("lab-el7-provisioned", docker_group=["bob"], users=["alice"],
                    available=["3:20.10.24-3.el7"])  # fmt: skip
    wanted = runtime.desired(checks.subject(host, a))
    sums = {f.path: hashlib.sha256(f.content.encode()).hexdigest() for f in wanted.files if daytwo.owned(f.path)}
    edited = replace(host, file_sums={**host.file_sums, **sums, daytwo.PROXY_ENVIRONMENT: "0" * 64},
                     day_two_files={**host.day_two_files, **{f.path: f.content for f in wanted.files if f.tag ==
                                                             "registries"}},
                     sysctls={**host.sysctls, "net.ipv4.ip_forward": "0"},
                     ledger={**host.ledger, "member": ["bob"]})  # fmt: skip
    found = [str(d) for d in drift.differences(edited, a)]
    assert found == [
        f"{daytwo.PROXY_ENVIRONMENT} asked <secret>, found changed on the host",
        "kernel: net.ipv4.ip_forward asked 1, found 0",
        "docker group: alice asked member, missing on the host",
        "docker group: bob added on the host (member), not asked for",
    ]
    assert PASSWORD not in " ".join(found)


def test_check_names_missing_users_and_settings_the_kernel_lacks() -> None:
    host = recorded("lab-el7-full", users=["alice"], sysctls={"net.ipv4.ip_fowrard": None,
                                                              "net.bridge.bridge-nf-call-iptables": None})  # fmt: skip
    a = asked.parse("h1", {"docker_users": ["alice", "bob"], "docker_sysctls": {"net.ipv4.ip_fowrard": 1}})
    found = {f.code: f.message for f in checks.run_checks(host, a)}
    assert found["DOCKER_USERS"] == "docker_users: no such user on the host: bob"
    assert found["SYSCTL"] == "docker_sysctls: the kernel has no net.ipv4.ip_fowrard", "net.bridge.* appear later"


def test_registry_logins_for_roots_docker_cli_a_secret_everywhere() -> None:
    login = {REGISTRY: {"username": "deploy", "password": PASSWORD}}
    wanted = desired("el7", {"docker_registry_auth": login}, "overlay2")
    (auth,) = [f for f in wanted.files if f.path == daytwo.AUTH_FILE]
    token = base64.b64encode(f"deploy:{PASSWORD}".encode()).decode()
    assert json.loads(auth.content) == {"auths": {REGISTRY: {"auth": token}}}
    assert (auth.mode, auth.secret, auth.tag) == (0o600, True, "registries")
    (op,) = [op for op in plan(recorded("lab-el7-provisioned"), wanted, "S").operations if op.file == daytwo.AUTH_FILE]
    assert op.name == f"write registry logins {daytwo.AUTH_FILE}"
    shown = op.diff + " ".join(op.shown) + repr(asked.parse("h1", {"docker_registry_auth": login}))
    assert PASSWORD not in shown and token not in shown
    for bad in ({REGISTRY: {"username": "deploy"}}, {REGISTRY: {"username": "a:b", "password": PASSWORD}},
                {REGISTRY: {"username": "deploy", "password": PASSWORD + "\n"}}, [PASSWORD]):  # fmt: skip
        error = refused("docker_registry_auth", bad)
        assert PASSWORD not in str(error) + error.hint


def test_a_login_file_of_the_hosts_own_is_refused_before_it_is_replaced() -> None:
    login = asked.parse("h1", {"docker_registry_auth": {REGISTRY: {"username": "u", "password": PASSWORD}}})
    theirs = recorded("lab-el7-full", file_sums={daytwo.AUTH_FILE: "0" * 64})
    found = {f.code: f.message for f in checks.run_checks(theirs, login)}
    assert "not written by pyinstall" in found["REGISTRY_AUTH"]
    ours = replace(theirs, ledger={"file": [daytwo.AUTH_FILE]})
    assert "REGISTRY_AUTH" not in {f.code for f in checks.run_checks(ours, login)}


def test_every_secret_of_day_two_is_registered_to_be_masked() -> None:
    model = asked.parse("h1", {
        "docker_proxy": {"https": "http://u:p%40ss@proxy:3128", "http": "http://nopassword@proxy:3128"},
        "docker_registry_auth": {REGISTRY: {"username": "deploy", "password": PASSWORD}},
        "docker_registries": {REGISTRY: {"client_cert": str(CERTS / "client.cert"),
                                         "client_key": str(CERTS / "client.key")}},
    }).day_two  # fmt: skip
    token = base64.b64encode(f"deploy:{PASSWORD}".encode()).decode()
    assert model.secrets() == ["p%40ss", "p@ss", PASSWORD, token, (CERTS / "client.key").read_text()]
