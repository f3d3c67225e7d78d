"""Tests of retry controllers (`provenflow.flows._retry`)."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

from provenflow.errors import AtomDefinitionError, BadDecision, NoValuesLeft, UsageError
from provenflow.failure import Failure
from provenflow.flows import (
    AlwaysRevert,
    AlwaysRevertAll,
    Decision,
    ForEach,
    History,
    ParameterizedForEach,
    Retry,
    Times,
)


def failed(history: History, atom: str = "work") -> History:
    try:
        raise TimeoutError("slow")
    except TimeoutError as exc:
        return history.with_failures({atom: Failure.from_exception(exc)})


def run_attempts(retry: Retry, args: dict[str, object], limit: int = 10) -> list[object]:
    """Drive a retry as the engine does: execute, fail, decide; return the values tried."""
    history = History()
    tried: list[object] = []
    for _ in range(limit):
        value = retry.call_execute(args, history)
        tried.append(value)
        history = failed(history.with_attempt(value))
        if retry.decide(history, args) is not Decision.RETRY:
            break
    return tried


def test_decision_values() -> None:
    assert [member.value for member in Decision] == ["RETRY", "REVERT", "REVERT_ALL"]
    assert Decision.RETRY == "RETRY"


def test_times_provides_the_attempt_number_and_retries_up_to_attempts() -> None:
    retry = Times(3, provides="attempt")
    assert retry.kind == "retry"
    assert retry.name == "Times"
    assert retry.requires == frozenset()
    assert retry.arguments() == ()
    assert run_attempts(retry, {}) == [1, 2, 3]
    history = failed(History().with_attempt(1).with_attempt(2).with_attempt(3))
    assert retry.decide(history, {}) is Decision.REVERT
    assert Times(3, revert_all=True).decide(history, {}) is Decision.REVERT_ALL


def test_times_one_attempt_gives_up_at_once() -> None:
    assert run_attempts(Times(), {}) == [1]
    assert Times().decide(failed(History().with_attempt(1)), {}) is Decision.REVERT


@pytest.mark.parametrize("attempts", [0, -1, 1.5, True, "3"])
def test_times_refuses_bad_attempts(attempts: Any) -> None:
    with pytest.raises(AtomDefinitionError) as caught:
        Times(attempts, name="again")
    assert str(caught.value) == (
        f"retry 'again': attempts must be an int of at least 1, got {attempts!r}"
    )


def test_for_each_tries_each_value_with_multiset_semantics() -> None:
    retry = ForEach(["a", "b", "a"], provides="mirror")
    assert run_attempts(retry, {}) == ["a", "b", "a"]
    history = History().with_attempt("a").with_attempt("b").with_attempt("a")
    assert retry.decide(failed(history), {}) is Decision.REVERT
    assert ForEach(["a"], revert_all=True).decide(failed(history), {}) is Decision.REVERT_ALL


def test_for_each_without_values_left_raises_a_clear_error() -> None:
    retry = ForEach([1, 2], name="mirrors")
    with pytest.raises(NoValuesLeft) as caught:
        retry.call_execute({}, History().with_attempt(2).with_attempt(1))
    assert str(caught.value) == "retry 'mirrors': no values left to try (values: [1, 2])"
    assert isinstance(caught.value, UsageError)
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)


def test_for_each_refuses_an_empty_collection() -> None:
    with pytest.raises(AtomDefinitionError) as caught:
        ForEach([], name="none")
    assert str(caught.value) == "retry 'none': ForEach needs at least one value to try"


def test_parameterized_for_each_takes_values_from_a_symbol() -> None:
    retry = ParameterizedForEach(provides="size")
    assert retry.requires == frozenset({"values"})
    assert run_attempts(retry, {"values": [3, 2, 1]}) == [3, 2, 1]
    rebound = ParameterizedForEach(rebind={"values": "sizes"}, revert_all=True)
    assert rebound.requires == frozenset({"sizes"})
    history = failed(History().with_attempt(1))
    assert rebound.decide(history, {"values": [1]}) is Decision.REVERT_ALL
    with pytest.raises(NoValuesLeft):
        rebound.call_execute({"values": [1]}, History().with_attempt(1))


def test_always_revert_and_always_revert_all() -> None:
    history = failed(History().with_attempt(None))
    assert AlwaysRevert().call_execute({}, History()) is None
    assert AlwaysRevert().decide(history, {}) is Decision.REVERT
    assert AlwaysRevertAll().decide(history, {}) is Decision.REVERT_ALL
    assert run_attempts(AlwaysRevert(), {}) == [None]


def test_the_history_may_come_in_the_arguments() -> None:
    history = History().with_attempt(1)
    assert Times(3).call_execute({"history": history}) == 2


def test_a_retry_never_runs_without_its_history() -> None:
    with pytest.raises(UsageError) as caught:
        Times(3, name="again").call_execute({})
    assert str(caught.value) == (
        "retry 'again': call_execute needs the retry's History (pass history=..., got None)"
    )


class Recorder(Retry):
    """A custom controller that records what it is given."""

    def __init__(self, decision: object, **options: Any) -> None:
        self.decision = decision
        self.calls: list[tuple[str, int, dict[str, object]]] = []
        super().__init__(**options)

    def execute(self, history: History, budget: int, note: str = "") -> int:
        self.calls.append(("execute", len(history), {"budget": budget, "note": note}))
        return budget - len(history)

    def on_failure(self, history: History, budget: int) -> Any:
        self.calls.append(("on_failure", len(history), {"budget": budget}))
        return self.decision

    def revert(self, history: History, flow_failures: object, **rest: object) -> None:
        self.calls.append(("revert", len(history), {"flow_failures": flow_failures, **rest}))


def test_a_custom_controller_gets_history_and_its_arguments() -> None:
    retry = Recorder(Decision.RETRY, name="budget", provides="left")
    assert retry.requires == frozenset({"budget"})
    assert retry.optional == frozenset({"note"})
    assert retry.arguments() == ("budget", "note")
    history = History().with_attempt(5)
    assert retry.call_execute({"budget": 5}, history) == 4
    assert retry.decide(history, {"budget": 5, "note": "x"}) is Decision.RETRY
    assert retry.call_revert({"budget": 5}, None, {"a": "boom"}, history) is None
    assert retry.calls == [
        ("execute", 1, {"budget": 5, "note": ""}),
        ("on_failure", 1, {"budget": 5}),
        ("revert", 1, {"flow_failures": {"a": "boom"}, "budget": 5}),
    ]


@pytest.mark.parametrize("returned", ["RETRY", None, True])
def test_decide_refuses_anything_but_a_decision(returned: object) -> None:
    retry = Recorder(returned, name="sloppy")
    with pytest.raises(BadDecision) as caught:
        retry.decide(History().with_attempt(1), {"budget": 1})
    assert str(caught.value) == (
        f"retry 'sloppy': on_failure returned {returned!r}, which is not a Decision "
        "(allowed: Decision.RETRY, Decision.REVERT, Decision.REVERT_ALL)"
    )
    assert isinstance(caught.value, UsageError)
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)


def test_decide_checks_the_required_arguments() -> None:
    with pytest.raises(UsageError, match="execute needs argument 'budget'"):
        Recorder(Decision.RETRY).decide(History().with_attempt(1), {})


def test_a_retry_without_on_failure_is_refused() -> None:
    class Half(Retry):
        def execute(self, history: History) -> None:
            return None

    with pytest.raises(AtomDefinitionError) as caught:
        Half(name="half")
    assert str(caught.value) == (
        "retry 'half': its class defines no on_failure method "
        "(write def on_failure(self, history, ...) returning a Decision)"
    )


def test_a_retry_without_execute_is_refused() -> None:
    class Lazy(Retry):
        def on_failure(self, history: History) -> Decision:
            return Decision.REVERT

    with pytest.raises(AtomDefinitionError) as caught:
        Lazy(name="lazy")
    assert str(caught.value) == (
        "retry 'lazy': its class defines no execute method (write def execute(self, history, ...))"
    )


def test_a_retry_execute_must_take_the_history() -> None:
    class Forgetful(Retry):
        def execute(self) -> None:
            return None

        def on_failure(self, history: History) -> Decision:
            return Decision.REVERT

    with pytest.raises(AtomDefinitionError) as caught:
        Forgetful(name="f")
    assert str(caught.value) == "retry 'f': execute must take the history as its first parameter"


def test_on_failure_must_not_need_more_than_execute_gets() -> None:
    class Greedy(Retry):
        def execute(self, history: History) -> None:
            return None

        def on_failure(self, history: History, extra: int) -> Decision:
            return Decision.REVERT

    with pytest.raises(AtomDefinitionError) as caught:
        Greedy(name="g")
    assert str(caught.value) == (
        "retry 'g': on_failure takes 'extra', which execute does not "
        "(on_failure gets execute's arguments)"
    )


def test_on_failure_must_be_a_plain_def() -> None:
    class Eager(Retry):
        def execute(self, history: History) -> None:
            return None

        async def on_failure(self, history: History) -> Decision:
            return Decision.REVERT

    with pytest.raises(AtomDefinitionError) as caught:
        Eager(name="e")
    assert (
        str(caught.value)
        == "retry 'e': on_failure must be a plain def: it decides, it does no work"
    )


def test_an_async_retry_execute() -> None:
    class Waiting(Retry):
        async def execute(self, history: History) -> int:
            return len(history)

        async def revert(self, history: History) -> None:
            return None

        def on_failure(self, history: History) -> Decision:
            return Decision.REVERT

    retry = Waiting()
    assert retry.is_async
    assert asyncio.run(retry.call_execute({}, History())) == 0
    assert asyncio.run(retry.call_revert({}, None, {}, History())) is None


def test_an_async_retry_with_the_default_revert_returns_an_awaitable() -> None:
    class Plain(Retry):
        async def execute(self, history: History) -> int:
            return len(history)

        def on_failure(self, history: History) -> Decision:
            return Decision.REVERT

    assert asyncio.run(Plain().call_revert({}, None, {}, History())) is None


def test_copy_of_a_builtin_keeps_its_policy() -> None:
    original = Times(4, revert_all=True, name="four")
    twin = original.copy(name="four-again")
    assert isinstance(twin, Times)
    assert (twin.name, twin.attempts, twin.revert_all) == ("four-again", 4, True)
    assert ForEach([1, 2]).copy(provides="v").values == (1, 2)


def test_built_in_retries_pickle() -> None:
    for retry in (Times(3, provides="n"), ForEach([1, 2]), ParameterizedForEach(), AlwaysRevert()):
        copy = pickle.loads(pickle.dumps(retry))
        assert type(copy) is type(retry)
        assert copy.name == retry.name
        assert copy.call_execute({"values": [5]}, History()) == retry.call_execute(
            {"values": [5]}, History()
        )


def test_injected_arguments_reach_execute_and_on_failure() -> None:
    retry = ParameterizedForEach(inject={"values": [7, 8]})
    assert retry.requires == frozenset()
    assert retry.call_execute({}, History()) == 7
    assert retry.decide(failed(History().with_attempt(7)), {}) is Decision.RETRY
