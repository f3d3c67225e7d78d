"""An order saga: reserve stock, charge the card, ship, each with its undo, shipping retried.

The flow the README's first command runs: `provenflow run examples/order_saga.py:make_flow`.
`make_flow` is a factory (a function without arguments that returns the flow), so the command
line, and later a resume after a crash, can build the same flow again. The courier refuses the
first booking, so the `Times(3)` retry undoes and repeats the shipping step; the run ends
SUCCESS with every step on record. Run with `--store '{"order_id": 7, "fail_payment": true}'` to
see a failed charge undo the reservation instead.
"""

from __future__ import annotations

from typing import Any

import provenflow as pf

COURIER_REFUSALS = {"left": 1}
"""How many bookings the fake courier still refuses (module state, so one refusal per run)."""


class Reserve(pf.Task):
    def execute(self, order_id: int) -> str:
        print(f"reserve stock for order {order_id}")
        return f"reservation-{order_id}"

    def revert(self, result: Any, **_: Any) -> None:
        print(f"release {result}")


class Charge(pf.Task):
    def execute(self, order_id: int, fail_payment: bool = False) -> str:
        if fail_payment:
            raise RuntimeError(f"card declined for order {order_id}")
        print(f"charge the card for order {order_id}")
        return f"charge-{order_id}"

    def revert(self, result: Any, **_: Any) -> None:
        if isinstance(result, pf.Failure):
            print(f"nothing to refund ({result})")
        else:
            print(f"refund {result}")


class Ship(pf.Task):
    def execute(self, reservation: str, attempt: int) -> str:
        print(f"book the courier for {reservation} (attempt {attempt})")
        if COURIER_REFUSALS["left"] > 0:
            COURIER_REFUSALS["left"] -= 1
            raise ConnectionError("courier busy")
        return f"parcel-for-{reservation}"

    def revert(self, result: Any, **_: Any) -> None:
        print("cancel the courier booking")


def make_flow() -> pf.Flow:
    """Return the order saga: reserve, charge, then ship under a retry."""
    COURIER_REFUSALS["left"] = 1
    shipping = pf.LinearFlow(
        "shipping", retry=pf.Times(3, name="retry_shipping", provides="attempt")
    )
    shipping.add(Ship(name="ship", provides="parcel"))
    return pf.LinearFlow("order").add(
        Reserve(name="reserve", provides="reservation"),
        Charge(name="charge", provides="charge"),
        shipping,
    )


def main() -> None:
    engine = pf.Engine(make_flow(), store={"order_id": 7})
    results = engine.run()
    print(f"flow state: {engine.state}")
    print(f"parcel: {results['parcel']}")
    print("history:")
    for step in engine.history():
        who = step.atom or "flow"
        print(f"  {who}: {step.old_state} --{step.event}--> {step.new_state}")

    declined = pf.Engine(make_flow(), store={"order_id": 8, "fail_payment": True})
    try:
        declined.run()
    except RuntimeError as exc:
        print(f"second order failed: {exc}")
    print(f"second flow state: {declined.state}")


if __name__ == "__main__":
    main()
