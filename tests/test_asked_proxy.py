"""docker_proxy as asked.py reads it (the daemon's proxy; issue 30's first variable)."""

from __future__ import annotations

import pytest

from installer import asked
from installer.asked import AskedError, Proxy


def parse(value: object) -> Proxy | None:
    return asked.parse("h1", {"docker_proxy": value}).proxy


def test_a_proxy_as_docker_reads_it() -> None:
    p = parse({"https": "http://proxy.example.com:3128", "no_proxy": "localhost, .example.com 10.0.0.0/8"})
    assert p == Proxy(None, "http://proxy.example.com:3128", ("localhost", ".example.com", "10.0.0.0/8"))
    assert p.environment() == {"HTTPS_PROXY": "http://proxy.example.com:3128",
                               "NO_PROXY": "localhost,.example.com,10.0.0.0/8"}  # fmt: skip
    assert not p.secret
    assert parse({"http": "http://u:s3cr%40t@proxy:8080/"}).secret


@pytest.mark.parametrize(
    "value, said",
    [
        ("http://proxy:3128", "is not a mapping"),
        ({"ftp": "http://x"}, "'ftp' is not one of http, https, no_proxy"),
        ({"no_proxy": ["a"]}, "names no proxy"),
        ({"https": "http://u:hunter2@proxy:3128 ; rm -rf /"}, "is not a proxy URL"),
        ({"https": "socks5://proxy:1080"}, "is not a proxy URL"),
        ({"https": "http://proxy:3128", "no_proxy": ["a b"]}, "no_proxy"),
        ({"https": "http://proxy:3128", "no_proxy": ["$(id)"]}, "no_proxy"),
    ],
)
def test_what_is_refused_names_the_variable_and_never_the_password(value: object, said: str) -> None:
    with pytest.raises(AskedError) as caught:
        parse(value)
    assert said in caught.value.message and "docker_proxy" in caught.value.message
    assert "hunter2" not in str(caught.value)
