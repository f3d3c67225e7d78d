"""Tests of patterns (`provenflow.flows._patterns`): building flows; what add and link refuse."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from provenflow.errors import (
    AlreadyAdded,
    BadLink,
    FlowDefinitionError,
    InvalidMember,
    RetryUsedAsTask,
    UsageError,
)
from provenflow.flows import (
    Depth,
    Flow,
    ForEach,
    GraphFlow,
    LinearFlow,
    Link,
    Task,
    Times,
    UnorderedFlow,
    task,
)


class Step(Task):
    def execute(self) -> None:
        return None


def plain_function() -> None:
    return None


def test_add_returns_the_flow_and_keeps_the_order() -> None:
    a, b, c = Step("a"), Step("b"), Step("c")
    inner = UnorderedFlow("inner")
    flow = LinearFlow("outer").add(a, b).add(inner.add(c))
    assert list(flow) == [a, b, inner]
    assert list(inner) == [c]
    assert len(flow) == 3
    assert flow.name == "outer"
    assert flow.retry is None
    assert flow.kind == "linear"
    assert (UnorderedFlow("u").kind, GraphFlow("g").kind) == ("unordered", "graph")
    assert flow.position(b) == 1
    assert flow.position(c) is None
    assert repr(flow) == "<LinearFlow 'outer': 3 members>"


def test_every_pattern_is_a_flow() -> None:
    for pattern in (LinearFlow, UnorderedFlow, GraphFlow):
        assert isinstance(pattern("x"), Flow)


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_flow_needs_a_name(name: Any) -> None:
    with pytest.raises(FlowDefinitionError) as caught:
        LinearFlow(name)
    assert str(caught.value) == f"a flow's name must be a non-empty str, got {name!r}"


def test_an_unnamed_retry_is_named_after_its_flow() -> None:
    retry = Times(3)
    flow = LinearFlow("upload", retry=retry)
    assert flow.retry is retry
    assert retry.name == "upload_retry"
    named = Times(2, name="again")
    LinearFlow("other", retry=named)
    assert named.name == "again"
    assert retry.copy().name == "Times"


def test_the_retry_must_be_a_retry_controller() -> None:
    with pytest.raises(FlowDefinitionError) as caught:
        LinearFlow("f", retry=Step("a"))  # type: ignore[arg-type]
    assert str(caught.value) == (
        "flow 'f': retry must be a Retry controller (Times, ForEach, ...), got task 'a'"
    )
    with pytest.raises(FlowDefinitionError) as caught:
        LinearFlow("f", retry=3)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "flow 'f': retry must be a Retry controller (Times, ForEach, ...), got 3 (int)"
    )


def test_a_retry_may_guard_flows_of_several_trees_and_keeps_its_first_name() -> None:
    retry = ForEach([1])
    LinearFlow("first", retry=retry)
    second = LinearFlow("second", retry=retry)
    assert second.retry is retry
    assert retry.name == "first_retry"


def test_a_retry_is_not_a_member() -> None:
    with pytest.raises(RetryUsedAsTask) as caught:
        LinearFlow("f").add(Times(2, name="again"))
    assert str(caught.value) == (
        "flow 'f': cannot add retry 'again' as a member: a Retry guards a flow: "
        "pass it as Flow(name, retry=...)"
    )
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)


@pytest.mark.parametrize(
    ("item", "given"),
    [
        (42, "42 (int)"),
        ("a", "'a' (str)"),
        (plain_function, "the function plain_function (make it a task with @task)"),
        (Step, "the class Step (add an instance: Step(...))"),
        (LinearFlow, "the class LinearFlow (add an instance: LinearFlow(...))"),
    ],
)
def test_a_member_is_an_atom_or_a_flow(item: Any, given: str) -> None:
    with pytest.raises(InvalidMember) as caught:
        LinearFlow("f").add(item)
    assert str(caught.value) == (
        f"flow 'f': a member must be an atom (a Task, a @task function) or a flow, got {given}"
    )
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, UsageError)


def test_an_atom_may_be_a_member_of_several_flows_but_once_in_each() -> None:
    step = Step("a")
    first = LinearFlow("first").add(step)
    second = LinearFlow("second").add(step)
    assert list(first) == list(second) == [step]
    with pytest.raises(AlreadyAdded) as caught:
        first.add(step)
    assert str(caught.value) == (
        "flow 'first': task 'a' is already in flow 'first'; an atom or a flow appears once in "
        "a flow (add a copy: .copy(name=...))"
    )


def test_the_same_item_twice_in_one_add_is_refused_and_nothing_is_added() -> None:
    step = Step("a")
    flow = LinearFlow("f")
    with pytest.raises(AlreadyAdded) as caught:
        flow.add(Step("b"), step, step)
    assert str(caught.value) == (
        "flow 'f': task 'a' is already in flow 'f'; an atom or a flow appears once in a flow "
        "(add a copy: .copy(name=...))"
    )
    assert list(flow) == []
    flow.add(step)
    assert list(flow) == [step]


def test_a_flow_may_be_a_member_of_several_flows_but_once_in_each() -> None:
    inner = LinearFlow("inner")
    LinearFlow("one").add(inner)
    two = LinearFlow("two").add(inner)
    with pytest.raises(AlreadyAdded) as caught:
        two.add(inner)
    assert str(caught.value) == (
        "flow 'two': flow 'inner' is already in flow 'two'; an atom or a flow appears once in "
        "a flow (build another flow)"
    )


def test_a_flow_cannot_contain_itself() -> None:
    outer = LinearFlow("outer")
    middle = LinearFlow("middle")
    inner = UnorderedFlow("inner")
    outer.add(middle.add(inner))
    with pytest.raises(FlowDefinitionError) as caught:
        inner.add(outer)
    assert str(caught.value) == "flow 'inner': cannot add flow 'outer', which contains it"
    with pytest.raises(FlowDefinitionError) as caught:
        outer.add(outer)
    assert str(caught.value) == "flow 'outer': cannot add flow 'outer', which contains it"
    assert list(inner) == []


def test_a_function_task_is_a_member() -> None:
    member = task(plain_function)
    assert list(LinearFlow("f").add(member)) == [member]


# Links.


def test_link_records_links_in_order() -> None:
    a, b, c = Step("a"), Step("b"), Step("c")
    sub = LinearFlow("sub")

    def decider(history: dict[str, object]) -> bool:
        return True

    graph = GraphFlow("g").add(a, b, c, sub)
    assert graph.link(a, b) is graph
    graph.link(b, sub, decider=decider, depth=Depth.FLOW).link(a, c, decider=decider, depth="ATOM")
    assert graph.links == (
        Link(a, b, None, Depth.ALL),
        Link(b, sub, decider, Depth.FLOW),
        Link(a, c, decider, Depth.ATOM),
    )


def test_depth_values() -> None:
    assert [depth.value for depth in Depth] == ["ATOM", "NEIGHBORS", "FLOW", "ALL"]


def _link_refusal(graph: GraphFlow, a: Any, b: Any, **options: Any) -> str:
    before = graph.links
    with pytest.raises(BadLink) as caught:
        graph.link(a, b, **options)
    assert graph.links == before
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)
    return str(caught.value)


def test_link_refusals() -> None:
    a, b, outsider = Step("a"), Step("b"), Step("outsider")
    graph = GraphFlow("g").add(a, b).link(a, b)
    assert _link_refusal(graph, a, outsider) == (
        "graph flow 'g': cannot link 'a' -> 'outsider': 'outsider' is not a member of this "
        "flow (add it first)"
    )
    assert _link_refusal(graph, a, a) == (
        "graph flow 'g': cannot link 'a' -> 'a': a member cannot follow itself"
    )
    assert _link_refusal(graph, a, b) == (
        "graph flow 'g': cannot link 'a' -> 'b': they are linked already"
    )
    assert _link_refusal(graph, b, a, depth=Depth.ATOM) == (
        "graph flow 'g': cannot link 'b' -> 'a': depth says how far a decider's veto "
        "reaches: pass a decider too"
    )
    assert _link_refusal(graph, b, a, decider=lambda h: True, depth="deep") == (
        "graph flow 'g': cannot link 'b' -> 'a': depth must be one of ATOM, NEIGHBORS, "
        "FLOW, ALL, got 'deep'"
    )
    assert _link_refusal(graph, b, a, decider=True) == (
        "graph flow 'g': cannot link 'b' -> 'a': decider must be callable "
        "(history -> bool), got True"
    )
