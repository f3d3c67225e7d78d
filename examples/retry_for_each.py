"""A retry that tries each phone number from the store until one works.

The provenflow counterpart of TaskFlow's `retry_flow.py`. A `ParameterizedForEach` retry
guards the flow: it runs first and provides the first value not tried yet (here as
`jim_number`), taken from the symbol `values`, rebound to the store's `phone_directory`. When
`call_jim` fails, the retry decides RETRY while values are left: the subflow is reverted (each
task's `revert` runs), and the retry provides the next number. Had every number failed, the
retry would give up, the flow would be reverted and the last failure raised.
"""

from __future__ import annotations

from typing import Any

import provenflow as pf


class WrongNumber(Exception):
    """Someone other than Jim answered."""


class CallJim(pf.Task):
    def execute(self, jim_number: int) -> str:
        print(f"Calling jim {jim_number}.")
        if jim_number != 555:
            raise WrongNumber(f"{jim_number} is not jim's number")
        print("Hello Jim!")
        return f"talked to jim at {jim_number}"

    def revert(self, jim_number: int, **_: Any) -> None:
        print(f"Wrong number ({jim_number}), apologizing.")


def build() -> pf.LinearFlow:
    retry = pf.ParameterizedForEach(
        name="phone_book", rebind={"values": "phone_directory"}, provides="jim_number"
    )
    return pf.LinearFlow("retrying-linear", retry=retry).add(
        CallJim(name="call_jim", provides="call")
    )


def main() -> None:
    engine = pf.Engine(build(), store={"phone_directory": [333, 444, 555, 666]})
    results = engine.run()
    print(f"flow state: {engine.state}")
    print(f"result: {results['call']}; jim_number = {results['jim_number']}")
    # Every attempt is on record, with its number and, when it failed, its failure.
    print("attempts of call_jim:")
    for transition in engine.history():
        if transition.atom == "call_jim" and transition.event in ("succeed", "fail"):
            failure = "" if transition.failure is None else f" ({transition.failure})"
            print(f"  attempt {transition.attempt}: {transition.event}{failure}")

    print("--- a directory without jim's number ---")
    engine = pf.Engine(build(), store={"phone_directory": [111, 222]})
    try:
        engine.run()
    except WrongNumber as exc:
        # The retry gave up: the flow was reverted and the last failure raised.
        print(f"gave up: {exc}")
    print(f"flow state: {engine.state}")


if __name__ == "__main__":
    main()
