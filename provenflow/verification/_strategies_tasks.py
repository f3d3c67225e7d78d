"""What a built plan runs: tasks that do what their behaviour says, and the journal they write.

A `FuzzTask` does what its `TaskPlan`'s `Behaviour` says (see `_strategies_plans`): it checks
that its inputs are its providers' planned values, does its busy work and its side effect, and
on the attempts its behaviour names raises `PlannedFailure` or dies (`ProcessCrash`, before or
after the effect); its revert undoes the effect, or raises. Every call is written to the
`Journal` all the tasks of a run share, so a run's side effects can be checked after the run,
across crashes and resumes (rebuild with the same journal); `Journal.violations` says what went
wrong. Plans build these tasks, so this module needs the plans only for their types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provenflow.failure import Failure
from provenflow.flows import Task

if TYPE_CHECKING:
    from provenflow.verification._strategies_plans import FlowPlan, Json, OneOf, TaskPlan

__all__ = [
    "FuzzTask",
    "Journal",
    "ProcessCrash",
]


class ProcessCrash(BaseException):
    """Stands for the process dying: not an Exception, so no engine code catches it."""


class PlannedFailure(Exception):
    """What a task raises on an attempt its behaviour says fails, or from a raising revert."""


@dataclass
class Journal:
    """What the tasks of one run did, in order, across every process of the run.

    `entries`: (action, task, attempt) for each call of execute and revert. `effects`: task ->
    whether its side effect is in place. `problems`: what a task found wrong (an argument that
    is not its provider's value, a revert given a result execute never returned).
    """

    entries: list[tuple[str, str, int]] = field(default_factory=list)
    effects: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """What of the journal can change what the tasks do next, for a model checker's key:
        how many times each task's execute and revert ran (not in which order: a task goes by
        its count), which effects are in place, and the problems seen."""
        counts: dict[str, int] = {}
        for action, task, _ in self.entries:
            counts[f"{action} {task}"] = counts.get(f"{action} {task}", 0) + 1
        return {"calls": counts, "effects": self.effects, "problems": self.problems}

    def count(self, action: str, task: str) -> int:
        """Return how many times `task`'s `action` (execute or revert) was called."""
        return sum(1 for done, name, _ in self.entries if done == action and name == task)

    def violations(self, states: Mapping[str, str], plan: FlowPlan) -> list[str]:
        """Return what the journal says went wrong, given every atom's final state.

        Problems the tasks saw; a side effect left in place by a task whose record says it
        is not done (only SUCCESS, FAILURE and REVERT_FAILURE keep one); a SUCCESS task whose
        effect is not in place; a task executed although a decider vetoed it.
        """
        found = list(self.problems)
        for task in plan.tasks():
            state = states.get(task.name, "PENDING")
            kept = self.effects.get(task.name, False)
            if kept and state not in ("SUCCESS", "FAILURE", "REVERT_FAILURE"):
                found.append(f"task {task.name!r} ended {state} with its side effect in place")
            if state == "SUCCESS" and not kept:
                found.append(f"task {task.name!r} ended SUCCESS without its side effect")
        for name in plan.vetoed():
            if self.count("execute", name):
                found.append(f"task {name!r} was executed although a decider said no")
        return found


class FuzzTask(Task):
    """A task that does what its `TaskPlan` says, writing each call to the journal."""

    def __init__(
        self, plan: TaskPlan, journal: Journal, values: Mapping[str, Json | OneOf]
    ) -> None:
        self.plan = plan
        self.journal = journal
        self.expected = {symbol: values.get(symbol) for symbol in plan.requires}
        """Symbol -> its provider's planned value, or `OneOf` its values (a retry's)."""
        rebind = {symbol: symbol for symbol in plan.requires}
        super().__init__(plan.name, provides=plan.provides, rebind=rebind or None)

    def execute(self, **inputs: Any) -> Json:
        """Check the inputs, do the work and the side effect; raise or crash as planned."""
        plan, behaviour = self.plan, self.plan.behaviour
        attempt = self.journal.count("execute", plan.name) + 1
        self.journal.entries.append(("execute", plan.name, attempt))
        if not self._expected(inputs):
            self.journal.problems.append(
                f"task {plan.name!r} attempt {attempt} got {inputs!r}, expected {self.expected!r}"
            )
        crashes = attempt in behaviour.crash_on
        if crashes and behaviour.crash_before_effect:
            raise ProcessCrash(f"{plan.name} attempt {attempt}: the process dies")
        total = sum(range(behaviour.work))  # slow: busy work, never a sleep
        self.journal.effects[plan.name] = total >= 0
        if crashes:
            raise ProcessCrash(f"{plan.name} attempt {attempt}: the process dies after its effect")
        if attempt in behaviour.raise_on:
            raise PlannedFailure(f"{plan.name} fails on attempt {attempt}")
        return behaviour.value

    def _expected(self, inputs: Mapping[str, Any]) -> bool:
        """Whether `inputs` are exactly the symbols expected, each with a value expected."""
        if inputs.keys() != self.expected.keys():
            return False
        for symbol, expected in self.expected.items():
            options = getattr(expected, "options", None)
            if options is None and inputs[symbol] != expected:
                return False
            if options is not None and inputs[symbol] not in options:
                return False
        return True

    def revert(self, **arguments: Any) -> None:
        """Undo the side effect, unless the behaviour says revert raises. A strict revert
        raises `TypeError` when an input is missing, as one taking them by name would."""
        plan = self.plan
        if plan.behaviour.strict_revert:
            missing = sorted(set(plan.requires) - set(arguments))
            if missing:
                raise TypeError(f"revert() of {plan.name!r} missing required arguments {missing}")
            given = {symbol: arguments[symbol] for symbol in plan.requires}
            if not self._expected(given):
                self.journal.problems.append(
                    f"task {plan.name!r}: revert got {given!r}, expected {self.expected!r}"
                )
        attempt = self.journal.count("revert", plan.name) + 1
        self.journal.entries.append(("revert", plan.name, attempt))
        result = arguments.get("result")
        if not isinstance(result, Failure) and result != plan.behaviour.value:
            self.journal.problems.append(
                f"task {plan.name!r}: revert got result {result!r}, but execute returns "
                f"{plan.behaviour.value!r} (or fails)"
            )
        if plan.behaviour.revert_raises:
            raise PlannedFailure(f"{plan.name} revert fails")
        self.journal.effects[plan.name] = False
