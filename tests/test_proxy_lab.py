"""The lab's proxy and private registry (tests.lab.services), as a site's hosts meet them: a lab host's dockerd
reaches the registry, with its own CA, through the proxy and in no other way. What pyinstall's day-two
features (issue: proxy, registries) will be tested against; here configured by hand."""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

import pytest

from installer import probe
from tests.lab import services
from tests.lab.services import PROXY, REGISTRY
from tests.lab.testing import Fleet, pyinstall_json

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(services.available() is not None, reason=f"missing: {services.available()} (setup.sh deps)"),
]

DROPIN = "/etc/systemd/system/docker.service.d/lab-proxy.conf"


@pytest.fixture(scope="module")
def fleet(make_fleet) -> Fleet:
    return make_fleet("svc", "el7+tmpfs:1")


def test_a_host_pulls_from_the_private_registry_through_the_proxy_only(fleet: Fleet, tmp_path: Path) -> None:
    name = fleet["el7-tmpfs-01"].name
    rc, hosts = pyinstall_json("provision", "-i", str(fleet.inventory), "--limit", name, home=tmp_path)
    assert rc == 0, hosts[name]["error"]
    root = fleet.testinfra(fleet["el7-tmpfs-01"])
    image = f"{REGISTRY}/probe:1"
    encoded = base64.b64encode(probe.PROBE.read_bytes()).decode()
    with services.serving(fleet.lab.repo) as svc:
        root.run_test(
            f"mkdir -p /etc/docker/certs.d/{REGISTRY} {Path(DROPIN).parent} && "
            f"printf %s {shlex.quote(svc.ca.read_text())} > /etc/docker/certs.d/{REGISTRY}/ca.crt && "
            f"printf '[Service]\\nEnvironment=HTTPS_PROXY={PROXY}\\n' > {DROPIN} && "
            "systemctl daemon-reload >/dev/null 2>&1 && systemctl restart docker"
        )
        root.run_test(f"printf %s {shlex.quote(encoded)} | base64 -d | docker import - {image} >/dev/null")
        root.run_test(f"docker push {image} && docker rmi {image}")
        root.run_test(f"docker pull {image}")
        assert root.check_output(f"docker run --rm --net=none {image} /echo pulled") == "pulled"
        assert f"CONNECT {REGISTRY}" in svc.connects()

        # Without the proxy the registry is out of reach: its name resolves nowhere but in the proxy.
        root.run_test(f"docker rmi {image} && rm -f {DROPIN} && systemctl daemon-reload >/dev/null 2>&1 && "
                      "systemctl restart docker")  # fmt: skip
        direct = root.run(f"docker pull {image}")
        assert direct.rc != 0 and REGISTRY.split(":")[0] in direct.stderr, direct.stderr
