"""The model checker's partial-order reduction: one order for a settled revert phase.

State hashing (`_state_key`) already explores once each state that several orders of
completion reach. What it cannot save is the states *between* those orders: with reverts of
unrelated atoms in flight, every order in which they complete passes through its own states
(which revert finished, which was taken next), and after a crash each record the run resumes
from has its own lattice of them. Most of an unordered flow's states are there.

The reduction takes one option (the first) at a choice of a **settled revert phase**, a state
where every option is the run's normal course and every order leads to the same end:

1. the flow is REVERTING and has no retry controller, so no atom executes again: the only
   work left is reverts;
2. no fault is left: the crashes and suspensions of the bounds are used up, so no option from
   here on is a crash, a suspension or an injected failure (`revert_failures` is off);
3. every piece of work in flight is a revert with one outcome (no timeout), nothing is late;
4. the factory returns no context (no world) and no `always` check is given.

The choice is then which revert in flight completes next (`pick`) or how much room the
executor has (`take`). Why one option is enough (a persistent set of one, as in Godefroid's
partial-order methods, with no cycle to mind: a revert phase only moves forward):

- every option costs no fault (`fault`), and no option from a settled state on can be a fault
  (2), so every run from it has the faults it has: the fewest faults of a violation are kept;
- the user code still to run is the reverts (1, 3), each handed arguments the core resolved
  from what does not change any more: the atom's inputs and result (values on record) and the
  flow's failures (no execute runs again, so no new ones). A revert sees no world (4), so it
  does, raises or returns the same in every order: the same calls, with the same outcomes
  (state tasks share outside the world is outside what the checker covers, as for merging);
- with no `always` check and no world, what a user check looks at is the end (`invariant`,
  `eventually`); the built-in rules look at each step, but are the engine's: for the engine's
  own scheduling, every order of unrelated reverts ends with the same record by value (the
  state key's record part is per atom, not in order), so the same end state and verdict.

The last point trusts the engine to treat the orders alike (it is what the reduction prunes);
the differential test (tests/verification/test_reduction.py) holds it to that on random flows,
with and without the reduction, and the mutation suite runs with it on. `check(...,
reduction=False)` (`provenflow verify --no-reduction`) explores every order, as before.

Where a state is not settled, nothing is pruned: before the last crash (a crash between two
completions leaves a record of its own), while an execute is in flight (it may still fail,
which changes the flow's failures later reverts are handed), with a world or an `always`
check (your code could see the order), with a retry (a revert phase may run its subflow
again), and with injected revert failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provenflow.verification._simulation import Simulation

__all__ = ["NORMAL", "fault", "settled"]

NORMAL = frozenset({"pick", "take"})
"""Stages whose every option is the run's normal course: which work completes first, and how
much room the executor has."""


def fault(stage: str, choice: int) -> int:
    """What taking `choice` at `stage` costs: 1 for a fault (a crash, an injected failure, a
    suspension), 0 for the run's normal course (the first option, or any order of completion)."""
    return 0 if choice == 0 or stage in NORMAL else 1


def settled(simulation: Simulation) -> bool:
    """Whether `simulation` is at a choice of a settled revert phase (see the module
    docstring), where its first option stands for all of them."""
    if simulation.stage not in NORMAL or simulation.late or simulation.context is not None:
        return False
    if simulation.crashes < simulation.max_crashes:
        return False
    if simulation.suspends < simulation.max_suspends or simulation.revert_failures:
        return False
    core = simulation.core
    if core.flow.state != "REVERTING" or core.histories:
        return False
    if any(kind == "always" for kind, _ in simulation.user_checks):
        return False
    return all(
        work.action == "revert" and work.atom.timeout is None for work in simulation.in_flight
    )
