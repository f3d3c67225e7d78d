"""A flawed saga the model checker catches, and its fix.

`make_flawed` builds an order saga with two classic bugs:

- `Charge.execute` is not idempotent: it adds to the balance each time it runs. A process that
  dies after charging the card but before the result is recorded charges it again when the run
  is resumed.
- `Reserve.revert` assumes `execute` returned: when `execute` raised, its `result` is a
  `pf.Failure`, and the revert breaks, leaving work done and not undone.

`make_fixed` repairs both: the charge is keyed by the order (a second charge of the same order
does nothing), and the revert undoes whatever is there to undo without trusting `result`: the
checker shows why that matters, since an attempt that reserved stock and then died is followed
by one that raised, whose `result` says nothing about the first. Each factory returns the flow
and the fake world its tasks change; `consistent(world, outcome)` is the user invariant: after
SUCCESS everything happened once, after a revert nothing is left.

    provenflow verify examples/flawed_saga.py:make_flawed \\
        --invariant examples/flawed_saga.py:consistent
    provenflow verify examples/flawed_saga.py:make_fixed \\
        --invariant examples/flawed_saga.py:consistent
"""

from __future__ import annotations

from typing import Any

import provenflow as pf
from provenflow.verification import check


class World:
    """What the saga changes outside the engine: stock, a card, a courier."""

    def __init__(self) -> None:
        self.reserved = 0
        self.charged = 0
        self.charges: set[int] = set()
        self.shipped = 0

    def __repr__(self) -> str:
        return f"World(reserved={self.reserved}, charged={self.charged}, shipped={self.shipped})"


def _saga(world: World, *, fixed: bool) -> pf.Flow:
    class Reserve(pf.Task):
        def execute(self, order_id: int) -> dict[str, int]:
            world.reserved = 1
            return {"reservation": order_id}

        def revert(self, result: Any, **_: Any) -> None:
            if fixed:
                # Undo whatever an attempt may have reserved, whether or not this attempt
                # returned: an earlier attempt may have reserved before the process died.
                world.reserved = 0
                return
            world.reserved -= 1 if result["reservation"] else 0

    class Charge(pf.Task):
        def execute(self, order_id: int) -> None:
            if fixed:
                if order_id not in world.charges:  # idempotent: one charge per order
                    world.charges.add(order_id)
                    world.charged += 10
            else:
                world.charged += 10

        def revert(self, order_id: int, **_: Any) -> None:
            if not fixed or order_id in world.charges:
                world.charges.discard(order_id)
                world.charged = 0

    class Ship(pf.Task):
        def execute(self) -> None:
            world.shipped = 1

        def revert(self, **_: Any) -> None:
            world.shipped = 0

    return pf.LinearFlow("order").add(
        Reserve(name="reserve", inject={"order_id": 7}),
        Charge(name="charge", inject={"order_id": 7}),
        Ship(name="ship"),
    )


def make_flawed() -> tuple[pf.Flow, World]:
    """The saga with both bugs, and a fresh world."""
    world = World()
    return _saga(world, fixed=False), world


def make_fixed() -> tuple[pf.Flow, World]:
    """The saga with both bugs fixed, and a fresh world."""
    world = World()
    return _saga(world, fixed=True), world


def consistent(world: World, outcome: str) -> bool:
    """All done exactly once after SUCCESS; nothing left after a revert."""
    if outcome == "SUCCESS":
        return (world.reserved, world.charged, world.shipped) == (1, 10, 1)
    return (world.reserved, world.charged, world.shipped) == (0, 0, 0)


def main() -> None:
    for factory in (make_flawed, make_fixed):
        report = check(factory, crashes=1, invariant=consistent, all_violations=True)
        print(f"{factory.__name__}: {'sound' if report.ok else 'violations found'}")
        print(f"  states explored: {report.states_explored}")
        messages = sorted({violation.message for violation in report.violations})
        for message in messages:
            print(f"  - {message}")
    first = check(make_flawed, crashes=1, invariant=consistent).violations[0]
    print("shortest counterexample:")
    print(first)


if __name__ == "__main__":
    main()
