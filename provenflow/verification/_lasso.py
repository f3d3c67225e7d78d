"""Runs that can go on forever: a path that comes back to a state it was in, found and described.

Theory of operation. A run's state (`_state_key`) is finite but for two things that only grow
as a run repeats itself: the atoms' attempt numbers and the retries' histories (each round of a
retry adds an attempt to its history). Crashes and suspensions are counted in the state, so a
run can only repeat itself through a retry that retries. Nothing else can make a path endless.

So a search follows each path's states (`Lineage`: one node per state where the path had a
choice, linked to the one before it on the same path) by their key *apart from* attempt
numbers and histories (`state_key(..., counters=False)`). When a path reaches a state whose
key equals that of an earlier state on the same path, and each retry's history then is the
earlier one with more attempts (`extends`), everything that decides the run's course came
back: the atoms' states, results and failures, the records, the work in flight, the crashes
and suspensions, the user's world. Only the histories of the retries that retried in between
are longer (and attempt numbers, which name attempts but decide nothing). The
steps in between are the loop; taking them again leads back to the same state again, and so
forever, as long as each such retry decides as it did (its `on_failure` sees a longer history,
and may count). That is the claim a `Loop` makes, and all it makes: it does not prove that a
controller which counts its attempts (and provides the same value each time) never gives up.
`probe_controllers` checks the cheap part of that: it asks each retry of the loop (its
`on_failure` is pure by contract) to decide on its loop-end history with the loop's rounds
repeated up to `PROBE_ROUNDS` more times; a controller that gives up within them is no loop.

The probe asks exactly what the controller will be asked if the loop repeats, so a loop it
rejects is one the run leaves; another state the path repeats may still make a loop (all are
tried, the shortest first, but for a rejected loop taken several times over). Every endless
path is found this way, given time: its keys apart from the counters are finitely many, so it
meets one twice. A path that merges into another (the same full state) goes on as that one;
a loop is then found on that one, a round later.

`eventually(context)` must hold on every run, the endless ones too. An endless run has no end
to check it at, so it is checked in its loop, which is the part that repeats forever (at the
start a run's world is often trivially consistent): a loop where it holds at none of the
states where the run had a choice is reported as such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provenflow.flows import Decision, History, Retry
from provenflow.verification._report import Loop
from provenflow.verification._state_key import state_key

if TYPE_CHECKING:
    from provenflow.verification._simulation import Simulation

__all__ = [
    "PROBE_ROUNDS",
    "Lineage",
    "Looped",
    "extends",
    "follow",
    "grown",
    "looped",
    "probe_controllers",
    "repeats",
]

PROBE_ROUNDS = 1024
"""How many more attempts of a loop `probe_controllers` asks a retry to decide on, at most."""


@dataclass(frozen=True, slots=True)
class Lineage:
    """One state of a path where it had a choice, linked to the one before it on that path."""

    parent: Lineage | None
    key: int
    """The number of the state's key apart from attempt numbers and histories (`follow`)."""
    histories: tuple[History, ...]
    """Each retry's history, in the flow's order."""
    choices: int
    """How many choices the path had taken to get here (`path[:choices]` leads here)."""
    held: bool
    """Whether the user's `eventually(context)` held here (False without one)."""

    def back_to(self, stop: Lineage) -> Iterator[Lineage]:
        """This node and those before it, down to `stop` (not included)."""
        node: Lineage | None = self
        while node is not None and node is not stop:
            yield node
            node = node.parent


class Looped(Exception):  # a signal, like `Finished` and `Merged`
    """A path came back to the state `start` (apart from counters): it can run forever."""

    def __init__(
        self, message: str, start: Lineage, retries: tuple[tuple[str, int, int], ...]
    ) -> None:
        super().__init__(message)
        self.message, self.start, self.retries = message, start, retries

    def loop(self, first: int) -> Loop:
        """The `Loop`, its first step being step number `first` (the stem has `first - 1`)."""
        return Loop(first, self.start.choices, self.retries)


def looped(
    node: Lineage, simulation: Simulation, eventually: Callable[[Any], object] | None
) -> Looped | None:
    """Return `Looped` when `node` (`simulation`'s state) repeats an earlier state of its path
    and each retry that grew in between still decides RETRY when probed
    (`probe_controllers`), else None; of several such states, the latest (the shortest loop).
    Its message is "can run forever", and says so when the user's `eventually` (given) held
    at none of the loop's states (`Lineage.held`)."""
    rejected: list[tuple[tuple[str, int], ...]] = []
    for start in repeats(node):
        retries = grown(simulation, start, node)
        rounds = tuple((name, after - before) for name, before, after in retries)
        if any(_repeated(rounds, shorter) for shorter in rejected):
            continue  # a loop already rejected, taken several times: it gives up too
        if probe_controllers(simulation, retries) is not None:
            rejected.append(rounds)  # a retry gives up if this loop is taken again and again
            continue
        message = "can run forever"
        if eventually is not None and not any(state.held for state in node.back_to(start)):
            message += f"; eventually {_name(eventually)} holds at none of the loop's states"
        return Looped(message, start, retries)
    return None


def _repeated(rounds: tuple[tuple[str, int], ...], shorter: tuple[tuple[str, int], ...]) -> bool:
    """Whether a loop that added `rounds` (retry, attempts) is as many times as long as one
    that added `shorter`, for every retry alike."""
    if [name for name, _ in rounds] != [name for name, _ in shorter]:
        return False
    times = {
        count // fewer if count % fewer == 0 else 0
        for (_, count), (_, fewer) in zip(rounds, shorter, strict=True)
    }
    return len(times) == 1 and 0 not in times


def follow(
    parent: Lineage | None,
    simulation: Simulation,
    choices: int,
    eventually: Callable[[Any], object] | None,
    numbers: dict[Any, int],
) -> Lineage:
    """Return the node of `simulation`'s state (at a choice, `choices` taken), after `parent`.

    `numbers` numbers the keys (one numbering for a whole search): a node holds a number, and
    a key met again is kept once.
    """
    key = state_key(simulation, counters=False)
    return Lineage(
        parent,
        numbers.setdefault(key, len(numbers)),
        tuple(simulation.core.histories.values()),
        choices,
        _holds(eventually, simulation.context),
    )


def repeats(node: Lineage) -> Iterator[Lineage]:
    """The states before `node` on its path that `node` repeats apart from attempt numbers and
    retry histories that grew (`extends`), the latest (the shortest loop) first."""
    key = node.key
    earlier = node.parent
    while earlier is not None:
        if earlier.key == key and all(map(extends, earlier.histories, node.histories)):
            yield earlier
        earlier = earlier.parent


def extends(before: History, after: History) -> bool:
    """Whether `after` is `before` with more: the same attempts (the last of `before` may have
    gained failures since), then perhaps others. A history that was reset and built up
    differently does not extend the one before it."""
    if len(after) < len(before):
        return False
    if not before:
        return True
    last = len(before) - 1
    # as tuples: compared at C speed, and the attempts a history kept are the same objects
    if tuple(after)[:last] != tuple(before)[:last]:
        return False
    then, now = before[last], after[last]
    return bool(then.value == now.value) and all(
        now.failures.get(atom) == failure for atom, failure in then.failures.items()
    )


def grown(simulation: Simulation, start: Lineage, end: Lineage) -> tuple[tuple[str, int, int], ...]:
    """The retries whose histories grew from `start` to `end`: (name, attempts at each)."""
    names = tuple(simulation.core.histories)
    return tuple(
        (name, len(before), len(after))
        for name, before, after in zip(names, start.histories, end.histories, strict=True)
        if len(before) != len(after)
    )


def probe_controllers(
    simulation: Simulation, retries: tuple[tuple[str, int, int], ...]
) -> str | None:
    """Ask each retry that grew in a loop, `(name, attempts at its start, at its end)`, to
    decide as it would when the loop is taken again and again: on its history at the loop's
    end with the rounds the loop completed repeated 1, 2, 4, ... times, up to `PROBE_ROUNDS`
    more attempts (and at each round in between). Return None when it decides RETRY every
    time, else what it did (a retry that counts gives up).

    A retry whose `on_failure` cannot be asked (it raises) is not probed: the loop stands, on
    the assumption the module docstring states.
    """
    core = simulation.core
    for name, before, after in retries:
        controller = core.nodes[name].atom
        if not isinstance(controller, Retry):
            continue
        history = tuple(core.histories[name])
        # the attempt current at the loop's start, and those after it, were completed in the
        # loop (each ended with a RETRY); the last is current again, at the same point
        rounds, done = history[max(before - 1, 0) : after - 1], history[:-1]
        try:
            arguments = core.arguments(name)
            decided = _first_other_decision(controller, arguments, done, rounds)
        except Exception:  # cannot be asked: the loop stands (see above)
            continue
        if decided is not None:
            decision, attempts = decided
            return (
                f"retry {name!r} decides {decision} after {attempts} attempts: it gives up, "
                "so this is not a loop"
            )
    return None


def _first_other_decision(
    controller: Retry, arguments: dict[str, Any], done: tuple[Any, ...], rounds: tuple[Any, ...]
) -> tuple[Decision, int] | None:
    """The first decision but RETRY `controller` makes on `done` followed by `rounds` repeated
    0, 1, 2, 4, ... times (up to `PROBE_ROUNDS` attempts) and a part of them, with the length
    of that history; None when there is none. Raises what `on_failure` raises."""
    repeats = 0
    while repeats * len(rounds) <= PROBE_ROUNDS:
        for more in range(1, len(rounds) + 1):
            longer = History((*done, *rounds * repeats, *rounds[:more]))
            decision = controller.decide(longer, arguments)
            if decision != Decision.RETRY:
                return decision, len(longer)
        repeats = repeats * 2 or 1
    return None


def _name(check: Any) -> str:
    return getattr(check, "__name__", repr(check))


def _holds(eventually: Callable[[Any], object] | None, context: Any) -> bool:
    if eventually is None:
        return False
    try:
        return bool(eventually(context))
    except Exception:  # a check that raises does not hold, as at an end
        return False
