"""SPEC parsing of the lab (no hosts needed)."""

import re

import pytest

from tests.lab import SpecError, parse


def test_names_follow_spec_order() -> None:
    hosts = parse("el6:2,el7+tmpfs:1,el6-i686:1")
    assert [(h.name, h.kind, h.store) for h in hosts] == [
        ("el6-01", "el6", "none"),
        ("el6-02", "el6", "none"),
        ("el7-tmpfs-01", "el7", "tmpfs"),
        ("el6-i686-01", "el6-i686", "none"),
    ]


def test_uml_hosts_are_named_for_their_kernel_and_store() -> None:
    hosts = parse("el7@uml:1,el7+lvm@uml:1,el7+xfs0@uml:1,el7:1")
    assert [(h.name, h.store, h.uml) for h in hosts] == [
        ("el7-uml-01", "disk", True),
        ("el7-uml-lvm-01", "lvm", True),
        ("el7-uml-xfs0-01", "xfs0", True),
        ("el7-01", "none", False),
    ]


def test_prefix_and_kind_facts() -> None:
    (host,) = parse("el6-oldkernel:1", prefix="t-")
    assert host.name == "t-el6-oldkernel-01"
    assert host.spec.kernel_release == "2.6.32-358.el6.x86_64"
    assert host.spec.family == "el6"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("el5:1", "unknown host kind 'el5'"),
        ("el7+nfs:1", "unknown docker store 'nfs'"),
        ("el6", "expected KIND[+STORE][@uml]:COUNT"),
        ("el7+tmpfs@uml:1", "unknown docker store 'tmpfs' for an @uml host"),
        ("el7+lvm:1", "unknown docker store 'lvm' for a host"),
        ("el6:1,el6:2", "appears twice"),
        ("", "no hosts"),
        ("el6:0", "no hosts"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        parse(spec)


def test_two_octets_give_the_lab_room_for_thousands_of_hosts() -> None:
    from tests.lab.fleet import _addresses

    three = list(_addresses("127.0.77"))
    assert (three[0], three[-1], len(three)) == ("127.0.77.10", "127.0.77.254", 245)
    two = list(_addresses("127.1"))
    assert (two[0], two[245], two[-1], len(two)) == ("127.1.0.10", "127.1.1.10", "127.1.255.254", 256 * 245)
