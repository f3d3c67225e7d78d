"""A linear flow: values from the store, one task's output consumed by the next, and `rebind`.

The provenflow counterpart of TaskFlow's `simple_linear.py`, `simple_linear_pass.py` and
`calculate_linear.py`. It shows:

- a `LinearFlow`, whose members run one after the other, in the order they were added;
- a `store`: values given to the run for the symbols no task provides;
- `provides`: the name (or, with a tuple, the names) a task's result is published under;
- requirements taken from `execute`'s parameters, so a task receives what an earlier task
  provided just by naming it;
- `rebind`: one task class reused with its parameters bound to other symbols.
"""

from __future__ import annotations

import provenflow as pf


class Provider(pf.Task):
    """Provides fixed numbers: with a tuple `provides`, each value gets its own name."""

    def __init__(self, name: str, *numbers: int, provides: tuple[str, ...]) -> None:
        self.numbers = numbers
        super().__init__(name, provides=provides)

    def execute(self) -> tuple[int, ...]:
        return self.numbers


class Adder(pf.Task):
    """Adds `x` and `y`. Which symbols those are is decided per instance with `rebind`."""

    def execute(self, x: int, y: int) -> int:
        print(f"{self.name}: {x} + {y} = {x + y}")
        return x + y


class Multiplier(pf.Task):
    """Multiplies `z` by a factor fixed when the task is built (constructor state, not a symbol)."""

    def __init__(self, name: str, factor: int, *, provides: str, rebind: list[str]) -> None:
        self.factor = factor
        super().__init__(name, provides=provides, rebind=rebind)

    def execute(self, z: int) -> int:
        print(f"{self.name}: {z} * {self.factor} = {z * self.factor}")
        return z * self.factor


@pf.task
def call_jim(jim_number: str) -> None:
    """A function task: `jim_number` is a parameter, so it comes from the store."""
    print(f"Calling jim {jim_number}.")


@pf.task(provides="message")
def summarize(total: int, scaled: int) -> str:
    """Consumes what the adders and the multiplier provided."""
    return f"total={total} scaled={scaled}"


@pf.task
def report(message: str) -> None:
    """Consumes the string `summarize` provided."""
    print(f"report: {message}")


def build() -> pf.LinearFlow:
    """Return the flow; nothing runs yet, and `Engine` checks every symbol before it does."""
    return pf.LinearFlow("calculate").add(
        call_jim,
        Provider("provide", 2, 3, provides=("two", "three")),
        # A mapping rebind: parameter -> symbol.
        Adder(name="add_two_three", provides="five", rebind={"x": "two", "y": "three"}),
        # A list rebind: symbols for execute's parameters, in order; "seven" is in the store.
        Adder(name="add_five_seven", provides="total", rebind=["five", "seven"]),
        Multiplier("triple", 3, provides="scaled", rebind=["total"]),
        summarize,
        report,
    )


def main() -> None:
    store = {"jim_number": "555-1234", "seven": 7}
    results = pf.run(build(), store=store)
    # `run` returns every symbol provided by the flow's tasks (the store is not repeated).
    for name in sorted(results):
        print(f"{name} = {results[name]!r}")


if __name__ == "__main__":
    main()
