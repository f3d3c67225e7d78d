"""Deciders on graph links: a nay ignores the target and, by depth, what follows it."""

from __future__ import annotations

import pytest

import provenflow as pf
from tests.helpers import Journal, make_task


def build(depth: pf.Depth, journal: Journal, verdict: bool) -> pf.Flow:
    """LinearFlow[GraphFlow[source -> target -> near -> far], final], decider on source->target."""
    source, target, near, far, final = (
        make_task(journal, name) for name in ("source", "target", "near", "far", "final")
    )
    graph = pf.GraphFlow("graph").add(source, target, near, far)
    graph.link(source, target, decider=lambda history: verdict, depth=depth)
    graph.link(target, near).link(near, far)
    return pf.LinearFlow("outer").add(graph, final)


def test_a_yes_runs_everything() -> None:
    journal = Journal()
    pf.run(build(pf.Depth.ALL, journal, verdict=True))
    assert journal.actions("execute") == ["source", "target", "near", "far", "final"]


@pytest.mark.parametrize(
    ("depth", "ran"),
    [
        (pf.Depth.ATOM, ["source", "near", "far", "final"]),
        (pf.Depth.NEIGHBORS, ["source", "far", "final"]),
        (pf.Depth.FLOW, ["source", "final"]),
        (pf.Depth.ALL, ["source"]),
    ],
)
def test_a_nay_ignores_by_depth(depth: pf.Depth, ran: list[str]) -> None:
    journal = Journal()
    engine = pf.Engine(build(depth, journal, verdict=False))
    engine.run()
    assert engine.state == "SUCCESS"
    assert journal.actions("execute") == ran
    names = ["source", "target", "near", "far", "final"]
    ignored = [name for name in names if engine.atom_state(name) == "IGNORE"]
    assert ignored == [name for name in names if name not in ran]


def test_a_nay_on_a_subflow_ignores_all_of_it() -> None:
    journal = Journal()
    source, first, second = (make_task(journal, n) for n in ("source", "first", "second"))
    inner = pf.LinearFlow("inner").add(first, second)
    flow = pf.GraphFlow("g").add(source, inner)
    flow.link(source, inner, decider=lambda history: False, depth=pf.Depth.ATOM)
    engine = pf.Engine(flow)
    engine.run()
    assert journal.actions("execute") == ["source"]
    assert [engine.atom_state(n) for n in ("first", "second")] == ["IGNORE", "IGNORE"]


def test_a_retry_decides_again_after_a_reset() -> None:
    journal = Journal()
    verdicts = iter([False, True])
    fails = iter([True, False])
    source = make_task(journal, "source")
    target = make_task(journal, "target")
    check = make_task(journal, "check", fail=lambda: next(fails))
    graph = pf.GraphFlow("g", retry=pf.Times(2, name="again")).add(source, target, check)
    graph.link(source, target, decider=lambda history: next(verdicts), depth=pf.Depth.ATOM)
    graph.link(target, check)
    engine = pf.Engine(graph)
    engine.run()
    assert journal.actions("execute") == ["source", "check", "source", "target", "check"]
    assert [t.event for t in engine.history() if t.atom == "target"] == [
        "ignore",
        "reset",
        "start",
        "succeed",
    ]


def test_the_decider_sees_the_source_results() -> None:
    journal = Journal()
    seen = []
    source = make_task(journal, "source", provides="level", value=7)
    target = make_task(journal, "target")

    def decide(history: dict[str, object]) -> bool:
        seen.append(dict(history))
        return True

    flow = pf.GraphFlow("g").add(source, target).link(source, target, decider=decide)
    pf.run(flow)
    assert seen == [{"source": 7}]


def test_a_decider_that_raises_fails_the_run_and_reverts() -> None:
    journal = Journal()
    source = make_task(journal, "source")
    target = make_task(journal, "target")

    def decide(history: dict[str, object]) -> bool:
        raise LookupError("no verdict")

    flow = pf.GraphFlow("g").add(source, target).link(source, target, decider=decide)
    engine = pf.Engine(flow)
    with pytest.raises(LookupError, match="no verdict"):
        engine.run()
    assert engine.state == "REVERTED"
    assert journal.actions("revert") == ["source"]
    assert engine.atom_state("target") == "PENDING"


def test_reverts_keep_dependents_first_through_an_ignored_atom() -> None:
    """Regression (found by fuzzing): t3 and t4 depend on t1 through t2, which a decider
    ignored; they must still be reverted before t1."""
    journal = Journal()
    t1, t2, t3 = (make_task(journal, name) for name in ("t1", "t2", "t3"))
    t4 = make_task(journal, "t4", fail=True)
    graph = pf.GraphFlow("g").add(t1, t2, t3, t4)
    graph.link(t1, t2, decider=lambda history: False, depth=pf.Depth.ATOM)
    graph.link(t2, t3).link(t3, t4)
    engine = pf.Engine(graph)
    with pytest.raises(ValueError, match="t4 failed"):
        engine.run()
    assert journal.actions("revert") == ["t4", "t3", "t1"]
    assert engine.atom_state("t2") == "IGNORE"
