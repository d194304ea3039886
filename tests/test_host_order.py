"""Host order is Ansible's: ansible-core's InventoryManager, asked what ``ansible all --limit PATTERN
--list-hosts`` asks it (what ansible-playbook runs a play on ``hosts: all`` on), is the oracle for the hosts,
their order, subscripts and the --serial batches. In process: a CLI call per pattern costs half a second
(test_inventory compares the CLI itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from installer import inventory, rollout
from installer.errors import PatternError
from installer.patterns import select
from tests.test_inventory import needs_ansible

# The issue's own example: db[1] is db4 and prod[-1] db.example.com for Ansible.
GROUPS_FIRST = """\
lonely
db1
[web]
web2
web1
db1
[db]
db4
db1
db10
[prod:children]
web
db
[prod]
db.example.com
"""
# Ranges with steps; children declared before their hosts; a host in several groups at several depths.
RANGES = """\
[fleet:children]
east
west
[east:children]
rack2
rack1
[rack1]
n[01:09:4]
shared
[rack2]
n[a:k:5]
shared
[west]
w[10:2:1]
[west]
w[1:3]
n01
[canary]
n05
w2
"""
YAML = """\
all:
  hosts:
    top1:
  children:
    app:
      hosts:
        app3:
        app1:
      children:
        app_eu:
          hosts:
            app9:
            app1:
    db:
      hosts:
        db2:
        top1:
    ungrouped:
      hosts:
        stray:
"""
# Merged over GROUPS_FIRST: hosts added to its groups, a group of its own. (No second nested tree: below
# the first level Ansible walks sibling groups in a Python set of objects, an order that follows its
# process's memory layout; pyinstall walks them in their parents' order.)
MORE = """\
all:
  children:
    db:
      hosts:
        db0:
        db4:
    extra:
      hosts:
        x1:
        db1:
    web:
      hosts:
        web0:
"""
PATTERNS = ["all", "db", "prod", "db[1]", "prod[-1]", "prod[0:2]", "web:db", "db:web", "*1", "~.*[14]$",
            "prod:!web", "prod:&db", "fleet[3:]", "east[-1]", "canary:east", "app[0]", "app[-1]", "app_eu:db",
            "top1", "stray:app", "n*[1]", "ungrouped", "extra:db", "web[0]"]  # fmt: skip


def ansible_hosts(pattern: str, *sources: Path) -> list[str] | None:
    """Ansible's hosts for ``--limit PATTERN``, in its order; None where it refuses the pattern."""
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    manager = InventoryManager(loader=DataLoader(), sources=[str(s) for s in sources])
    manager.subset(pattern)
    try:
        return [h.name for h in manager.get_hosts("all")]
    except AnsibleError:
        return None


def _sources(tmp_path: Path) -> dict[str, list[Path]]:
    ini, ranges, yml = tmp_path / "groups.ini", tmp_path / "ranges.ini", tmp_path / "tree.yml"
    ini.write_text(GROUPS_FIRST)
    ranges.write_text(RANGES.replace("[west]\nw[10:2:1]\n", ""))  # a range must count up: Ansible agrees
    yml.write_text(YAML)
    directory = tmp_path / "dir"
    directory.mkdir()
    (directory / "10-groups.ini").write_text(GROUPS_FIRST)
    (directory / "20-more.yml").write_text(MORE)
    more = tmp_path / "more.yml"
    more.write_text(MORE)
    return {"ini": [ini], "ranges": [ranges], "yaml": [yml], "directory": [directory], "two -i": [more, ini]}


@needs_ansible
@pytest.mark.parametrize("kind", ["ini", "ranges", "yaml", "directory", "two -i"])
def test_every_pattern_lists_the_hosts_ansible_lists_in_its_order(tmp_path: Path, kind: str) -> None:
    sources = _sources(tmp_path)[kind]
    inv = inventory.load(*sources)
    compared = 0
    for pattern in PATTERNS:
        expected = ansible_hosts(pattern, *sources)
        if expected is None:  # Ansible refuses the subscript: so does pyinstall
            with pytest.raises(PatternError):
                select(inv, pattern)
            continue
        assert select(inv, pattern).hosts == expected, pattern
        compared += bool(expected)
    assert compared >= 5, "the patterns must match hosts in this inventory for the comparison to mean anything"


def test_the_issue_s_example_picks_ansible_s_hosts(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(GROUPS_FIRST)
    inv = inventory.load(path)
    assert select(inv, "db[1]").hosts == ["db1"]  # db's own order: db4, db1, db10
    assert select(inv, "prod[-1]").hosts == ["db10"]
    assert select(inv, "prod[0]").hosts == ["db.example.com"]  # prod's own hosts come before its children's
    # lonely stays ungrouped; db1, listed ungrouped first, is web's now: it goes where web puts it.
    assert select(inv, None).hosts == ["lonely", "db.example.com", "web2", "web1", "db1", "db4", "db10"]
    with pytest.raises(PatternError, match="no host at position 7 of 'db': it matches 3 hosts"):
        select(inv, "db[7]")


@needs_ansible
def test_serial_batches_start_where_ansible_starts(tmp_path: Path) -> None:
    sources = _sources(tmp_path)["ranges"]
    inv = inventory.load(*sources)
    for pattern in ("all", "fleet:!canary", "canary:west"):
        expected = ansible_hosts(pattern, *sources)
        batches = rollout.batches(select(inv, pattern).hosts, rollout.parse_serial("1,2"))
        assert [h for batch in batches for h in batch] == expected
        assert batches[0] == expected[:1] and batches[1] == expected[1:3], pattern
