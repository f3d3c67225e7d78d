"""Tests of tasks (`provenflow.flows._task`): subclasses, `@task`, async, progress."""

from __future__ import annotations

import asyncio
import math
import pickle
from typing import Any

import pytest

from provenflow.errors import AtomDefinitionError, UsageError
from provenflow.flows import FunctionTask, Task, reporting_progress, task


class Download(Task):
    def execute(self, url: str) -> str:
        self.update_progress(0.5)
        self.update_progress(2)
        return f"body of {url}"


def test_task_decorator_bare() -> None:
    @task
    def fetch(url: str, retries: int = 3) -> str:
        return f"{url}:{retries}"

    assert isinstance(fetch, FunctionTask)
    assert isinstance(fetch, Task)
    assert fetch.name == "fetch"
    assert fetch.requires == frozenset({"url"})
    assert fetch.optional == frozenset({"retries"})
    assert fetch.call_execute({"url": "u"}) == "u:3"


def test_task_decorator_with_keywords() -> None:
    @task(name="get", provides="page", rebind={"url": "address"}, priority=3, timeout=1.5)
    def fetch(url: str) -> str:
        return url

    assert (fetch.name, fetch.provides, fetch.priority, fetch.timeout) == (
        "get",
        ("page",),
        3,
        1.5,
    )
    assert fetch.requires == frozenset({"address"})


def test_task_as_a_function_call_with_a_revert_function() -> None:
    undone: list[tuple[Any, ...]] = []

    def charge(order: str, amount: int) -> str:
        return f"charge-{order}"

    def refund(order: str, result: object, flow_failures: object) -> None:
        undone.append((order, result, flow_failures))

    atom = task(charge, provides="charge_id", revert=refund, inject={"amount": 5})
    assert atom.requires == frozenset({"order"})
    assert atom.call_execute({"order": "o1", "amount": 5}) == "charge-o1"
    assert atom.call_revert({"order": "o1", "amount": 5}, "charge-o1", {}) is None
    assert undone == [("o1", "charge-o1", {})]


def test_task_without_revert_function_reverts_to_nothing() -> None:
    atom = task(lambda x: x, name="identity")
    assert atom.name == "identity"
    assert atom.call_revert({"x": 1}, 1, {}) is None


def test_a_lambda_keeps_its_name() -> None:
    assert task(lambda: None).name == "<lambda>"


def test_task_refuses_a_class_and_a_non_callable() -> None:
    with pytest.raises(AtomDefinitionError) as caught:
        task(Download)
    assert str(caught.value) == (
        "task 'FunctionTask': task() wraps a function as execute, got "
        f"{Download!r} (for a class, subclass Task instead)"
    )
    with pytest.raises(AtomDefinitionError) as caught:
        task(lambda: None, name="t", revert=3)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "task 't': task() wraps a function as revert, got 3 (for a class, subclass Task instead)"
    )


def test_revert_function_taking_unknown_argument_is_refused() -> None:
    def undo(other: int) -> None:
        return None

    with pytest.raises(AtomDefinitionError) as caught:
        task(lambda x: x, name="t", revert=undo)
    assert str(caught.value) == (
        "task 't': revert takes 'other', which execute does not "
        "(revert gets execute's arguments, result, flow_failures)"
    )


def test_copy_of_a_function_task_keeps_the_function() -> None:
    @task(provides="y")
    def double(x: int) -> int:
        return 2 * x

    twin = double.copy(name="double2")
    assert isinstance(twin, FunctionTask)
    assert twin.name == "double2"
    assert twin.call_execute({"x": 4}) == 8


# Async tasks.


def test_async_function_task() -> None:
    @task(provides="y")
    async def slow_double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    assert slow_double.is_async
    assert asyncio.run(slow_double.call_execute({"x": 3})) == 6
    assert asyncio.run(slow_double.call_revert({"x": 3}, 6, {})) is None


def test_async_task_subclass_with_async_revert() -> None:
    undone: list[object] = []

    class Upload(Task):
        async def execute(self, data: bytes) -> int:
            return len(data)

        async def revert(self, result: object) -> None:
            undone.append(result)

    atom = Upload()
    assert atom.is_async
    assert asyncio.run(atom.call_execute({"data": b"abc"})) == 3
    asyncio.run(atom.call_revert({"data": b"abc"}, 3, {}))
    assert undone == [3]


def test_async_task_with_the_default_revert_still_returns_an_awaitable() -> None:
    class Ping(Task):
        async def execute(self) -> str:
            return "pong"

    assert asyncio.run(Ping().call_revert({}, "pong", {})) is None


# Progress.


def test_update_progress_outside_reporting_is_a_no_op() -> None:
    assert Download().call_execute({"url": "u"}) == "body of u"


def test_update_progress_reaches_the_callback_clamped() -> None:
    seen: list[float] = []
    with reporting_progress(seen.append):
        Download().call_execute({"url": "u"})
    assert seen == [0.5, 1.0]


@pytest.mark.parametrize("fraction", [True, math.nan, "0.5", None])
def test_update_progress_refuses_what_is_not_a_real_number(fraction: object) -> None:
    seen: list[float] = []
    with reporting_progress(seen.append), pytest.raises(UsageError) as caught:
        Download("dl").update_progress(fraction)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"task 'dl': update_progress takes a number from 0 to 1, got {fraction!r}"
    )
    assert seen == []


@task(provides="doubled")
def double(x: int) -> int:
    return 2 * x


def test_a_module_level_function_task_pickles() -> None:

    copy = pickle.loads(pickle.dumps(double))
    assert copy.call_execute({"x": 4}) == 8
    assert copy.provides == ("doubled",)
