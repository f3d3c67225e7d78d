"""Tests of compilation (`provenflow.flows._compile`, `_freeze`): bindings, order, refusals."""

from __future__ import annotations

import pickle

import networkx as nx
import pytest

from provenflow.errors import (
    AlreadyAdded,
    AmbiguousProvider,
    DependencyCycle,
    DuplicateName,
    FlowDefinitionError,
    MissingInput,
    RetryUsedAsTask,
    UnorderedDependency,
    UsageError,
)
from provenflow.flows import (
    Binding,
    CompiledFlow,
    GraphFlow,
    LinearFlow,
    ParameterizedForEach,
    Task,
    Times,
    UnorderedFlow,
    compile_flow,
    task,
)
from provenflow.flows._freeze import _digraph
from tests.flows.helpers import edges, needs, provider_of


class Scale(Task):
    def execute(self, value: float, factor: float = 2.0) -> float:
        return value * factor


def refusal(error: type[FlowDefinitionError], flow: object, store: tuple[str, ...] = ()) -> str:
    with pytest.raises(error) as caught:
        compile_flow(flow, store)  # type: ignore[arg-type]
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)
    return str(caught.value)


# A linear chain.


def test_a_linear_chain() -> None:
    flow = LinearFlow("order").add(
        needs("a", provides="x"), needs("b", ["x"], provides="y"), needs("c", ["x", "y"])
    )
    compiled = compile_flow(flow)
    assert isinstance(compiled, CompiledFlow)
    assert compiled.name == "order"
    assert compiled.order == ("a", "b", "c")
    assert tuple(compiled.nodes) == compiled.order
    node = compiled.nodes["b"]
    assert (node.name, node.kind, node.flows, node.retry) == ("b", "task", ("order",), None)
    assert node.atom is list(flow)[1]
    assert node.predecessors == ("a",)
    assert node.successors == ("c",)
    assert dict(node.bindings) == {"x": Binding("atom", "x", "a")}
    assert node.deciders == ()
    assert dict(compiled.nodes["c"].bindings) == {
        "x": Binding("atom", "x", "a"),
        "y": Binding("atom", "y", "b"),
    }
    assert edges(compiled) == {("a", "b"), ("b", "c")}
    assert dict(compiled.graph.nodes(data="kind")) == {"a": "task", "b": "task", "c": "task"}
    assert dict(compiled.providers) == {"x": ("a",), "y": ("b",)}
    assert compiled.store_requires == frozenset()
    assert dict(compiled.guarded) == {}


def test_an_empty_flow_compiles_to_nothing() -> None:
    compiled = compile_flow(LinearFlow("empty"))
    assert compiled.order == ()
    assert compiled.graph.number_of_nodes() == 0


def test_binding_kinds() -> None:
    scale = Scale("scale", rebind={"value": "amount"})
    flow = LinearFlow("f").add(scale, Scale("fixed", inject={"value": 3}))
    compiled = compile_flow(flow, store_keys={"amount": 1, "other": 2})
    assert dict(compiled.nodes["scale"].bindings) == {
        "value": Binding("store", "amount", None),
        "factor": Binding("default", "factor", None),
    }
    assert dict(compiled.nodes["fixed"].bindings) == {
        "value": Binding("inject", "value", None, 3),
        "factor": Binding("default", "factor", None),
    }
    assert compiled.store_requires == frozenset({"amount"})


def test_an_optional_argument_uses_a_provider_or_the_store_when_there_is_one() -> None:
    flow = LinearFlow("f").add(needs("make", provides="factor"), Scale("scale"))
    compiled = compile_flow(flow, ["value"])
    assert dict(compiled.nodes["scale"].bindings) == {
        "value": Binding("store", "value", None),
        "factor": Binding("atom", "factor", "make"),
    }
    compiled = compile_flow(LinearFlow("g").add(Scale("scale")), ["value", "factor"])
    assert provider_of(compiled, "scale", "factor") == "store"


# Lexical lookup.


def test_the_nearest_earlier_provider_wins() -> None:
    flow = LinearFlow("f").add(
        needs("first", provides="x"), needs("second", provides="x"), needs("use", ["x"])
    )
    assert provider_of(compile_flow(flow), "use", "x") == "second"
    assert compile_flow(flow).providers["x"] == ("first", "second")


def test_a_provider_shadows_the_store() -> None:
    flow = LinearFlow("f").add(needs("make", provides="x"), needs("use", ["x"]))
    compiled = compile_flow(flow, ["x"])
    assert provider_of(compiled, "use", "x") == "make"
    assert compiled.store_requires == frozenset()


def test_a_later_provider_is_not_seen() -> None:
    flow = LinearFlow("f").add(needs("use", ["x"]), needs("make", provides="x"))
    assert provider_of(compile_flow(flow, ["x"]), "use", "x") == "store"
    assert refusal(MissingInput, flow) == (
        "task 'use' in flow 'f' requires 'x', which no earlier atom provides and the store "
        "does not hold"
    )


def test_inner_scopes_are_searched_first_then_enclosing_flows() -> None:
    inner = LinearFlow("inner").add(needs("inner_make", provides="x"), needs("inner_use", ["x"]))
    flow = LinearFlow("outer").add(
        needs("outer_make", provides=("x", "y")), inner, needs("after", ["x", "y"])
    )
    compiled = compile_flow(flow)
    assert provider_of(compiled, "inner_use", "x") == "inner_make"
    assert provider_of(compiled, "after", "x") == "inner_make"  # the inner flow exports it
    assert provider_of(compiled, "after", "y") == "outer_make"
    assert compiled.nodes["inner_use"].flows == ("outer", "inner")


def test_a_consumer_in_a_subflow_sees_earlier_outer_providers_only() -> None:
    inner = LinearFlow("inner").add(needs("use", ["x"]), needs("later", provides="x"))
    flow = LinearFlow("outer").add(needs("early", provides="x"), inner)
    assert provider_of(compile_flow(flow), "use", "x") == "early"


def test_missing_input_names_the_innermost_flow_and_the_rebound_symbol() -> None:
    flow = LinearFlow("order").add(LinearFlow("payment").add(Scale("b", rebind={"value": "x"})))
    with pytest.raises(MissingInput) as caught:
        compile_flow(flow)
    assert str(caught.value) == (
        "task 'b' in flow 'payment' requires 'x', which no earlier atom provides and the store "
        "does not hold"
    )
    assert (caught.value.atom, caught.value.symbol, caught.value.flow) == ("b", "x", "payment")


# Retries.


def test_a_retry_runs_first_and_its_value_is_visible_to_its_subflow() -> None:
    retry = Times(3, provides="attempt")
    inner = LinearFlow("inner", retry=retry).add(needs("a", ["attempt"]), needs("b"))
    flow = LinearFlow("outer").add(needs("before"), inner, needs("after"))
    compiled = compile_flow(flow)
    assert compiled.order == ("before", "inner_retry", "a", "b", "after")
    assert compiled.nodes["inner_retry"].kind == "retry"
    assert compiled.nodes["inner_retry"].atom is retry
    assert compiled.nodes["inner_retry"].flows == ("outer", "inner")
    assert compiled.nodes["inner_retry"].retry is None
    assert compiled.nodes["inner_retry"].predecessors == ("before",)
    assert compiled.nodes["a"].predecessors == ("inner_retry",)
    assert compiled.nodes["a"].retry == "inner_retry"
    assert compiled.nodes["after"].retry is None
    assert compiled.nodes["after"].predecessors == ("b",)
    assert provider_of(compiled, "a", "attempt") == "inner_retry"
    assert dict(compiled.guarded) == {"inner_retry": ("a", "b")}
    assert compiled.graph.nodes["inner_retry"]["kind"] == "retry"


def test_nested_retries_guard_their_nodes() -> None:
    inner = UnorderedFlow("inner", retry=Times(2)).add(needs("c"), needs("d"))
    middle = LinearFlow("middle", retry=Times(2)).add(needs("b"), inner, needs("e"))
    flow = LinearFlow("outer").add(needs("a"), middle)
    compiled = compile_flow(flow)
    assert compiled.order == ("a", "middle_retry", "b", "inner_retry", "c", "d", "e")
    assert compiled.guarded["middle_retry"] == ("b", "inner_retry", "c", "d", "e")
    assert compiled.guarded["inner_retry"] == ("c", "d")
    assert tuple(compiled.guarded) == ("middle_retry", "inner_retry")
    assert compiled.nodes["inner_retry"].retry == "middle_retry"
    assert compiled.nodes["inner_retry"].predecessors == ("b",)
    assert compiled.nodes["c"].retry == "inner_retry"
    assert compiled.nodes["c"].predecessors == ("inner_retry",)
    assert compiled.nodes["e"].retry == "middle_retry"
    assert compiled.nodes["e"].predecessors == ("c", "d")


def test_a_join_inside_a_retry_is_guarded() -> None:
    wide = UnorderedFlow("wide").add(needs("a"), needs("b"))
    wider = UnorderedFlow("wider").add(needs("c"), needs("d"))
    compiled = compile_flow(LinearFlow("f", retry=Times()).add(wide, wider))
    assert compiled.guarded["f_retry"] == ("a", "b", "f[join 1]", "c", "d")
    assert compiled.nodes["f[join 1]"].retry == "f_retry"


def test_a_retry_resolves_its_requirements_outside_its_flow() -> None:
    retry = ParameterizedForEach(name="sizes", rebind={"values": "candidates"}, provides="size")
    inner = LinearFlow("inner", retry=retry).add(needs("try", ["size"], provides="candidates"))
    flow = LinearFlow("outer").add(needs("list", provides="candidates"), inner)
    compiled = compile_flow(flow)
    assert dict(compiled.nodes["sizes"].bindings) == {
        "values": Binding("atom", "candidates", "list")
    }
    lonely = LinearFlow("alone", retry=retry.copy(name="r")).add(
        needs("make", provides="candidates")
    )
    assert refusal(MissingInput, lonely) == (
        "retry 'r' in flow 'alone' requires 'candidates', which no earlier atom provides and "
        "the store does not hold"
    )


def test_a_flow_with_only_a_retry() -> None:
    flow = LinearFlow("outer").add(LinearFlow("inner", retry=Times()), needs("after"))
    compiled = compile_flow(flow)
    assert compiled.order == ("inner_retry", "after")
    assert compiled.nodes["after"].predecessors == ("inner_retry",)
    assert compiled.guarded["inner_retry"] == ()


def test_a_retry_given_as_the_flow_is_refused() -> None:
    assert refusal(RetryUsedAsTask, Times(name="r")) == (
        "retry 'r' cannot run on its own: a Retry guards a flow: pass it as Flow(name, retry=...)"
    )


def test_compile_flow_takes_a_flow() -> None:
    with pytest.raises(UsageError) as caught:
        compile_flow(needs("a"))  # type: ignore[arg-type]
    assert str(caught.value) == (
        "compile_flow takes a flow (LinearFlow, UnorderedFlow or GraphFlow), got "
        "<Needs 'a'> (Needs)"
    )
    with pytest.raises(UsageError) as caught:
        compile_flow(LinearFlow("f"), "xy")
    assert str(caught.value) == "store_keys must be an iterable of symbol names, got 'xy'"


# Unordered flows.


def test_unordered_members_have_no_order_between_them() -> None:
    flow = LinearFlow("f").add(
        needs("start", provides="x"),
        UnorderedFlow("u").add(needs("b", ["x"]), needs("a", ["x"]), needs("c")),
        needs("end"),
    )
    compiled = compile_flow(flow)
    assert compiled.order == ("start", "b", "a", "c", "end")
    assert edges(compiled) == {
        ("start", "b"),
        ("start", "a"),
        ("start", "c"),
        ("b", "end"),
        ("a", "end"),
        ("c", "end"),
    }


def test_a_sibling_cannot_provide_in_an_unordered_flow() -> None:
    flow = LinearFlow("f").add(
        UnorderedFlow("u").add(
            needs("make", provides="x"), LinearFlow("l").add(needs("use", ["x"]))
        )
    )
    with pytest.raises(UnorderedDependency) as caught:
        compile_flow(flow)
    assert str(caught.value) == (
        "task 'use' in flow 'l' requires 'x', which only 'make' provides, and members of "
        "unordered flow 'u' run in no fixed order: use a LinearFlow (to run 'make' first) or "
        "a GraphFlow (order from data)"
    )


def test_an_unordered_member_sees_the_outer_provider_not_its_sibling() -> None:
    flow = LinearFlow("f").add(
        needs("early", provides="x"),
        UnorderedFlow("u").add(needs("make", provides="x"), needs("use", ["x"])),
        needs("after", ["x"]),
    )
    compiled = compile_flow(flow)
    assert provider_of(compiled, "use", "x") == "early"
    assert provider_of(compiled, "after", "x") == "make"


def test_two_providers_in_an_unordered_flow_are_ambiguous() -> None:
    flow = UnorderedFlow("u").add(needs("a", provides="x"), needs("b", provides=("y", "x")))
    with pytest.raises(AmbiguousProvider) as caught:
        compile_flow(flow)
    assert str(caught.value) == (
        "flow 'u': 'x' is provided by both 'a' and 'b', which run in no fixed order there; one "
        "symbol needs one provider (rename one with provides=...)"
    )
    assert (caught.value.symbol, caught.value.providers) == ("x", ("a", "b"))


# Joins keep the edge count linear.


def test_a_join_between_two_wide_members() -> None:
    left = UnorderedFlow("left").add(needs("a"), needs("b"))
    right = UnorderedFlow("right").add(needs("c"), needs("d"))
    compiled = compile_flow(LinearFlow("f").add(left, right))
    join = compiled.nodes["f[join 1]"]
    assert (join.kind, join.atom, join.flows, join.retry) == ("join", None, ("f",), None)
    assert dict(join.bindings) == {}
    assert join.predecessors == ("a", "b")
    assert join.successors == ("c", "d")
    assert compiled.graph.nodes["f[join 1]"]["kind"] == "join"
    assert compiled.graph.number_of_edges() == 4


def test_a_join_never_takes_an_atom_name() -> None:
    left = UnorderedFlow("left").add(needs("a"), needs("b"))
    right = UnorderedFlow("right").add(needs("c"), needs("d"))
    compiled = compile_flow(LinearFlow("f").add(left, right, needs("f[join 1]")))
    assert compiled.nodes["f[join 1]"].kind == "task"
    assert compiled.nodes["f[join 1]'"].kind == "join"


def test_the_edge_count_stays_linear() -> None:
    flow = LinearFlow("f")
    for group in range(20):
        flow.add(UnorderedFlow(f"u{group}").add(*(needs(f"t{group}.{i}") for i in range(30))))
    compiled = compile_flow(flow)
    assert compiled.graph.number_of_nodes() == 20 * 30 + 19
    assert compiled.graph.number_of_edges() == 19 * 60


def test_empty_members_are_skipped() -> None:
    flow = LinearFlow("f").add(needs("a"), LinearFlow("empty"), UnorderedFlow("e2"), needs("b"))
    compiled = compile_flow(flow)
    assert edges(compiled) == {("a", "b")}


# Graph flows.


def test_graph_order_comes_from_data() -> None:
    flow = GraphFlow("g").add(
        needs("c", ["x", "y"]), needs("b", ["x"], provides="y"), needs("a", provides="x")
    )
    compiled = compile_flow(flow)
    assert compiled.order == ("a", "b", "c")
    assert edges(compiled) == {("a", "c"), ("b", "c"), ("a", "b")}
    assert compiled.nodes["c"].predecessors == ("a", "b")


def test_graph_data_edges_reach_into_subflows() -> None:
    sub = LinearFlow("sub").add(needs("first"), needs("consumer", ["x"]))
    flow = GraphFlow("g").add(sub, needs("maker", provides="x"))
    compiled = compile_flow(flow)
    assert compiled.nodes["consumer"].predecessors == ("first", "maker")
    assert compiled.nodes["first"].predecessors == ()
    assert provider_of(compiled, "consumer", "x") == "maker"


def test_a_graph_member_does_not_provide_to_itself() -> None:
    sub = LinearFlow("sub").add(needs("use", ["x"]), needs("make", provides="x"))
    flow = LinearFlow("outer").add(needs("early", provides="x"), GraphFlow("g").add(sub))
    assert provider_of(compile_flow(flow), "use", "x") == "early"


def test_two_providers_in_a_graph_flow_are_ambiguous() -> None:
    flow = GraphFlow("g").add(
        needs("a", provides="x"), LinearFlow("sub").add(needs("b", provides="x"))
    )
    assert refusal(AmbiguousProvider, flow) == (
        "flow 'g': 'x' is provided by both 'a' and 'b', which run in no fixed order there; one "
        "symbol needs one provider (rename one with provides=...)"
    )


def test_a_data_cycle_is_refused_naming_its_atoms() -> None:
    flow = LinearFlow("outer").add(
        GraphFlow("g").add(needs("a", ["y"], provides="x"), needs("b", ["x"], provides="y"))
    )
    with pytest.raises(DependencyCycle) as caught:
        compile_flow(flow)
    assert str(caught.value) == (
        "flow 'g': dependency cycle 'a' -> 'b' -> 'a'; break it by removing a link or "
        "renaming a symbol"
    )
    assert caught.value.atoms == ("a", "b")


def test_a_link_cycle_through_subflows_is_refused() -> None:
    a = LinearFlow("left").add(needs("a1"), needs("a2"))
    b = needs("b")
    flow = GraphFlow("g").add(a, b).link(a, b).link(b, a)
    message = refusal(DependencyCycle, flow)
    assert message.startswith("flow 'g': dependency cycle ")
    assert "'b'" in message
    assert "'a1'" in message or "'a2'" in message


def test_links_order_members_and_subflow_endpoints_use_their_exits_and_entries() -> None:
    left = UnorderedFlow("left").add(needs("a"), needs("b"))
    right = UnorderedFlow("right").add(needs("c"), needs("d"))
    single = needs("e")
    flow = GraphFlow("g").add(single, right, left).link(left, right).link(right, single)
    compiled = compile_flow(flow)
    assert compiled.order == ("a", "b", "g[join link 0]", "c", "d", "e")
    assert compiled.nodes["g[join link 0]"].predecessors == ("a", "b")
    assert compiled.nodes["g[join link 0]"].successors == ("c", "d")
    assert compiled.nodes["e"].predecessors == ("c", "d")
    outer = LinearFlow("outer").add(needs("before"), GraphFlow("g2").add(needs("x1")))
    assert compile_flow(outer).nodes["x1"].predecessors == ("before",)


def test_a_graph_in_a_linear_flow_joins_only_its_sources_and_sinks() -> None:
    a, b, c = needs("a"), needs("b"), needs("c")
    graph = GraphFlow("g").add(a, b, c).link(a, b).link(a, c)
    flow = LinearFlow("f").add(needs("before"), graph, needs("after"))
    compiled = compile_flow(flow)
    assert compiled.nodes["a"].predecessors == ("before",)
    assert compiled.nodes["b"].predecessors == ("a",)
    assert compiled.nodes["after"].predecessors == ("b", "c")


def test_a_link_through_an_empty_subflow_keeps_the_order() -> None:
    a, b, empty = needs("a"), needs("b"), LinearFlow("empty")
    flow = GraphFlow("g").add(a, empty, b).link(a, empty).link(empty, b)
    compiled = compile_flow(flow)
    assert compiled.order == ("a", "empty[join]", "b")
    assert compiled.nodes["empty[join]"].kind == "join"
    assert compiled.nodes["empty[join]"].flows == ("g", "empty")


def test_deciders() -> None:
    def decide(history: dict[str, object]) -> bool:
        return bool(history)

    source = LinearFlow("source").add(needs("s1", provides="x"), needs("s2"))
    target = LinearFlow("target", retry=Times(2, name="again")).add(needs("t1"), needs("t2"))
    single = needs("single")
    flow = (
        GraphFlow("g")
        .add(source, target, single)
        .link(source, target, decider=decide, depth="FLOW")
        .link(target, single, decider=decide)
    )
    compiled = compile_flow(flow)
    (decider,) = compiled.nodes["t1"].deciders
    assert decider.sources == ("s1",)
    assert decider.decide is decide
    assert decider.depth == "FLOW"
    assert decider.flow == "g"
    assert decider.targets == ("again", "t1", "t2")
    assert compiled.nodes["again"].deciders == (decider,)
    assert compiled.nodes["t2"].deciders == (decider,)
    (second,) = compiled.nodes["single"].deciders
    assert (second.sources, second.targets, second.depth) == ((), ("single",), "ALL")
    atom_source = GraphFlow("h").add(needs("p"), needs("q"))
    p, q = list(atom_source)
    atom_source.link(p, q, decider=decide, depth="ATOM")
    assert compile_flow(atom_source).nodes["q"].deciders[0].sources == ("p",)


# Names.


def test_duplicate_atom_names_are_refused() -> None:
    flow = LinearFlow("f").add(needs("a"), LinearFlow("g").add(needs("a")))
    with pytest.raises(DuplicateName) as caught:
        compile_flow(flow)
    assert str(caught.value) == (
        "two atoms are named 'a' (in flow 'f' and in flow 'g'); names must be unique: rename "
        "one (name=... or .copy(name=...))"
    )
    assert caught.value.name == "a"


def test_a_retry_name_clashing_with_a_task_is_refused() -> None:
    flow = LinearFlow("f", retry=Times(name="a")).add(needs("a"))
    assert refusal(DuplicateName, flow) == (
        "two atoms are named 'a' (in flow 'f' and in flow 'f'); names must be unique: rename "
        "one (name=... or .copy(name=...))"
    )


def test_duplicate_flow_names_are_refused() -> None:
    flow = LinearFlow("f").add(UnorderedFlow("f"))
    assert refusal(DuplicateName, flow) == (
        "two flows are named 'f' (at the top and in flow 'f'); names must be unique: rename "
        "one (LinearFlow(name, ...))"
    )


def test_an_object_used_twice_in_one_tree_is_refused() -> None:
    step = needs("a")
    flow = LinearFlow("f").add(step, LinearFlow("g").add(step))
    assert refusal(AlreadyAdded, flow) == (
        "flow 'g': task 'a' is already in flow 'f'; an atom or a flow appears once in a flow "
        "(add a copy: .copy(name=...))"
    )
    inner = LinearFlow("inner")
    twice = LinearFlow("f").add(inner, UnorderedFlow("u").add(inner))
    assert refusal(AlreadyAdded, twice) == (
        "flow 'u': flow 'inner' is already in flow 'f'; an atom or a flow appears once in a "
        "flow (build another flow)"
    )
    retry = Times()
    shared = LinearFlow("f").add(LinearFlow("g", retry=retry), LinearFlow("h", retry=retry))
    assert refusal(AlreadyAdded, shared) == (
        "flow 'h': retry 'g_retry' is already in flow 'g'; an atom or a flow appears once in "
        "a flow (add a copy: .copy(name=...))"
    )


def test_a_factory_may_reuse_module_level_tasks() -> None:
    make = needs("make", provides="x")
    use = needs("use", ["x"])

    def factory() -> LinearFlow:
        return LinearFlow("f").add(make, use)

    assert compile_flow(factory()).order == compile_flow(factory()).order == ("make", "use")


def test_an_atom_may_share_a_flow_name() -> None:
    compiled = compile_flow(LinearFlow("charge").add(needs("charge")))
    assert compiled.order == ("charge",)


# Determinism and the graph.


def test_compiling_is_deterministic_and_leaves_the_flow_alone() -> None:
    def build() -> LinearFlow:
        return LinearFlow("f").add(
            UnorderedFlow("u").add(*(needs(f"t{i}", provides=f"x{i}") for i in range(5))),
            GraphFlow("g").add(
                needs("late", ["x1", "early_value"]), needs("early", provides="early_value")
            ),
        )

    flow = build()
    first = compile_flow(flow)
    second = compile_flow(flow)
    assert first.order == second.order == compile_flow(build()).order
    assert first.order[:5] == ("t0", "t1", "t2", "t3", "t4")
    assert first.order.index("early") < first.order.index("late")
    assert len(list(flow)) == 2


def test_order_is_topological_and_the_graph_matches_the_nodes() -> None:
    inner = UnorderedFlow("inner", retry=Times()).add(needs("c"), needs("d", provides="z"))
    flow = LinearFlow("f").add(needs("a", provides="x"), inner, needs("e", ["x", "z"]))
    compiled = compile_flow(flow)
    position = {name: rank for rank, name in enumerate(compiled.order)}
    for name, node in compiled.nodes.items():
        assert set(compiled.graph.predecessors(name)) == set(node.predecessors)
        assert set(compiled.graph.successors(name)) == set(node.successors)
        assert all(position[before] < position[name] for before in node.predecessors)
    assert nx.is_directed_acyclic_graph(compiled.graph)


def test_the_fast_graph_equals_the_one_built_through_the_public_api() -> None:
    nodes = [("a", "task"), ("b", "join"), ("c", "retry")]
    pairs = [("a", "b"), ("b", "c"), ("a", "c")]
    expected: nx.DiGraph[str] = nx.DiGraph()
    for name, kind in nodes:
        expected.add_node(name, kind=kind)
    expected.add_edges_from(pairs)
    built = _digraph(nodes, pairs)
    assert nx.utils.graphs_equal(built, expected)
    assert list(built.nodes) == ["a", "b", "c"]
    assert list(built.predecessors("c")) == ["b", "a"]
    assert nx.is_directed_acyclic_graph(built)


def test_a_large_linear_flow_compiles() -> None:
    @task(provides="x")
    def step(x: int = 0) -> int:
        return x + 1

    flow = LinearFlow("big").add(*(step.copy(name=f"s{i}") for i in range(5000)))
    compiled = compile_flow(flow)
    assert len(compiled.order) == 5000
    assert compiled.graph.number_of_edges() == 4999
    assert provider_of(compiled, "s4999", "x") == "s4998"
    assert provider_of(compiled, "s0", "x") == "default"


def test_a_compiled_flow_pickles() -> None:
    inner = UnorderedFlow("inner", retry=Times(2)).add(needs("c"), needs("d", provides="z"))
    flow = LinearFlow("f").add(needs("a", provides="x"), inner, needs("e", ["x", "z"]))
    compiled = compile_flow(flow)
    copy = pickle.loads(pickle.dumps(compiled))
    assert copy.order == compiled.order
    assert copy.nodes.keys() == compiled.nodes.keys()
    assert copy.nodes["e"].bindings == compiled.nodes["e"].bindings
    assert dict(copy.guarded) == dict(compiled.guarded)
    assert nx.utils.graphs_equal(copy.graph, compiled.graph)
    with pytest.raises(TypeError):
        copy.nodes["e"].bindings["x"] = Binding("store", "x", None)  # type: ignore[index]
