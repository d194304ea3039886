"""One table of booleans for every input, and it is Ansible's own (ansible-core is the oracle)."""

from __future__ import annotations

import pytest
from ansible.module_utils.parsing.convert_bool import boolean as ansible_boolean

from installer import asked, connection, settings, truth
from installer.errors import UsageError

VALUES = ["yes", "No", " TRUE ", "t", "F", "on", "OFF", "y", "n", "1", "0", 1, 0, 1.0, 0.0, True, False,
          "2", "maybe", "enabled", 2, 0.5, None, [], {}]  # fmt: skip


def _ansible(value: object) -> bool | None:
    try:
        return ansible_boolean(value, strict=True)
    except TypeError:
        return None


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_every_input_reads_a_boolean_as_ansible_does(value: object) -> None:
    expected = _ansible(value)
    assert truth.boolean(value) is expected
    if value is None:
        return  # unset: each input's default
    # An inventory variable, a config file's or environment's setting, a connection variable.
    if expected is None:
        with pytest.raises(asked.AskedError, match="is not a boolean"):
            asked.parse("h1", {"yum_gpgcheck": value})
    else:
        assert asked.parse("h1", {"yum_gpgcheck": value}).yum_gpgcheck is expected
    if isinstance(value, str):
        environ = {"PYINSTALL_BECOME": value}
        if expected is None:
            with pytest.raises(UsageError, match=r"PYINSTALL_BECOME: become: .* is not true or false"):
                settings.resolve({}, environ)
        else:
            assert settings.resolve({}, environ)["become"].value is expected
    if expected is None:
        with pytest.raises(ValueError):
            connection.as_bool(value, "ansible_become")
    else:
        assert connection.as_bool(value, "ansible_become") is expected
