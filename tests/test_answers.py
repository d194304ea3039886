"""preflight.Answers: one version query per yum configuration in a run, the others waiting for it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from installer.preflight import Answers


def _fan_out(answers: Answers, keys: list[tuple], ask_for) -> list[tuple]:
    """Every host at once (a barrier lines them up), as the fleet runner's threads would."""
    barrier = threading.Barrier(len(keys))

    def one(i: int) -> tuple:
        barrier.wait()
        return answers.get(keys[i], f"h{i}", lambda: ask_for(i))

    with ThreadPoolExecutor(len(keys)) as pool:
        return list(pool.map(one, range(len(keys))))


def test_hosts_of_one_configuration_share_one_query() -> None:
    asked: list[int] = []
    lock = threading.Lock()

    def ask(i: int):
        with lock:
            asked.append(i)
        return ([f"1.{i}"], "")

    keys = [("a",)] * 6 + [("b",)] * 4
    got = _fan_out(Answers(), keys, ask)
    assert len(asked) == 2, "one query for each configuration"
    by_key = {key: {(tuple(v), e, who) for (v, e, who), k in zip(got, keys) if k == key} for key in set(keys)}
    assert all(len(answers) == 1 for answers in by_key.values()), by_key  # every host of a key, one answer
    ((versions, error, who),) = by_key[("a",)]
    assert error == "" and versions == (f"1.{who[1:]}",) and int(who[1:]) in asked


def test_a_failed_answer_is_not_shared() -> None:
    asked: list[int] = []

    def ask(i: int):
        asked.append(i)
        return (None, "repository unreachable") if len(asked) == 1 else ([f"1.{i}"], "")

    got = _fan_out(Answers(), [("a",)] * 3, ask)
    assert len(asked) == 3, "each host asks its own yum once the first could not say"
    assert sum(v is None for v, _, _ in got) == 1
    assert all(who == f"h{i}" for i, (_, _, who) in enumerate(got)), "nobody answered for another"


def test_a_host_lost_while_asking_leaves_the_others_to_ask() -> None:
    answers = Answers()
    started, release = threading.Event(), threading.Event()

    def lost():
        started.set()
        release.wait(5)
        raise ConnectionError("the host went away")

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(answers.get, ("a",), "h0", lost)
        assert started.wait(5)
        second = pool.submit(answers.get, ("a",), "h1", lambda: (["2.0"], ""))
        release.set()
        with pytest.raises(ConnectionError):
            first.result(5)
        assert second.result(5) == (["2.0"], "", "h1")
