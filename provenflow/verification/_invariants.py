"""The invariants the model checker holds every path to (DESIGN.md, "verification/").

After every step:
- write-ahead: an atom's side effect starts only when its RUNNING (for `execute`) or REVERTING
  (for `revert`) record is durable;
- a recorded success is never executed again (until it was reverted or reset by a retry);
- dependents are reverted before their dependencies: an atom's `revert` starts only when no atom
  after it, directly or through others, still holds work (SUCCESS, FAILURE, RUNNING, REVERTING,
  RETRYING, or REVERT_FAILURE: a revert that failed left its work in place);
- only table transitions happen (the core's chokepoint raises `IllegalTransition` otherwise);
- the user's `always(context)` holds;
- no decider raised and no retry controller raised or returned anything but a decision.

At every end:
- the flow is in a terminal state, and nothing is left RUNNING or REVERTING;
- SUCCESS: every atom succeeded or was ignored; REVERTED: every atom that started was undone;
- FAILURE (a revert raised: work done and not undone) is a violation; when every revert that
  raised was an injected failure (`check(..., revert_failures=True)`), FAILURE is the expected
  end and its shape is checked instead: every atom left holding work is one that an atom whose
  revert failed depends on (directly or through others), since a failed revert blocks exactly
  those;
- the user's `invariant(context, outcome)` and `eventually(context)` hold.

Along the way, the rules a lying record breaks (`_record_rules`): the record is a chain of table
edges with fresh attempts, a success is recorded only with what its execute returned, a revert
runs only for an attempt recorded RUNNING, every value handed to user code is the record's, and
the record ends saying what the run's states say.

Each rule has a short stable name that its violation carries (`Violation.rule`): `write-ahead`,
`no-rerun`, `decider`, `revert-order`, `user-decision`, `outcome-recorded`, `retry-history`,
`terminal`, `success-complete`, `reverted-complete`, `revert-raised`, `failure-blocked`,
`failures-reported`, the record rules' (`record-chain`, `attempts`, `result-from-execute`,
`failure-from-execute`, `revert-after-execute`, `reverted-after-revert`, `record-values`,
`record-matches-run`) and
the user's (`invariant`, `always`, `eventually`).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from provenflow.engine import Work
from provenflow.failure import Failure
from provenflow.persistence import Transition
from provenflow.verification._record_rules import RecordRules
from provenflow.verification._signals import Broken
from provenflow.verification._steps import shortened

if TYPE_CHECKING:
    from provenflow.verification._simulation import Simulation

__all__ = ["HOLDS_WORK", "Invariants"]

HOLDS_WORK = frozenset({"SUCCESS", "FAILURE", "RUNNING", "REVERTING", "RETRYING"})
"""Atom states that mean it started and is not undone."""
_NOT_UNDONE = HOLDS_WORK | {"REVERT_FAILURE"}
_INJECTED = "provenflow.verification._simulation.InjectedFailure"
"""The type name of the model checker's injected failures, as a `Failure` records it."""


class Invariants:
    """Checks one simulation's steps; raises `Broken` (`_signals`) on a violation."""

    def __init__(self, simulation: Simulation) -> None:
        # weak: the simulation owns its invariants; a cycle would leave it to the cyclic collector
        self.simulation: Simulation = weakref.proxy(simulation)
        self.succeeded: set[str] = set()
        self.retry_rounds: dict[str, int] = {}
        self.record = RecordRules(simulation)

    def clone(self, simulation: Simulation) -> Invariants:
        """Return a copy of this bookkeeping for `simulation` (a snapshot of the path)."""
        other = Invariants(simulation)
        other.succeeded = set(self.succeeded)
        other.retry_rounds = dict(self.retry_rounds)
        other.record = self.record.clone(simulation)
        return other

    def _broken(self, rule: str, message: str) -> Exception:
        return Broken(message, rule)

    def after_record(self, transition: Transition) -> None:
        """Keep track of recorded successes; a retry's recorded history has every round; the
        record rules follow the record."""
        self.record.after_record(transition)
        atom = transition.atom
        if atom is None:
            return
        if transition.event == "succeed":
            self.succeeded.add(atom)
        elif transition.event in ("revert", "reset", "retry"):
            self.succeeded.discard(atom)
        if transition.lifecycle != "retry":
            return
        if transition.event == "reset":
            self.retry_rounds[atom] = 0
        elif transition.event == "succeed":
            rounds = self.retry_rounds[atom] = self.retry_rounds.get(atom, 0) + 1
            recorded = len(transition.history or ())
            if recorded != rounds:
                raise self._broken(
                    "retry-history",
                    f"retry {atom!r} recorded a history of {recorded} attempts after {rounds} "
                    "recorded rounds (its history must survive a restart)",
                )

    def outcome_recorded(self, work: Work) -> None:
        """An outcome the process lived to see is on record after the write that follows it."""
        wanted = {"execute": ("succeed", "fail"), "revert": ("reverted", "revert_failed")}
        starts = {"execute": ("RUNNING",), "revert": ("REVERTING",)}
        for transition in reversed(self.simulation.records):
            if transition.atom != work.node:
                continue
            if transition.event in wanted[work.action]:
                return
            if transition.new_state in starts[work.action]:
                break  # back at the record that announced this side effect
        raise self._broken(
            "outcome-recorded",
            f"the outcome of {work.action} {work.node!r} was not recorded although the process "
            "did not crash",
        )

    def before_side_effect(self, work: Work) -> None:
        """Write-ahead, no repeated success, dependents reverted first."""
        self._write_ahead(work)
        if work.action == "execute" and work.node in self.succeeded:
            raise self._broken(
                "no-rerun", f"{work.node!r} is executed again after its success was recorded"
            )
        if work.action == "execute":
            self._deciders_respected(work.node)
        if work.action == "revert":
            self._dependents_undone(work.node)
        self.record.before_side_effect(work)

    def _write_ahead(self, work: Work) -> None:
        recorded = self.simulation.recorded.get(work.node)
        wanted = "RUNNING" if work.action == "execute" else "REVERTING"
        if recorded != wanted:
            raise self._broken(
                "write-ahead",
                f"{work.action} of {work.node!r} started while its record says {recorded} "
                f"(write-ahead: {wanted} must be durable first)",
            )

    def _deciders_respected(self, name: str) -> None:
        core = self.simulation.core
        for decider in core.nodes[name].deciders:
            history = {s: core.outcomes[s] for s in decider.sources if s in core.provided}
            try:
                verdict = bool(decider.decide(history))
            except Exception:
                return  # reported as a decider failure
            if not verdict:
                raise self._broken(
                    "decider", f"{name!r} runs although a decider on its link said no"
                )

    def _dependents_undone(self, name: str) -> None:
        core = self.simulation.core
        for dependent in self._dependents(name):
            holder = core.states.get(dependent)
            if holder is not None and holder.state in _NOT_UNDONE:
                raise self._broken(
                    "revert-order",
                    f"{name!r} is reverted while {dependent!r}, which depends on it, is still "
                    f"{holder.state} (dependents must be reverted first)",
                )

    def _dependents(self, name: str) -> tuple[str, ...]:
        """Every node after `name`, directly or through others (cached per path family)."""
        cache = self.simulation.dependents
        found = cache.get(name)
        if found is None:
            nodes = self.simulation.compiled.nodes
            seen: dict[str, None] = {}
            frontier = list(nodes[name].successors)
            while frontier:
                successor = frontier.pop()
                if successor not in seen:
                    seen[successor] = None
                    frontier.extend(nodes[successor].successors)
            found = cache[name] = tuple(seen)
        return found

    def after_side_effect(self, work: Work, failure: Failure | None, result: Any = None) -> None:
        """Note what an execute returned (`result`, when `failure` is None) for the record
        rules; the user's `always` checks."""
        self.record.after_side_effect(work, failure, result)
        self._user("always", lambda check: check(self.simulation.context))

    def after_finish(self, work: Work, result: Any, failure: Failure | None) -> None:
        """The core took `work`'s outcome: the record rules check what it made of it."""
        self.record.after_finish(work, result, failure)

    def after_step(self) -> None:
        """A decider or a retry controller that raised or returned no decision is a bug."""
        for who, failure in self.simulation.core.decision_failures.items():
            raise self._broken("user-decision", f"{who} failed: {failure}")

    def at_end(self) -> None:
        """The end-of-run invariants, the engine's and the user's."""
        core = self.simulation.core
        outcome = str(core.flow.state)
        states = {name: holder.state._value_ for name, holder in core.states.items()}
        left = sorted(n for n, s in states.items() if s in ("RUNNING", "REVERTING"))
        if left:
            raise self._broken(
                "terminal", f"the run ended {outcome} with {left} still RUNNING/REVERTING"
            )
        if outcome == "FAILURE":
            self._failure_explained(states)
        elif outcome == "SUCCESS":
            unfinished = sorted(n for n, s in states.items() if s not in ("SUCCESS", "IGNORE"))
            if unfinished:
                raise self._broken(
                    "success-complete", f"the run ended SUCCESS with {unfinished} not done"
                )
        elif outcome == "REVERTED":
            kept = sorted(n for n, s in states.items() if s in _NOT_UNDONE)
            if kept:
                raise self._broken(
                    "reverted-complete", f"the run ended REVERTED with {kept} not undone"
                )
            self._failures_reported()
        else:
            raise self._broken(
                "terminal", f"the run stopped in {outcome}, which is not a terminal state"
            )
        self.record.at_end()
        context = self.simulation.context
        self._user("invariant", lambda check: check(context, outcome))
        self._user("eventually", lambda check: check(context))

    def _failure_explained(self, states: dict[str, str]) -> None:
        """A FAILURE end is a violation unless only injected revert failures caused it; then
        every atom left holding work must be blocked by a failed revert that depends on it."""
        failures = self.simulation.core.revert_failures
        if any(failure.type_name != _INJECTED for failure in failures.values()):
            listed = "; ".join(f"{n}: {shortened(str(f))}" for n, f in failures.items())
            raise self._broken(
                "revert-raised",
                f"the run ended FAILURE: a revert raised, so work was done and not undone "
                f"({listed})",
            )
        failed = {name for name, state in states.items() if state == "REVERT_FAILURE"}
        kept = sorted(
            name
            for name, state in states.items()
            if state in HOLDS_WORK and not failed.intersection(self._dependents(name))
        )
        if kept:
            raise self._broken(
                "failure-blocked",
                f"the run ended FAILURE with {kept} not undone, though no failed revert "
                f"({sorted(failed)}) depends on them",
            )

    def _failures_reported(self) -> None:
        """Every execute failure on record (not retried away) is among the run's failures."""
        last: dict[str, str] = {}
        for transition in self.simulation.records:
            if transition.atom is not None and transition.event in ("fail", "succeed", "reset"):
                last[transition.atom] = str(transition.event)
        failed = {atom for atom, event in last.items() if event == "fail"}
        missing = sorted(failed - set(self.simulation.core.failures))
        if missing:
            raise self._broken(
                "failures-reported", f"the run's failures leave out {missing}, which failed"
            )

    def _user(self, kind: str, call: Any) -> None:
        for name, check in self.simulation.user_checks:
            if name != kind:
                continue
            try:
                held = call(check)
            except Exception as exc:
                raise self._broken(
                    kind, f"{kind} {_name(check)} raised {shortened(repr(exc))}"
                ) from None
            if not held:
                raise self._broken(kind, f"{kind} {_name(check)} does not hold")


def _name(check: Any) -> str:
    return getattr(check, "__name__", repr(check))
