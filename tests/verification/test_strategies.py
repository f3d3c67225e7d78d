"""The fuzzing strategies: plans are valid, printable, JSON-safe and deterministic; tasks do
what their behaviour says."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import provenflow as pf
from provenflow.failure import Failure
from provenflow.flows import compile_flow
from provenflow.verification._strategies import behaviours, flows
from provenflow.verification._strategies_plans import (
    Behaviour,
    FlowPlan,
    LinkPlan,
    RetryPlan,
    TaskPlan,
)
from provenflow.verification._strategies_tasks import (
    FuzzTask,
    Journal,
    PlannedFailure,
    ProcessCrash,
)

PLANS = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def flow_names(plan: FlowPlan) -> list[str]:
    return [plan.name] + [n for m in plan.members if isinstance(m, FlowPlan) for n in flow_names(m)]


def depth_of(plan: FlowPlan) -> int:
    nested = [depth_of(m) for m in plan.members if isinstance(m, FlowPlan)]
    return 1 + max(nested, default=0)


@PLANS
@given(flows(max_tasks=6, max_depth=3))
def test_a_drawn_plan_builds_a_flow_the_engine_accepts(plan: FlowPlan) -> None:
    compiled = compile_flow(plan.build(Journal()))
    tasks = [task.name for task in plan.tasks()]
    assert len(tasks) == len(set(tasks)) <= 6
    assert depth_of(plan) <= 3
    assert sorted(n for n, node in compiled.nodes.items() if node.kind == "task") == sorted(tasks)
    names = flow_names(plan)
    assert len(names) == len(set(names))


@PLANS
@given(flows())
def test_a_plan_prints_as_an_expression_that_rebuilds_it(plan: FlowPlan) -> None:
    namespace = {cls.__name__: cls for cls in (Behaviour, FlowPlan, LinkPlan, RetryPlan, TaskPlan)}
    assert eval(repr(plan), namespace) == plan
    outline = plan.describe()
    for task in plan.tasks():
        assert repr(task.name) in outline


@PLANS
@given(flows())
def test_values_are_json_safe_and_building_twice_gives_the_same_flow(plan: FlowPlan) -> None:
    for task in plan.tasks():
        value = task.behaviour.value
        assert json.loads(json.dumps(value)) == value
    first = compile_flow(plan.build(Journal()))
    second = compile_flow(plan.build(Journal()))
    assert first.order == second.order
    assert sorted(first.graph.edges) == sorted(second.graph.edges)


def test_the_same_draw_gives_the_same_plan() -> None:
    drawn: list[FlowPlan] = []

    @settings(max_examples=20, derandomize=True, database=None)
    @given(flows())
    def collect(plan: FlowPlan) -> None:
        drawn.append(plan)

    collect()
    first = list(drawn)
    drawn.clear()
    collect()
    assert drawn == first


@PLANS
@given(behaviours(faults=False))
def test_behaviours_without_faults_never_fail(behaviour: Behaviour) -> None:
    assert behaviour.raise_on == behaviour.crash_on == ()
    assert not behaviour.revert_raises


def test_every_pattern_retry_decider_and_data_link_is_drawn() -> None:
    seen: set[str] = set()

    @settings(max_examples=300, derandomize=True, database=None, deadline=None)
    @given(flows())
    def collect(plan: FlowPlan) -> None:
        pending = [plan]
        while pending:
            flow = pending.pop()
            seen.add(flow.pattern)
            if flow.retry is not None:
                seen.add(flow.retry.kind)
            seen.update(f"verdict={link.verdict}" for link in flow.links)
            pending.extend(m for m in flow.members if isinstance(m, FlowPlan))
        seen.update("requires" for task in plan.tasks() if task.requires)

    collect()
    assert seen >= {
        "linear",
        "unordered",
        "graph",
        "times",
        "for_each",
        "always_revert",
        "always_revert_all",
        "verdict=None",
        "verdict=True",
        "verdict=False",
        "requires",
    }


def test_flows_refuses_bounds_below_one() -> None:
    with pytest.raises(pf.UsageError, match="max_tasks=0"):
        flows(max_tasks=0)


def test_strategies_without_hypothesis_say_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(pf.UsageError, match=r"pip install 'provenflow\[dev\]'"):
        flows()


# -- tasks built from behaviours ---------------------------------------------------------------


def task_of(behaviour: Behaviour, journal: Journal, **plan: Any) -> FuzzTask:
    return FuzzTask(TaskPlan("t", behaviour, **plan), journal, {"v_s": 5})


def test_a_task_raises_on_its_planned_attempts_after_its_effect() -> None:
    journal = Journal()
    task = task_of(Behaviour(value=[1], raise_on=(1, 3)), journal)
    with pytest.raises(PlannedFailure, match="t fails on attempt 1"):
        task.execute()
    assert journal.effects == {"t": True}
    assert task.execute() == [1]
    with pytest.raises(PlannedFailure, match="attempt 3"):
        task.execute()
    assert journal.entries == [("execute", "t", 1), ("execute", "t", 2), ("execute", "t", 3)]


@pytest.mark.parametrize("before", [False, True])
def test_a_crash_is_a_base_exception_before_or_after_the_effect(before: bool) -> None:
    journal = Journal()
    task = task_of(Behaviour(crash_on=(1,), crash_before_effect=before), journal)
    with pytest.raises(ProcessCrash) as caught:
        task.execute()
    assert not isinstance(caught.value, Exception)
    assert journal.effects.get("t", False) is not before
    assert task.execute() is None


def test_a_revert_undoes_the_effect_or_raises_and_keeps_it() -> None:
    journal = Journal()
    task = task_of(Behaviour(value=2), journal)
    task.execute()
    task.revert(result=2, flow_failures={})
    assert journal.effects == {"t": False}
    stubborn = task_of(Behaviour(revert_raises=True), journal)
    stubborn.execute()
    with pytest.raises(PlannedFailure, match="revert fails"):
        stubborn.revert(result=None, flow_failures={})
    assert journal.effects == {"t": True}
    assert journal.problems == []


def test_a_task_notes_wrong_inputs_and_wrong_results_given_to_revert() -> None:
    journal = Journal()
    task = task_of(Behaviour(value=1), journal, requires=("v_s",))
    task.execute(v_s=6)
    task.revert(result=9, flow_failures={})
    task.revert(result=Failure.from_exception(ValueError("x")), flow_failures={})
    assert journal.problems == [
        "task 't' attempt 1 got {'v_s': 6}, expected {'v_s': 5}",
        "task 't': revert got result 9, but execute returns 1 (or fails)",
    ]


def test_the_journal_names_effects_that_do_not_match_the_record() -> None:
    plan = FlowPlan(
        "f1",
        "graph",
        (TaskPlan("t1"), TaskPlan("t2"), TaskPlan("t3")),
        links=(LinkPlan("t1", "t3", verdict=False, depth="ATOM"),),
    )
    journal = Journal(entries=[("execute", "t3", 1)], effects={"t1": True, "t3": True})
    states = {"t1": "REVERTED", "t2": "SUCCESS", "t3": "IGNORE"}
    assert journal.violations(states, plan) == [
        "task 't1' ended REVERTED with its side effect in place",
        "task 't2' ended SUCCESS without its side effect",
        "task 't3' ended IGNORE with its side effect in place",
        "task 't3' was executed although a decider said no",
    ]


def test_a_small_plan_runs_on_the_engine_as_written() -> None:
    plan = FlowPlan(
        "f1",
        "linear",
        (
            TaskPlan("t1", Behaviour(value={"k": 1}), provides="v_t1"),
            FlowPlan(
                "f2",
                "unordered",
                (TaskPlan("t2", Behaviour(raise_on=(1,)), requires=("v_t1",)), TaskPlan("t3")),
                retry=RetryPlan("r1", "times", attempts=2),
            ),
        ),
    )
    journal = Journal()
    engine = pf.Engine(plan.build(journal))
    engine.run()
    assert engine.state == "SUCCESS"
    assert journal.count("execute", "t2") == 2
    assert journal.problems == []
    assert engine.results() == {"v_t1": {"k": 1}}


@settings(max_examples=50, derandomize=True, database=None, deadline=None)
@given(st.data())
def test_a_drawn_plan_without_faults_or_deciders_succeeds(data: Any) -> None:
    plan = data.draw(flows(behaviours=behaviours(faults=False), deciders=False))
    journal = Journal()
    engine = pf.Engine(plan.build(journal))
    engine.run()
    assert engine.state == "SUCCESS"
    assert all(journal.effects[task.name] for task in plan.tasks())
    assert journal.problems == []
