"""Tests of the atom base (`provenflow.flows._atom`): options, binding, calls and copies."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import pytest

from provenflow.errors import AtomDefinitionError, BadResult, UsageError
from provenflow.flows import History, Task, Times, task


class Add(Task):
    def execute(self, a: int, b: int) -> int:
        return a + b


class Scale(Task):
    def execute(self, value: float, factor: float = 2.0, *, unit: str = "m") -> str:
        return f"{value * factor}{unit}"


class Anything(Task):
    def execute(self, first: int, **rest: Any) -> dict[str, Any]:
        return {"first": first, **rest}


def refusal(build: Any) -> str:
    with pytest.raises(AtomDefinitionError) as caught:
        build()
    return str(caught.value)


# Options.


def test_defaults() -> None:
    atom = Add()
    assert atom.name == "Add"
    assert atom.version == "1.0"
    assert atom.priority == 0
    assert atom.timeout is None
    assert atom.provides == ()
    assert atom.requires == frozenset({"a", "b"})
    assert atom.optional == frozenset()
    assert dict(atom.rebind) == {"a": "a", "b": "b"}
    assert dict(atom.inject) == {}
    assert atom.is_async is False
    assert atom.arguments() == ("a", "b")
    assert atom.kind == "task"
    assert repr(atom) == "<Add 'Add'>"


def test_a_nested_class_is_named_by_its_qualified_name() -> None:
    class Local(Task):
        def execute(self) -> None:
            return None

    assert Local().name.endswith("<locals>.Local")


def test_options_are_kept() -> None:
    atom = Add("adder", provides="sum", version="2.1", priority=5, timeout=3)
    assert (atom.name, atom.provides, atom.version, atom.priority) == ("adder", ("sum",), "2.1", 5)
    assert atom.timeout == 3.0
    assert isinstance(atom.timeout, float)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": ""}, "task 'Add': name must be a non-empty str, got ''"),
        ({"name": 3}, "task 'Add': name must be a non-empty str, got 3"),
        ({"version": 1}, "task 'Add': version must be a str, got 1"),
        ({"priority": 1.5}, "task 'Add': priority must be an int, got 1.5"),
        ({"priority": True}, "task 'Add': priority must be an int, got True"),
        (
            {"timeout": -1},
            "task 'Add': timeout must be a positive number of seconds or None, got -1",
        ),
        (
            {"timeout": 0},
            "task 'Add': timeout must be a positive number of seconds or None, got 0",
        ),
        (
            {"timeout": float("inf")},
            "task 'Add': timeout must be a positive number of seconds or None, got inf",
        ),
        (
            {"timeout": "1"},
            "task 'Add': timeout must be a positive number of seconds or None, got '1'",
        ),
        (
            {"provides": ["a", "b"]},
            "task 'Add': provides must be a str or a tuple of str, got ['a', 'b']",
        ),
        (
            {"provides": ("a", 1)},
            "task 'Add': provides must be a str or a tuple of str, got ('a', 1)",
        ),
        ({"provides": ""}, "task 'Add': provides names the empty symbol ''"),
        ({"provides": ("x", "x")}, "task 'Add': provides names 'x' twice"),
    ],
)
def test_bad_options_are_refused_naming_the_atom(options: dict[str, Any], message: str) -> None:
    assert refusal(lambda: Add(**options)) == message


def test_definition_errors_pickle() -> None:
    with pytest.raises(AtomDefinitionError) as caught:
        Add(rebind={"q": "z"})
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)
    assert copy.atom == "Add"
    assert isinstance(copy, UsageError)


# Binding arguments to symbols.


def test_rebind_as_a_mapping() -> None:
    atom = Add(rebind={"a": "left"})
    assert atom.requires == frozenset({"left", "b"})
    assert dict(atom.rebind) == {"a": "left", "b": "b"}


def test_rebind_as_a_list_maps_the_required_parameters_in_order() -> None:
    atom = Add(rebind=["x", "y"])
    assert dict(atom.rebind) == {"a": "x", "b": "y"}
    assert Add(rebind=("x",)).requires == frozenset({"x", "b"})

    class Mixed(Task):
        def execute(self, a: int, b: int = 1, *, c: int) -> int:
            return a + b + c

    assert dict(Mixed(rebind=["x", "z"]).rebind) == {"a": "x", "b": "b", "c": "z"}
    with pytest.raises(AtomDefinitionError, match="rebind optional ones with a mapping"):
        Mixed(rebind=["x", "y", "z"])


def test_optional_parameters_and_keyword_only_ones() -> None:
    atom = Scale(rebind={"factor": "scale"})
    assert atom.arguments() == ("value", "factor", "unit")
    assert atom.requires == frozenset({"value"})
    assert atom.optional == frozenset({"scale", "unit"})


def test_a_symbol_bound_to_a_required_and_an_optional_parameter_is_required() -> None:
    atom = Scale(rebind={"factor": "value"})
    assert atom.requires == frozenset({"value"})
    assert atom.optional == frozenset({"unit"})


def test_inject_removes_the_argument_from_the_requirements() -> None:
    atom = Add(inject={"b": 10})
    assert atom.requires == frozenset({"a"})
    assert dict(atom.inject) == {"b": 10}
    assert "b" not in atom.rebind
    assert Scale(inject={"factor": 3}).optional == frozenset({"unit"})


def test_var_keyword_takes_rebound_and_injected_extra_arguments() -> None:
    atom = Anything(rebind={"second": "two"}, inject={"third": 3})
    assert atom.arguments() == ("first", "second", "third")
    assert atom.requires == frozenset({"first", "two"})
    assert atom.call_execute({"first": 1, "second": 2, "third": 3}) == {
        "first": 1,
        "second": 2,
        "third": 3,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"rebind": {"q": "z"}},
            "task 'Add': rebind names 'q', which is not a parameter of execute (parameters: a, b)",
        ),
        (
            {"rebind": ["x", "y", "z"]},
            "task 'Add': rebind lists 3 symbols, but execute has only 2 required parameters "
            "(a, b); rebind optional ones with a mapping",
        ),
        ({"rebind": {"a": 3}}, "task 'Add': rebind maps 'a' to 3, which is not a symbol name"),
        ({"rebind": {"a": ""}}, "task 'Add': rebind maps 'a' to '', which is not a symbol name"),
        (
            {"rebind": "a"},
            "task 'Add': rebind must be a mapping (argument -> symbol) or a list/tuple of "
            "symbols, got 'a'",
        ),
        (
            {"inject": {"q": 1}},
            "task 'Add': inject names 'q', which is not a parameter of execute (parameters: a, b)",
        ),
        (
            {"inject": [("a", 1)]},
            "task 'Add': inject must be a mapping (argument -> value), got [('a', 1)]",
        ),
    ],
)
def test_bad_rebind_and_inject_are_refused(options: dict[str, Any], message: str) -> None:
    assert refusal(lambda: Add(**options)) == message


def test_execute_with_star_args_is_refused() -> None:
    class Star(Task):
        def execute(self, *values: int) -> int:
            return sum(values)

    assert refusal(Star) == (
        "task 'test_execute_with_star_args_is_refused.<locals>.Star': execute takes *values, "
        "which cannot be bound to symbols; name each parameter"
    )


def test_positional_only_parameters_are_refused() -> None:
    def positional(a: int, /) -> int:
        return a

    assert refusal(lambda: task(positional)) == (
        "task 'positional': execute's parameter 'a' is positional-only; "
        "arguments are passed by name"
    )


def test_a_task_class_without_execute_is_refused() -> None:
    class Nothing(Task):
        pass

    with pytest.raises(AtomDefinitionError, match="its class defines no execute method") as caught:
        Nothing(name="nothing")
    assert str(caught.value) == (
        "task 'nothing': its class defines no execute method (write def execute(self, ...))"
    )


def test_static_and_class_methods_are_read_without_self() -> None:
    class Static(Task):
        @staticmethod
        def execute(a: int) -> int:
            return a

    class Klass(Task):
        @classmethod
        def execute(cls, b: int) -> int:
            return b

    assert Static().arguments() == ("a",)
    assert Static().call_execute({"a": 4}) == 4
    assert Klass().arguments() == ("b",)


# Revert compatibility.


def test_revert_taking_an_argument_execute_does_not_is_refused() -> None:
    class Odd(Task):
        def execute(self, a: int) -> int:
            return a

        def revert(self, z: int) -> None:
            return None

    assert refusal(lambda: Odd(name="odd")) == (
        "task 'odd': revert takes 'z', which execute does not "
        "(revert gets execute's arguments, result, flow_failures)"
    )


def test_revert_may_take_fewer_arguments_defaults_or_kwargs() -> None:
    class Fine(Task):
        def execute(self, a: int, b: int) -> int:
            return a + b

        def revert(self, a: int, extra: int = 0, **rest: Any) -> None:
            return None

    assert Fine().arguments() == ("a", "b")


def test_an_execute_parameter_named_like_a_revert_argument_is_refused_when_revert_takes_it() -> (
    None
):
    class Clash(Task):
        def execute(self, result: int) -> int:
            return result

        def revert(self, result: int) -> None:
            return None

    assert refusal(lambda: Clash(name="clash")) == (
        "task 'clash': execute's parameter 'result' has the name of an argument the engine "
        "gives revert; rename it (rebind can keep the symbol 'result')"
    )

    class NoClash(Task):
        def execute(self, result: int) -> int:
            return result

    assert NoClash().requires == frozenset({"result"})


def test_execute_and_revert_must_agree_on_async() -> None:
    class Mixed(Task):
        async def execute(self) -> None:
            return None

        def revert(self) -> None:
            return None

    assert refusal(lambda: Mixed(name="mixed")) == (
        "task 'mixed': execute and revert must both be async def or both plain def "
        "(execute is async def, revert is plain def)"
    )


# provided().


def test_provided_for_one_name_many_names_and_none() -> None:
    assert Add(provides="s").provided(3) == {"s": 3}
    assert Add(provides="s").provided((1, 2)) == {"s": (1, 2)}
    assert Add(provides=("x", "y")).provided([1, 2]) == {"x": 1, "y": 2}
    assert Add(provides=("x",)).provided((5,)) == {"x": 5}
    assert Add().provided(3) == {}


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (
            5,
            "task 'split' provides ('x', 'y'): execute must return a sequence of 2 values, "
            "got 5 (int)",
        ),
        (
            "ab",
            "task 'split' provides ('x', 'y'): execute must return a sequence of 2 values, "
            "got 'ab' (str)",
        ),
        (
            [1, 2, 3],
            "task 'split' provides ('x', 'y'): execute must return a sequence of 2 values, "
            "got 3 values: [1, 2, 3]",
        ),
    ],
)
def test_provided_refuses_a_result_that_does_not_unpack(result: object, message: str) -> None:
    atom = Add("split", provides=("x", "y"))
    with pytest.raises(BadResult) as caught:
        atom.provided(result)
    assert str(caught.value) == message
    assert isinstance(caught.value, UsageError)
    assert str(pickle.loads(pickle.dumps(caught.value))) == message


# Calls.


def test_call_execute_passes_only_accepted_arguments() -> None:
    assert Add().call_execute({"a": 1, "b": 2, "unrelated": 3}) == 3
    assert Scale().call_execute({"value": 2}) == "4.0m"
    assert Scale().call_execute({"value": 2, "factor": 3, "unit": "s"}) == "6s"


def test_call_execute_refuses_a_missing_required_argument() -> None:
    with pytest.raises(UsageError) as caught:
        Add("adder").call_execute({"a": 1})
    assert str(caught.value) == (
        "task 'adder': execute needs argument 'b', which was not given (given: a)"
    )


def test_call_revert_passes_what_revert_accepts() -> None:
    seen: list[Mapping[str, object]] = []

    class Recorder(Task):
        def execute(self, a: int, b: int) -> int:
            return a + b

        def revert(self, b: int, result: object, **rest: object) -> None:
            seen.append({"b": b, "result": result, **rest})

    Recorder().call_revert({"a": 1, "b": 2}, 3, {"x": "failure"})
    assert seen == [{"b": 2, "result": 3, "a": 1, "flow_failures": {"x": "failure"}}]


def test_the_default_revert_does_nothing() -> None:
    assert Add().call_revert({"a": 1, "b": 2}, 3, {}) is None


def test_revert_inputs_are_exactly_what_call_revert_hands_revert() -> None:
    seen: list[dict[str, object]] = []

    class Picky(Task):
        def execute(self, a: int, b: int) -> int:
            return a + b

        def revert(self, b: int, flow_failures: object) -> None:
            seen.append({"b": b, "flow_failures": flow_failures})

    args, failures = {"a": 1, "b": 2}, {"x": "failure"}
    Picky().call_revert(args, 3, failures)
    assert (
        Picky().revert_inputs(args, 3, failures) == seen[0] == {"b": 2, "flow_failures": failures}
    )
    assert Add().revert_inputs(args, 3, failures) == {}  # the default revert is handed nothing
    again = Times(2, name="again")
    assert again.revert_inputs({"history": History()}, None, failures) == {}

    class Undoes(Times):
        def revert(self, history: History, **rest: object) -> None:
            del history, rest

    inputs = Undoes(2, name="undoes").revert_inputs({"history": History()}, None, failures)
    assert inputs == {"history": History(), "flow_failures": failures}


# copy().


def test_copy_changes_options_and_keeps_the_rest() -> None:
    original = Add("adder", provides="sum", rebind={"a": "x"}, priority=2)
    duplicate = original.copy(name="adder2", provides="total")
    assert duplicate is not original
    assert isinstance(duplicate, Add)
    assert (duplicate.name, duplicate.provides, duplicate.priority) == ("adder2", ("total",), 2)
    assert duplicate.requires == frozenset({"x", "b"})
    assert (original.name, original.provides) == ("adder", ("sum",))


def test_copy_refuses_unknown_options_and_bad_values() -> None:
    original = Add("adder")
    with pytest.raises(UsageError) as caught:
        original.copy(colour="red")
    assert str(caught.value) == (
        "task 'adder': copy() takes name, provides, rebind, inject, version, priority, "
        "timeout; got 'colour'"
    )
    with pytest.raises(AtomDefinitionError):
        original.copy(rebind={"nope": "x"})
    assert original.name == "adder"


def test_atoms_pickle_for_process_executors() -> None:
    atom = Scale("scale", provides="scaled", rebind={"value": "amount"}, inject={"unit": "s"})
    copy = pickle.loads(pickle.dumps(atom))
    assert (copy.name, copy.provides, copy.requires) == ("scale", ("scaled",), {"amount"})
    assert dict(copy.rebind) == dict(atom.rebind)
    assert dict(copy.inject) == {"unit": "s"}
    assert copy.call_execute({"value": 2}) == "4.0s"
    with pytest.raises(TypeError):
        copy.rebind["value"] = "other"  # type: ignore[index]


def test_call_execute_and_call_revert_take_injected_values() -> None:
    undone: list[int] = []

    class Adder(Task):
        def execute(self, a: int, b: int) -> int:
            return a + b

        def revert(self, b: int) -> None:
            undone.append(b)

    atom = Adder(inject={"b": 10})
    assert atom.call_execute({"a": 1}) == 11
    assert atom.call_execute({"a": 1, "b": 5}) == 6
    atom.call_revert({"a": 1}, 11, {})
    assert undone == [10]
