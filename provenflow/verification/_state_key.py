"""The keys a search hashes: of a path's state, of a run's core, of work, of the world.

The model checker merges two states whose keys are equal: it explores the future of one and
takes it for the other's. So a key holds everything that can change what happens next, and
nothing is left to a `repr` that may hide it:

- the core (`core_key`): every atom's state, attempts, outcome (result or failure) and the
  values it provides (by value: what the atoms after it will receive), its failure and failed
  revert (what a `revert` is given), every retry's history (what it decides from and hands its
  subflow), failures of deciders and retry controllers, the decisions deciders made, what is
  ready, the revert phases and their queue, the transitions not yet handed over, and the run's
  store. Arguments are a function of these (an atom's `inject`, the values its providers
  provide, the store, its retry's history): equal cores give every atom the same arguments,
  for `execute` and for `revert`. (How many predecessors each atom still waits for follows
  from the states while the run goes forward, and is recounted before it goes forward again
  after a revert phase, so it is left out: it would only tell apart states that go on alike.);
- the work taken and not finished (`work_key`), each with what it will hand the user's code,
  resolved when it was taken: an execute's arguments; of a revert's arguments, result and the
  flow's failures, those that revert accepts (`Atom.revert_inputs`);
- the durable record, as far as a resume reads it (`_record_part.RecordPart`): what a crash
  would leave;
- the user's world (`world_part`): its full value (plain data by its repr; anything else by
  `_world.world_key`: a canonical description of its attributes, or its `snapshot()`). A world
  that cannot be captured by value gets a key equal to nothing else (`Uncaptured`): states are
  not merged on it, and the search's `KeyBook` notes it for the report;
- where the path is (`loop_key`): the stage, the engine loop's queued steps and next event,
  the work it took, the completions it has not analysed, the work in flight and the one picked
  to complete; and the crashes and suspensions so far.

Values are keyed by `_value_key.value_key`. The large parts (the core's, the record's, the
loop's, the world's) are numbered in the search's `KeyBook`: many states share each, a key
holds their numbers, and each is stored once; the pieces of the core's part are kept once too
(`KeyBook.intern`), so a part costs little more than its tuple. Every part is in the flow's
order (the same for every path) or a set, so two paths that reach the same state in another
order get the same key.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from provenflow.engine import Core, Work
from provenflow.flows import History
from provenflow.fsm import EntityState
from provenflow.persistence import Transition
from provenflow.verification._fingerprint import fingerprint
from provenflow.verification._record_part import RecordPart
from provenflow.verification._value_key import (
    MISSING,
    OWN_KEY,
    Uncaptured,
    history_key,
    plain_key,
    value_key,
)
from provenflow.verification._world import world_key

if TYPE_CHECKING:
    from provenflow.verification._simulation import Simulation

__all__ = [
    "MISSING",
    "KeyBook",
    "core_key",
    "loop_key",
    "record_key",
    "state_key",
    "value_key",
    "work_key",
    "world_part",
]


class KeyBook(dict[Hashable, int]):
    """The parts of one search's keys, each with its number; and what could not be keyed.

    Keys compare only under one numbering, so a search gives all its paths the same book.
    `uncaptured` lists, once each, what was keyed by an `Uncaptured` marker (the report says
    states were not merged on it). With `fingerprints` (a search's default), a part's number is
    its 64-bit fingerprint (`_fingerprint`) and the book stores nothing: equal parts get equal
    numbers without being kept.
    """

    def __init__(self, *, fingerprints: bool = False) -> None:
        super().__init__()
        self.uncaptured: dict[str, None] = {}
        self.fingerprints = fingerprints
        self.parts: dict[Hashable, Hashable] = {}
        """Pieces of parts (an atoms' states, attempts, outcomes), each kept once: many parts
        share each, and hold the one copy (`intern`)."""

    def intern(self, piece: Hashable) -> Hashable:
        """Return the copy of `piece` kept in this book (`piece` itself when it is new)."""
        return self.parts.setdefault(piece, piece)

    def number(self, part: Hashable) -> int:
        """Return the number of `part`: its fingerprint, or (without `fingerprints`) the next
        number when it is new."""
        if self.fingerprints:
            return fingerprint(part)
        return self.setdefault(part, len(self))


def state_key(simulation: Simulation, *, counters: bool = True) -> Hashable:
    """The hashable state of `simulation` (see the module docstring).

    `counters=False`: the same apart from what only grows as a run repeats itself, the atoms'
    attempt numbers and the retries' histories (which `_lasso` compares on its own), wherever
    they are held (the core, the record, the work, the batch to write); its large parts are
    not numbered. An attempt number held by the record, the work or the batch is kept as its
    difference from the atom's current one (so the work of an earlier attempt, a late result
    to be ignored, stays apart from the current attempt's).
    """
    core, book = simulation.core, simulation.shared
    names = simulation.names
    atoms: Hashable
    recorded: Hashable
    where: Hashable
    if counters:
        fingerprinted = isinstance(book, KeyBook) and book.fingerprints
        intern = book.intern if isinstance(book, KeyBook) and not fingerprinted else None
        atoms = _number(book, core_key(core, names, intern=intern))
        recorded = _number(book, _recorded(simulation).key(names))
        where = _number(book, loop_key(simulation))
    else:  # attempts only relative to the atom's current one: stale work is not current work
        part, now = _recorded(simulation), core.attempts
        atoms = core_key(core, names, counters=False)
        recorded = (
            part.key(names, counters=False),
            tuple(None if (a := part.atoms.get(n)) is None else a[2] - now[n] for n in names),
        )
        where = loop_key(simulation, counters=False)
    return (
        where,
        core.flow.state,
        atoms,
        recorded,
        simulation.crashes,
        simulation.suspends,
        world_part(simulation.context, book),
    )


def _number(book: Mapping[Hashable, int], part: Hashable) -> int:
    """The number of `part` in `book`: a `KeyBook`'s, or the next of a plain dict's."""
    if isinstance(book, KeyBook):
        return book.number(part)
    return book.setdefault(part, len(book))  # type: ignore[attr-defined, no-any-return]


def loop_key(simulation: Simulation, *, counters: bool = True) -> Hashable:
    """Where the path is in the engine loop, and what the loop and the executor hold: the
    stage, the steps queued and the event the loop goes by next, the work taken and not yet
    submitted, the completions not yet analysed (with the result or failure each carries), the
    work in flight (a set: every order of completion is tried), the work picked to complete,
    the work whose outcome the next write must record, and the calls that timed out and are
    still going on."""
    loop, executor, picked = simulation.loop, simulation.executor, simulation.picked
    finished = simulation.finished_work
    now = loop.core.attempts

    def keyed(work: Work) -> Hashable:
        if counters:
            return work_key(work)
        return (work_key(work, counters=False), work.attempt - now[work.node])

    return (
        simulation.stage,
        tuple(loop.steps),
        loop.event,
        tuple(map(keyed, loop.works)) if loop.works else None,
        tuple((keyed(c.work), value_key(c.result), c.failure) for c in loop.completions)
        if loop.completions
        else None,
        frozenset(map(keyed, executor.in_flight)) if executor.in_flight else None,
        None if picked is None else keyed(picked),
        None if finished is None else (finished.action, finished.node),
        tuple(map(keyed, simulation.late)) if simulation.late else None,
        None
        if counters
        else tuple(t.attempt - now[t.atom] for t in loop.core.unrecorded if t.atom is not None),
    )


def core_key(
    core: Core,
    names: Sequence[str],
    *,
    counters: bool = True,
    intern: Callable[[Hashable], Hashable] | None = None,
) -> Hashable:
    """Everything of `core` that can change what it does next (see the module docstring);
    `names` are its atoms in the flow's order (`tuple(core.states)`). Without `counters`,
    attempt numbers and retry histories are left out (see `state_key`). `intern` (a
    `KeyBook.intern`) keeps one copy of the pieces many keys share."""
    histories, unrecorded = core.histories if counters else None, core.unrecorded
    parts: tuple[Hashable, ...] = (
        EntityState.states_of(core.states.values()),
        tuple(core.attempts.values()) if counters else None,
        _values_key(core.outcomes, names),
        _provided_key(core.provided, core.outcomes, names) if core.provided else None,
        frozenset(core.failures.items()) if core.failures else None,
        frozenset(core.revert_failures.items()) if core.revert_failures else None,
        tuple(map(history_key, histories.values())) if histories else None,
        frozenset(core.decision_failures.items()) if core.decision_failures else None,
        _decided_key(core) if core.decided else None,
        core.done,
        frozenset(map(_NAME, core.ready)) if core.ready else None,
        core.phases.summary(),
        tuple(record_key(t, counters=counters) for t in unrecorded) if unrecorded else None,
        _items_key(core.store) if core.store else None,
    )
    return parts if intern is None else tuple(map(intern, parts))


def work_key(work: Work, *, counters: bool = True) -> Hashable:
    """A piece of work by value: what it does, to which atom, in which attempt, and what the
    user's code will be handed: an execute's arguments; for a revert, of its arguments, result
    and the flow's failures, what that revert accepts (`Atom.revert_inputs`: the default revert
    is handed nothing). Without `counters`, the attempt and a retry's history are left out."""
    if work.action == "revert":
        args = work.atom.revert_inputs(work.args, work.result, work.flow_failures)
    else:
        args = work.args
    if not counters:
        args = {name: value for name, value in args.items() if not isinstance(value, History)}
    return (work.action, work.node, work.attempt if counters else None, _arguments_key(args))


def _arguments_key(args: Mapping[str, Any]) -> Hashable:
    """What a piece of work hands the user's code, by name (the flow's failures as a set)."""
    if not args:
        return None
    return tuple(
        (name, frozenset(value.items()) if name == "flow_failures" else value_key(value))
        for name, value in args.items()
    )


def world_part(context: object, book: Mapping[Hashable, int]) -> Hashable:
    """The world's part of a key: the number of its full value in `book` (a `KeyBook`; a plain
    mapping is left as it is, and the value itself is the part), None without a world, or an
    `Uncaptured` marker (equal only to itself) when it cannot be captured by value."""
    if context is None:
        return None
    plain = plain_key(context)  # a world of plain data: its repr, at C speed
    key, complete = (plain, True) if plain is not None else world_key(context)
    if not complete:
        what = f"the world (a {type(context).__qualname__}) cannot be captured by value"
        if isinstance(book, KeyBook):
            book.uncaptured[what] = None
        return Uncaptured(what)
    part = ("world", key)
    return book.number(part) if isinstance(book, KeyBook) else part


def record_key(t: Transition, *, counters: bool = True) -> tuple[Any, ...]:
    """A recorded transition by value (its time left out: the clock is 0); without
    `counters`, its attempt and history left out too."""
    return (
        t.atom,
        t.event,
        t.new_state,
        t.attempt if counters else None,
        value_key(t.result),
        t.failure,
        None if t.history is None or not counters else value_key(t.history),
    )


# -- parts ---------------------------------------------------------------------------------


def _values_key(values: Mapping[str, Any], names: Sequence[str]) -> tuple[Hashable, ...] | None:
    """The values of the atoms `names` (in that order; `MISSING` where there is none): as they
    are when each is its own key (None, a str, a `Failure`: the common case, told at C speed),
    else each through `value_key`."""
    if not values:
        return None
    found = tuple(map(values.get, names, repeat(MISSING)))
    if OWN_KEY.issuperset(map(type, found)):
        return found
    return tuple(map(value_key, found))


def _provided_key(
    provided: Mapping[str, Mapping[str, Any]], outcomes: Mapping[str, Any], names: Sequence[str]
) -> tuple[Hashable, ...]:
    """What the atoms `names` provide: whether each has provided (an atom that provides nothing
    has provided an empty mapping once it succeeded: deciders look at that), then, by name,
    the symbols of those that provide something, each with its value, or True for the one
    symbol whose value is the atom's outcome itself (the common case, told without keying
    the value twice)."""
    present = tuple(map(provided.__contains__, names))
    given: list[Hashable] = []
    for name, values in provided.items():
        if not values:
            continue
        if len(values) == 1:
            ((symbol, value),) = values.items()
            if value is outcomes.get(name, MISSING):
                given.append((name, symbol, True))
                continue
        given.append((name, _items_key(values)))
    return (present, frozenset(given)) if given else (present,)


def _items_key(values: Mapping[str, Any]) -> tuple[Hashable, ...]:
    """A mapping by name -> value, in its order."""
    return tuple(zip(values, map(value_key, values.values()), strict=True))


def _decided_key(core: Core) -> tuple[Hashable, ...]:
    """The verdicts deciders gave, by their place among the flow's deciders (their ids are
    not the same on two paths: a replayed path builds a new flow)."""
    deciders = dict.fromkeys(
        id(decider) for node in core.nodes.values() for decider in node.deciders
    )
    return tuple(map(core.decided.get, deciders))


def _recorded(simulation: Simulation) -> RecordPart:
    """The `RecordPart` of `simulation`'s record, folded on from the one kept last time.

    WARNING: kept in the simulation's `__dict__` (which its clones copy) until the simulation
    keeps it itself; records only grow, so the part of a shorter prefix is folded on.
    """
    kept: RecordPart = simulation.__dict__.get("_record_part") or RecordPart()
    records = simulation.records
    if kept.count != len(records):
        kept = kept.after(records[kept.count :])
        simulation.__dict__["_record_part"] = kept
    return kept


_NAME = itemgetter(2)
"""The name in a ready entry (-priority, index, name)."""
