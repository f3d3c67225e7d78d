"""Symbol lookup is lexical: inject, then the nearest earlier provider, then the store."""

from __future__ import annotations

import pytest

import provenflow as pf


@pf.task(provides="x")
def early() -> str:
    return "early"


@pf.task(provides="x")
def late() -> str:
    return "late"


def reader(name: str) -> pf.Task:
    def read(x: str) -> str:
        return x

    return pf.task(read, name=name, provides=f"{name}_saw")


def test_the_nearest_earlier_provider_wins_over_the_store() -> None:
    flow = pf.LinearFlow("f").add(early, reader("r1"), late, reader("r2"))
    results = pf.run(flow, store={"x": "store"})
    assert results["r1_saw"] == "early"
    assert results["r2_saw"] == "late"


def test_the_store_is_the_outermost_scope() -> None:
    assert pf.run(pf.LinearFlow("f").add(reader("r")), store={"x": "store"}) == {"r_saw": "store"}


def test_inject_comes_first() -> None:
    flow = pf.LinearFlow("f").add(early, reader("r").copy(inject={"x": "injected"}))
    assert pf.run(flow, store={"x": "store"})["r_saw"] == "injected"


def test_rebind_reads_another_symbol() -> None:
    @pf.task(provides="y")
    def other() -> str:
        return "from y"

    flow = pf.LinearFlow("f").add(other, reader("r").copy(rebind={"x": "y"}))
    assert pf.run(flow)["r_saw"] == "from y"


def test_an_inner_flow_sees_its_own_provider_before_an_outer_one() -> None:
    inner = pf.LinearFlow("inner").add(late, reader("inside"))
    flow = pf.LinearFlow("outer").add(early, inner, reader("after"))
    results = pf.run(flow)
    assert results["inside_saw"] == "late"
    assert results["after_saw"] == "late"


def test_an_optional_parameter_uses_its_default_when_nothing_provides_it() -> None:
    @pf.task(provides="out")
    def greet(name: str = "world") -> str:
        return f"hello {name}"

    assert pf.run(pf.LinearFlow("f").add(greet)) == {"out": "hello world"}
    assert pf.run(pf.LinearFlow("f").add(greet), store={"name": "you"}) == {"out": "hello you"}


def test_a_missing_input_is_refused_before_anything_runs() -> None:
    ran = []

    @pf.task
    def first() -> None:
        ran.append("first")

    with pytest.raises(pf.FlowDefinitionError, match="'x'"):
        pf.Engine(pf.LinearFlow("f").add(first, reader("r")))
    assert ran == []


def test_a_result_that_does_not_unpack_fails_its_task_and_reverts() -> None:
    reverted = []

    @pf.task(provides=("a", "b"))
    def wrong() -> list[int]:
        return [1, 2, 3]

    ok = pf.task(lambda: None, name="ok", revert=lambda **_: reverted.append("ok"))
    engine = pf.Engine(pf.LinearFlow("f").add(ok, wrong))
    with pytest.raises(pf.UsageError, match="'wrong'"):
        engine.run()
    assert engine.state == "REVERTED"
    assert reverted == ["ok"]


def test_a_value_from_an_ignored_provider_fails_the_consumer_with_a_clear_error() -> None:
    source = pf.task(lambda: 1, name="source")
    provider = pf.task(lambda: "v", name="provider", provides="x")
    graph = pf.GraphFlow("g").add(source, provider, reader("consumer"))
    graph.link(source, provider, decider=lambda history: False, depth=pf.Depth.ATOM)
    engine = pf.Engine(graph)
    with pytest.raises(pf.UsageError, match="needs 'x' from 'provider', which is IGNORE"):
        engine.run()
    assert engine.state == "REVERTED"
