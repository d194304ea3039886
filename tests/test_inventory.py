"""Inventories: ansible-inventory (ansible-core) is the oracle; bad files say file:line and what is wrong."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from installer import inventory
from installer.errors import InventoryError, PatternError
from installer.patterns import select, split_pattern

ROOT = Path(__file__).resolve().parent.parent
INVENTORIES = [
    ROOT / "inventories/example.ini",
    ROOT / "tests/inventories/precedence/hosts.ini",
    ROOT / "tests/inventories/yaml/hosts.yml",
]
ANSIBLE_INVENTORY = shutil.which("ansible-inventory") or (
    str(Path(__import__("sys").executable).parent / "ansible-inventory")
)
needs_ansible = pytest.mark.skipif(
    not Path(ANSIBLE_INVENTORY).exists(), reason="ansible-core (the oracle) is not installed: pip install -e '.[test]'"
)


def ansible(*args: str) -> str:
    proc = subprocess.run([ANSIBLE_INVENTORY, *args], capture_output=True, text=True, check=True)
    return proc.stdout


@needs_ansible
@pytest.mark.parametrize("path", INVENTORIES, ids=lambda p: p.name)
def test_list_matches_ansible_inventory(path: Path) -> None:
    expected = json.loads(ansible("-i", str(path), "--list"))
    expected["_meta"].pop("profile", None)  # an ansible-core 2.19 marker, not inventory data
    assert inventory.load(path).to_ansible_list() == expected


@needs_ansible
@pytest.mark.parametrize("path", INVENTORIES, ids=lambda p: p.name)
def test_graph_matches_ansible_inventory(path: Path) -> None:
    assert inventory.load(path).graph() == ansible("-i", str(path), "--graph").rstrip("\n")


@needs_ansible
def test_lab_inventory_matches_ansible(tmp_path: Path) -> None:
    from tests.lab.fleet import Lab
    from tests.lab.host import Host

    lab = Lab(tmp_path)
    hosts = [
        Host("el6-01", "el6", "none", "127.0.0.10", 22, tmp_path / "hosts/el6-01"),
        Host("el7-tmpfs-01", "el7", "tmpfs", "127.0.0.11", 22, tmp_path / "hosts/el7-tmpfs-01"),
    ]
    path = lab.write_inventory(tmp_path / "lab.ini", hosts)
    expected = json.loads(ansible("-i", str(path), "--list"))
    expected["_meta"].pop("profile", None)
    got = inventory.load(path).to_ansible_list()
    assert got == expected
    assert got["_meta"]["hostvars"]["el6-01"]["docker_daemon_options"] == {
        "bridge": "none",
        "iptables": False,
        "icc": None,
    }
    assert got["_meta"]["hostvars"]["el7-tmpfs-01"]["docker_storage_driver"] == "overlay2"


def test_precedence() -> None:
    inv = inventory.load(ROOT / "tests/inventories/precedence/hosts.ini")
    db01, db02, app01 = inv.host("db01.example.com"), inv.host("db02.example.com"), inv.host("app01")
    assert db01.vars["shared"] == "from-host_vars"  # host_vars/ beats everything
    assert db01.vars["role"] == "primary-db"
    assert db02.vars["role"] == "db" and db02.vars["extra"] == 1  # two lines for one host merge
    assert db02.vars["shared"] == "from-group_vars-el6"  # group_vars/ files beat INI group vars
    assert db02.vars["layer"] == "el6"  # child group beats parent, parent beats all
    assert db02.vars["only_legacy"] == "yes"  # inherited from the parent group
    assert db02.vars["ansible_port"] == 2222 and db02.vars["weight"] == 3 and db02.vars["labels"] == ["a", "b"]
    assert db02.vars["number"] == 42 and db02.vars["list"] == [1, 2, 3] and db02.vars["text"] == "quoted string"
    assert app01.vars["ansible_host"] == "10.0.0.1" and app01.vars["ansible_port"] == 2200
    assert inv.host("web-b").vars["quoted"] == "has spaces and # not a comment"
    assert inv.host("web-b").vars["flag"] is True
    assert [h for h in inv.host_names if h.startswith("odd")] == ["odd1", "odd4", "odd7"]
    assert inv.host("::1").vars["ansible_port"] == 2200
    assert "fe80::1" in inv.host_names
    assert inv.groups["ungrouped"].hosts == ["lonely.example.com", "::1", "fe80::1"]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ('[g]\nh1 a="unterminated\n', 2, "No closing quotation"),
        ("[g]\nweb[01:5]\n", 2, "equal length"),
        ("[g]\nweb[5:1]\n", 2, "greater than end"),
        ("[g]\nweb[a:5]\n", 2, "numbers (01:50) or single letters"),
        ("[g]\nweb[1:4:0]\n", 2, "step must be 1 or more"),
        ("[g]\nweb[1:]\n", 2, "has no end"),
        ("[g]\nweb[1:3\n", 2, "no closing ']'"),
        ("[g]\nh1\n[parent:children]\ng\nmissing\n", 5, "includes undefined group 'missing'"),
        ("[g]\nh1\n\n[nothere:vars]\nx=1\n", 4, "never declared"),
        ("[g:bogus]\nh1\n", 1, "unknown type 'bogus'"),
        ("[g]\nh1\n[bad group]\n", 3, "invalid section header"),
        ("[g:vars]\njust-a-word\n[g]\n", 2, "expected key=value"),
        ("[g]\nh1 novalue\n", 2, "expected key=value host variable"),
        ("[g]\nhost:\n", 2, "reserved for a port"),
        ("---\nall:\n  hosts:\n", 1, "YAML"),
        ("[a:children]\nb\n[b:children]\na\n", 4, "creates a loop"),
        ("[g:vars]\nansible_group_priority=high\n[g]\n", 2, "must be a number"),
    ],
)
def test_bad_ini_says_file_line_and_what(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    with pytest.raises(InventoryError) as exc:
        inventory.load(path)
    assert exc.value.line == line
    assert str(exc.value).startswith(f"{path}:{line}: ")
    assert message in str(exc.value)


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("- a\n- b\n", 1, "not an inventory"),
        ("all:\n  hosts:\n    h1:\n  servers:\n    h2:\n", 4, "unknown key 'servers'"),
        ("all:\n  hosts:\n    - h1\n", 3, "must be a mapping"),
        ("all:\n  hosts:\n    h1: [1, 2]\n", 3, "must be a mapping"),
        ("all:\n  children:\n    g:\n      hosts: {a: {x: 1}\n", 5, "not valid YAML"),
        ("all:\n  hosts:\n    h1:\n    h1:\n", 4, "appears twice"),
        ("", None, "empty"),
    ],
)
def test_bad_yaml_says_file_line_and_what(tmp_path: Path, text: str, line: int | None, message: str) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    with pytest.raises(InventoryError) as exc:
        inventory.load(path)
    assert exc.value.line == line
    assert message in str(exc.value)


def test_bad_vars_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text("[g]\nh1\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars/g.yml").write_text("a: 1\nb: [unclosed\n")
    with pytest.raises(InventoryError, match=r"group_vars/g\.yml:\d+: not valid YAML"):
        inventory.load(tmp_path / "hosts.ini")


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="no such file"):
        inventory.load(tmp_path / "missing.ini")
    (tmp_path / "latin1.ini").write_bytes(b"[g]\nh1\nh\xe9\n")
    with pytest.raises(InventoryError) as exc:
        inventory.load(tmp_path / "latin1.ini")
    assert exc.value.line == 3 and "UTF-8" in str(exc.value)


def _texts(chars: str, words: list[str], max_size: int = 40) -> st.SearchStrategy[str]:
    """Text made of inventory-ish characters and keywords, where parsers have edges."""
    return st.lists(st.sampled_from([*chars, *words]), max_size=max_size).map("".join)


@settings(max_examples=300, deadline=None)
@given(_texts("[]:=#;'\"\\ \n\tabc019-_*!~@{},", ["children", "vars", "all"]))
def test_any_ini_text_parses_or_raises_an_inventory_error_with_a_line(text: str) -> None:
    try:
        inv = inventory.parse_ini(text, "fuzz.ini")
    except InventoryError as exc:
        assert exc.line is None or 1 <= exc.line <= text.count("\n") + 1
    else:
        inv.to_ansible_list()


@settings(max_examples=200, deadline=None)
@given(_texts("-:[]{}, \n\"'#&*!|>ab1", ["hosts", "vars", "children", "all", "  "]))
def test_any_yaml_text_parses_or_raises_an_inventory_error(text: str) -> None:
    try:
        inv = inventory.parse_yaml(text, "fuzz.yml")
    except InventoryError:
        pass
    else:
        inv.to_ansible_list()


# ---------------------------------------------------------------- host patterns

PRECEDENCE = ROOT / "tests/inventories/precedence/hosts.ini"


def ansible_hosts(pattern: str, *sources: Path) -> list[str] | None:
    """The hosts ``ansible-playbook --limit PATTERN`` runs a play on ``hosts: all`` on, in its order (as
    ``ansible all --limit`` lists them); None where Ansible refuses the pattern."""
    ansible_bin = Path(ANSIBLE_INVENTORY).parent / "ansible"
    sources = sources or (PRECEDENCE,)
    proc = subprocess.run(
        [str(ansible_bin), *(a for s in sources for a in ("-i", str(s))), "all", "--limit", pattern, "--list-hosts"],
        capture_output=True,
        text=True,
    )
    if proc.returncode and "leaves us with no hosts" in proc.stderr:
        return []  # pyinstall's selection is empty too, and the command refuses it (exit 5)
    lines = proc.stdout.splitlines()
    return [line.strip() for line in lines[1:] if line.strip()] if proc.returncode == 0 else None


@needs_ansible
@pytest.mark.parametrize(
    "pattern",
    [
        "all",
        "el6",
        "el6:el7",
        "el6,!db02.example.com",
        "fleet:&el7",
        "db*",
        "~web-[ab]",
        "legacy:!db0*",
        "el6[0]",
        "el6[1:2]",
        "*.example.com",
        "&el6",
        "el6:el7:!web-*",
        "fleet:&legacy:!odd*",
        "fe80::1",
        # Subscripts pick from whatever the rest of the term matches (a name, a glob, a group).
        "db0[1:2].example.com",
        "db0[1:2]",
        "db*[0:1]",
        "el6[-1]",
        "el6[2:]",
        "el6[1:0]",
        "el6[1-2]",
        "el7:el6",
        "el6[40]",  # Ansible refuses a subscript past the end; so does pyinstall
        "nosuchgroup",
    ],
)
def test_patterns_match_ansible(pattern: str) -> None:
    inv = inventory.load(PRECEDENCE)
    expected = ansible_hosts(pattern)
    if expected is None:
        with pytest.raises(PatternError):
            select(inv, pattern)
        return
    assert select(inv, pattern).hosts == expected


def test_pattern_details(tmp_path: Path) -> None:
    inv = inventory.load(PRECEDENCE)
    assert select(inv, None).hosts == inv.group_hosts("all")
    assert select(inv, "!el6:!el7").hosts == ["lonely.example.com", "::1", "fe80::1"]
    nothing = select(inv, "el6,nosuchgroup")
    assert nothing.unmatched == ["nosuchgroup"]
    retry = tmp_path / "check.retry"
    retry.write_text("db01.example.com\n# a comment\n\napp02\n")
    assert select(inv, f"@{retry}").hosts == ["app02", "db01.example.com"]  # all's order: el7 is nearer the top
    assert select(inv, f"@{retry},!app02").hosts == ["db01.example.com"]
    with pytest.raises(PatternError, match="cannot read limit file"):
        select(inv, f"@{tmp_path / 'missing.retry'}")
    with pytest.raises(PatternError, match="bad regular expression"):
        select(inv, "~web(")
    assert split_pattern("a:b,c") == ["a:b", "c"]  # commas win, as in Ansible
    assert split_pattern("web[1:3]:!db") == ["web[1:3]", "!db"]
    assert split_pattern("fe80::1") == ["fe80::1"]
    assert split_pattern("el6:el7:!*tmpfs*") == ["el6", "el7", "!*tmpfs*"]


def _split_fleet(tmp_path: Path) -> tuple[Path, Path]:
    """Prod in INI, staging in YAML, overlapping: a host in both, a group in both, 'all' vars in both."""
    prod = tmp_path / "prod.ini"
    prod.write_text(
        "lone\n[web]\nweb01 role=prod\nshared01 role=prod\n[db]\ndb01\n[el7:children]\nweb\n"
        "[all:vars]\nenv=prod\nntp=ntp1\n[web:vars]\nport=80\n"
    )
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("from_prod_dir: 1\n")
    staging = tmp_path / "staging" / "hosts.yml"
    staging.parent.mkdir()
    staging.write_text(
        "all:\n  vars:\n    env: staging\n  children:\n    web:\n      hosts:\n        web-stg01: {role: stg}\n"
        "        shared01: {role: stg}\n      vars: {port: 8080}\n    el6:\n      hosts:\n        lone:\n"
    )
    (staging.parent / "host_vars").mkdir()
    (staging.parent / "host_vars" / "shared01.yml").write_text("from_staging_dir: 1\n")
    return prod, staging


@needs_ansible
def test_several_inventories_merge_as_ansible_merges_them(tmp_path: Path) -> None:
    prod, staging = _split_fleet(tmp_path)
    for order in ((prod, staging), (staging, prod)):
        args = [a for p in order for a in ("-i", str(p))]
        expected = json.loads(ansible(*args, "--list"))
        expected["_meta"].pop("profile", None)
        assert inventory.load(*order).to_ansible_list() == expected, order
        assert inventory.load(*order).graph() == ansible(*args, "--graph").rstrip("\n"), order


@needs_ansible
def test_a_directory_of_inventories_is_read_as_ansible_reads_it(tmp_path: Path) -> None:
    # Not beside the working directory: ansible-inventory also reads group_vars/ there (the playbook dir).
    (tmp_path / "src").mkdir()
    prod, staging = _split_fleet(tmp_path / "src")
    directory = tmp_path / "inventory"
    directory.mkdir()
    (directory / "10-prod.ini").write_text(prod.read_text())
    (directory / "20-staging.yml").write_text(staging.read_text())
    (directory / "README.md").write_text("# not an inventory\n")
    (directory / "old.ini.bak").write_text("[broken\n")
    (directory / "group_vars").mkdir()
    (directory / "group_vars" / "web.yml").write_text("in_the_directory: 1\n")
    expected = json.loads(ansible("-i", str(directory), "--list"))
    expected["_meta"].pop("profile", None)
    assert inventory.load(directory).to_ansible_list() == expected
    assert expected["_meta"]["hostvars"]["web01"]["in_the_directory"] == 1


def test_an_error_in_the_second_inventory_names_it(tmp_path: Path) -> None:
    good, bad = tmp_path / "a.ini", tmp_path / "b.ini"
    good.write_text("[web]\nweb01\n")
    bad.write_text("[db]\ndb01 port\n")
    with pytest.raises(InventoryError) as caught:
        inventory.load(good, bad)
    assert f"{bad}:2" in str(caught.value)


def test_a_value_says_which_of_several_files_set_it(tmp_path: Path) -> None:
    prod, staging = _split_fleet(tmp_path)
    inv = inventory.load(prod, staging)
    assert inv.host("web01").vars["port"] == 8080  # the later source's group vars win
    assert inv.origin("web01", "port") == f"{staging}:9"
    assert inv.origin("web01", "role") == f"{prod}:3"
    assert inv.origin("shared01", "from_staging_dir").startswith(str(staging.parent / "host_vars" / "shared01.yml"))


@needs_ansible
def test_the_cli_merges_every_i_and_reads_ansible_inventory_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from installer.cli import main

    prod, staging = _split_fleet(tmp_path)
    expected = json.loads(ansible("-i", str(prod), "-i", str(staging), "--list"))
    expected["_meta"].pop("profile", None)
    assert main(["inventory", "-i", str(prod), "-i", str(staging), "--list"]) == 0
    assert json.loads(capsys.readouterr().out) == expected
    monkeypatch.setenv("ANSIBLE_INVENTORY", f"{prod},{staging}")
    assert main(["inventory", "--list"]) == 0
    assert json.loads(capsys.readouterr().out) == expected
    monkeypatch.setenv("PYINSTALL_INVENTORY", str(prod))  # pyinstall's own comes first
    assert main(["inventory", "--list"]) == 0
    assert "web-stg01" not in capsys.readouterr().out


@needs_ansible
@pytest.mark.parametrize("command", ["facts", "check", "provision", "info", "verify"])
def test_list_hosts_prints_what_ansible_prints_and_contacts_nobody(
    command: str, unreachable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from installer.cli import main

    pattern = "el7:el6:!db02*"
    assert main([command, "-i", str(PRECEDENCE), "--limit", pattern, "--list-hosts"]) == 0
    ansible_bin = Path(ANSIBLE_INVENTORY).parent / "ansible"
    expected = subprocess.run([str(ansible_bin), "-i", str(PRECEDENCE), "all", "--limit", pattern, "--list-hosts"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert capsys.readouterr().out == expected
    assert main([command, "-i", str(PRECEDENCE), "--limit", "nosuchgroup", "--list-hosts"]) == 5
    assert capsys.readouterr().out == "  hosts (0):\n"
    assert main([command, str(unreachable), "--list-hosts"]) == 0, "the host is not contacted"
    assert capsys.readouterr().out == "  hosts (1):\n    web1\n"
