"""The rules a lying record breaks: what is on record must be what happened.

The engine rebuilds a run from its record after a crash, so a record that says something that
did not happen (a success nobody returned, a value nobody provided, a revert of an attempt that
never started) is a bug even where the run it leads to looks finished. These rules keep their
own reading of the durable record, transition by transition, independent of the engine's
resume code (`records_from`, `load_records`): that code is what they check. Values are
compared in the form a durable store gives them back (`stored`: a JSON round trip, so a tuple
is a list), so a value that only survives in memory is caught too.

Each rule has a short stable name, which a violation carries (`Violation.rule`):

- `record-chain`: every recorded transition starts where the entity's last recorded one
  ended, along an edge of its lifecycle table (nothing dropped, reordered or invented);
- `attempts`: each RUNNING record of an atom carries a new attempt, greater than every earlier
  one; every other record of it carries the attempt of its latest RUNNING record; an `execute`
  runs as that attempt;
- `result-from-execute`: a SUCCESS is recorded only for an attempt whose `execute` returned,
  with the result it returned;
- `revert-after-execute`: a `revert` runs only for an attempt recorded RUNNING (whose
  `execute` ran, or may have run before a crash);
- `failure-from-execute`: FAILURE is recorded for an execute only with the failure it raised,
  or with the engine's refusal of what it returned (`BadResult`, `UnstorableValue`);
- `reverted-after-revert`: REVERTED is recorded only for an attempt whose `revert` returned,
  REVERT_FAILURE only with the failure it raised;
- `record-values`: every value handed to an `execute` or a `revert` (its arguments, a retry's
  history, the `result` a revert is given) is the one the record holds, and an atom is not
  failed for a missing value the record holds;
- `record-matches-run`: when the run ends, the record says what the run's states say.
"""

from __future__ import annotations

import math
import reprlib
import weakref
from typing import TYPE_CHECKING, Any

from provenflow.engine import Work
from provenflow.failure import Failure
from provenflow.fsm import LIFECYCLES
from provenflow.persistence import Transition
from provenflow.verification._signals import Broken

if TYPE_CHECKING:
    from provenflow.verification._simulation import Simulation

__all__ = ["RecordRules", "stored"]

_MISSING = "provenflow.errors.MissingValue"
_REFUSALS = frozenset({"provenflow.errors.BadResult", "provenflow.errors.UnstorableValue"})
"""Failures the engine records for an execute that returned what it cannot take."""
_SUCCESS, _FAILURE, _REVERTED = (
    "result-from-execute",
    "failure-from-execute",
    "reverted-after-revert",
)
_AS_IS = frozenset({type(None), str, int, bool})
_NO_OUTCOME = frozenset({"PENDING", "RUNNING", "REVERTED", "REVERT_FAILURE"})
"""States after which the record holds no outcome of the atom's current attempt (a retry's
earlier result is not its new attempt's)."""
_NOT_PROVIDING = frozenset({"REVERTED", "REVERT_FAILURE"})
"""States after which an atom's last success no longer provides anything."""
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_short = _REPR.repr


def stored(value: Any) -> Any:
    """Return `value` as a durable store gives it back: each JSON type and tuple as it is,
    a subclass of one as its base type (a named tuple as a tuple, a `StrEnum` as its str), a
    `Failure` as its dict. A value a store cannot hold is returned as it is (the memory store
    keeps it; the durable ones refuse it, which is not this module's rule).

    Written here, not taken from the stores' codec: the rules check the stores too, so they
    must not share their code.
    """
    if type(value) in _AS_IS:
        return value
    if isinstance(value, Failure):
        value = value.to_dict()
    try:
        return _plain(value)
    except (TypeError, ValueError, RecursionError):
        return value


def _plain(value: Any) -> Any:  # noqa: PLR0911 (one return per kind of value)
    if value is None or type(value) is bool:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not JSON")
        return float.__float__(value)
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {str.__str__(key): _plain(item) for key, item in value.items()}
    raise TypeError("not JSON")


def _misreported(
    transition: Transition, result: Any, failure: Failure | None
) -> tuple[str, str] | None:
    """What is wrong with `transition`, made when the core was handed `result` or `failure`
    as a side effect's outcome: (the rest of the message, the rule), or None."""
    event = transition.event
    if event == "succeed":
        recorded = stored(transition.result)
        if failure is not None:
            return f" with result {_short(recorded)}, but its execute raised {failure}", _SUCCESS
        if recorded != stored(result):
            returned = _short(stored(result))
            return f" with result {_short(recorded)}, but its execute returned {returned}", _SUCCESS
    elif event in ("fail", "revert_failed"):
        return _misreported_failure(transition, failure)
    elif event == "reverted" and failure is not None:
        return f", but its revert raised {failure}", _REVERTED
    return None


def _misreported_failure(transition: Transition, failure: Failure | None) -> tuple[str, str] | None:
    """`_misreported` for a `fail` or `revert_failed` transition."""
    execute = transition.event == "fail"
    rule, side_effect = (_FAILURE, "execute") if execute else (_REVERTED, "revert")
    recorded = transition.failure
    if failure is None:
        if execute and recorded is not None and recorded.type_name in _REFUSALS:
            return None  # the engine refused what execute returned
        return f" ({recorded}), but its {side_effect} returned", rule
    if stored(recorded) != stored(failure):
        return f" with {recorded}, but its {side_effect} raised {failure}", rule
    return None


class RecordRules:
    """The record rules of one simulated path (see the module docstring); each hook raises
    `Broken` naming its rule."""

    def __init__(self, simulation: Simulation) -> None:
        # weak: the simulation owns its invariants (see `Invariants`)
        self.simulation: Simulation = weakref.proxy(simulation)
        self.last: dict[str | None, str] = {}
        """The last recorded state of the flow (key None) and of each atom."""
        self.started: dict[str, int] = {}
        """The attempt of each atom's latest RUNNING record."""
        self.outcome: dict[str, tuple[str, Any]] = {}
        """What the record holds of each atom's attempt: ("result", stored) after SUCCESS,
        ("failure", stored) after FAILURE; nothing before, or once reverted or reset."""
        self.provides: dict[str, Any] = {}
        """The result of each atom's last recorded success, stored, until it is reverted (or
        its revert fails): what it provides to others, a retry's while it runs again too."""
        self.history: dict[str, Any] = {}
        """Each retry's last recorded history, stored."""
        self.returned: dict[tuple[str, int], Any] = {}
        """The result each (atom, attempt) whose execute returned returned, stored."""
        self.undone: set[tuple[str, int]] = set()
        """The (atom, attempt)s whose revert returned, or with nothing to undo: an execute
        that never ran because a value it needed was missing (recorded FAILURE with a
        `MissingValue`), which the engine marks REVERTED without calling its revert."""
        self.ran: set[tuple[str, int]] = set()
        """The (atom, attempt)s whose execute started."""

    def clone(self, simulation: Simulation) -> RecordRules:
        """Return a copy of this bookkeeping for `simulation` (a snapshot of the path)."""
        other = RecordRules(simulation)
        other.last = dict(self.last)
        other.started = dict(self.started)
        other.outcome = dict(self.outcome)
        other.provides = dict(self.provides)
        other.history = dict(self.history)
        other.returned = dict(self.returned)
        other.undone = set(self.undone)
        other.ran = set(self.ran)
        return other

    # -- the record ---------------------------------------------------------------------

    def after_record(self, transition: Transition) -> None:
        """Follow the record: `record-chain`, `attempts`, `result-from-execute`."""
        entity = transition.atom
        previous = self.last.get(entity, "PENDING")
        lifecycle = LIFECYCLES.get(transition.lifecycle)
        row = lifecycle.table.get(transition.old_state) if lifecycle is not None else None
        who = "the flow" if entity is None else repr(entity)
        if transition.old_state != previous or row is None:
            raise Broken(
                f"{who} is recorded {transition.old_state} --{transition.event}--> "
                f"{transition.new_state}, but its last record left it {previous}",
                "record-chain",
            )
        if row.get(transition.event) != transition.new_state:
            raise Broken(
                f"{who} is recorded {transition.old_state} --{transition.event}--> "
                f"{transition.new_state}, which is not an edge of the {transition.lifecycle} "
                "lifecycle",
                "record-chain",
            )
        self.last[entity] = transition.new_state
        if entity is not None:
            self._attempt(entity, transition)
            self._remember(entity, transition)

    def _attempt(self, atom: str, transition: Transition) -> None:
        latest = self.started.get(atom, 0)
        if transition.new_state == "RUNNING":
            if transition.attempt <= latest:
                raise Broken(
                    f"{atom!r} is recorded RUNNING ({transition.event}) as attempt "
                    f"{transition.attempt}, but attempt {latest} was recorded before "
                    "(each execution needs a new attempt)",
                    "attempts",
                )
            self.started[atom] = transition.attempt
        elif transition.attempt != latest:
            raise Broken(
                f"{atom!r} is recorded {transition.new_state} ({transition.event}) for attempt "
                f"{transition.attempt}, but its latest recorded execution is attempt {latest}",
                "attempts",
            )

    def _remember(self, atom: str, transition: Transition) -> None:
        new = transition.new_state
        if new == "SUCCESS":
            result = stored(transition.result)
            self._returned(atom, transition.attempt, result)
            self.outcome[atom] = ("result", result)
            self.provides[atom] = result
        elif new == "FAILURE":
            self._missing_value(atom, transition.failure)
            failure = transition.failure
            never_ran = (atom, transition.attempt) not in self.ran
            if never_ran and failure is not None and failure.type_name == _MISSING:
                self.undone.add((atom, transition.attempt))  # nothing was done to undo
            self.outcome[atom] = ("failure", stored(transition.failure))
        elif new == "REVERTED" and (atom, transition.attempt) not in self.undone:
            raise Broken(
                f"{atom!r} is recorded REVERTED (attempt {transition.attempt}), but no revert of "
                "that attempt returned",
                "reverted-after-revert",
            )
        elif new in _NO_OUTCOME:
            self.outcome.pop(atom, None)
            if new in _NOT_PROVIDING:
                self.provides.pop(atom, None)
        if transition.history is not None:
            self.history[atom] = stored(list(transition.history))

    def _returned(self, atom: str, attempt: int, result: Any) -> None:
        """`result-from-execute`: the execute of this attempt returned `result`."""
        key = (atom, attempt)
        if key not in self.returned:
            raise Broken(
                f"{atom!r} is recorded SUCCESS as attempt {attempt}, but no execute of that "
                "attempt returned",
                "result-from-execute",
            )
        returned = self.returned[key]
        if returned != result:
            raise Broken(
                f"{atom!r} is recorded SUCCESS (attempt {attempt}) with result {_short(result)}, "
                f"but its execute returned {_short(returned)}",
                "result-from-execute",
            )

    # -- side effects -------------------------------------------------------------------

    def before_side_effect(self, work: Work) -> None:
        """`attempts` / `revert-after-execute`, then `record-values`."""
        atom = work.node
        latest = self.started.get(atom, 0)
        if work.action == "execute":
            self.ran.add((atom, work.attempt))
        if work.action == "execute" and work.attempt != latest:
            raise Broken(
                f"execute of {atom!r} runs as attempt {work.attempt}, but its latest RUNNING "
                f"record is attempt {latest}",
                "attempts",
            )
        if work.action == "revert":
            if latest == 0 or work.attempt != latest:
                on_record = f"attempt {latest}" if latest else "none"
                raise Broken(
                    f"revert of {atom!r} runs for attempt {work.attempt}, but no execute of that "
                    f"attempt is on record (latest RUNNING record: {on_record})",
                    "revert-after-execute",
                )
            self._revert_result(work)
        self._arguments(work)

    def after_side_effect(self, work: Work, failure: Failure | None, result: Any) -> None:
        """Remember what an execute that returned returned (for `result-from-execute`)."""
        if failure is not None:
            return
        if work.action == "execute":
            self.returned[(work.node, work.attempt)] = stored(result)
        else:
            self.undone.add((work.node, work.attempt))

    def after_finish(self, work: Work, result: Any, failure: Failure | None) -> None:
        """The core was handed `work`'s outcome (`result`, or `failure`, injected or raised):
        the transitions it made for that atom say so (`result-from-execute`,
        `failure-from-execute`, `reverted-after-revert`).

        Checked before anything is written, so no merge of states can hide a lie in the
        values: the state key holds the batch to write by atom and event, not by value.
        """
        for transition in self.simulation.core.unrecorded:
            if transition.atom != work.node:
                continue
            problem = _misreported(transition, result, failure)
            if problem is not None:
                told, rule = problem
                raise Broken(f"{work.node!r} is to be recorded {transition.new_state}{told}", rule)

    def _missing_value(self, atom: str, failure: Failure | None) -> None:
        """`record-values`: an atom failed for a missing value although the record holds
        every value its execute needs."""
        if failure is None or failure.type_name != _MISSING:
            return
        node = self.simulation.compiled.nodes[atom]
        optional = node.atom.optional if node.atom is not None else frozenset()
        for binding in node.bindings.values():
            if binding.kind != "atom" or binding.provider is None:
                continue
            if (
                binding.symbol not in optional
                and not self._provided(binding.provider, binding.symbol)[0]
            ):
                return
        raise Broken(
            f"{atom!r} is failed for a missing value ({failure.message}), but the record holds "
            "every value it needs",
            "record-values",
        )

    def _revert_result(self, work: Work) -> None:
        """`record-values`: a revert is given the outcome on record (a failure when the
        record holds none: the process stopped while the atom ran)."""
        outcome = self.outcome.get(work.node)
        handed = work.result
        is_failure = isinstance(handed, Failure)
        if outcome is None:
            if not is_failure:
                raise Broken(
                    f"revert of {work.node!r} is handed result {_short(handed)}, but the record "
                    "holds no outcome of its attempt (it was interrupted)",
                    "record-values",
                )
            return
        kind, value = outcome
        if (kind == "failure") != is_failure or stored(handed) != value:
            raise Broken(
                f"revert of {work.node!r} is handed result {_short(handed)}, but the record "
                f"holds {kind} {_short(value)}",
                "record-values",
            )

    def _arguments(self, work: Work) -> None:
        """`record-values`: each argument is the value its binding gives from the record."""
        simulation = self.simulation
        node = simulation.compiled.nodes[work.node]
        args = work.args
        store = simulation.store
        for arg, binding in node.bindings.items():
            if binding.kind == "inject":
                held: tuple[bool, Any] = (True, binding.value)
            elif binding.kind == "store":
                held = (binding.symbol in store, store.get(binding.symbol))
            elif binding.kind == "atom" and binding.provider is not None:
                held = self._provided(binding.provider, binding.symbol)
            else:
                continue
            self._compare(work, arg, (arg in args, args.get(arg)), held)
        if node.kind == "retry" and "history" in args:
            given = stored(args["history"].to_list())
            recorded = self.history.get(work.node, [])
            if given != recorded:
                raise Broken(
                    f"{work.action} of retry {work.node!r} is handed a history of {len(given)} "
                    f"attempts ({_short(given)}), but the record holds {_short(recorded)}",
                    "record-values",
                )

    def _provided(self, provider: str, symbol: str) -> tuple[bool, Any]:
        """Whether the record holds `symbol` from `provider`, and its value."""
        atom = self.simulation.compiled.nodes[provider].atom
        if provider not in self.provides or atom is None:
            return False, None
        try:
            provided = atom.provided(self.provides[provider])
        except Exception:  # the atom's own unpacking failed: its execute failed too
            return False, None
        return (symbol in provided), provided.get(symbol)

    @staticmethod
    def _compare(
        work: Work, arg: str, handed: tuple[bool, Any], on_record: tuple[bool, Any]
    ) -> None:
        """Raise `record-values` unless `handed` (whether `arg` is given, and its value) is
        what the record holds (`on_record`, alike)."""
        (given, value), (held, recorded) = handed, on_record
        what = f"{work.action} of {work.node!r}"
        if held and not given:
            raise Broken(
                f"{what} is handed no {arg!r}, but the record holds {_short(recorded)} for it",
                "record-values",
            )
        if given and not held:
            raise Broken(
                f"{what} is handed {arg}={_short(value)}, a value the record does not hold",
                "record-values",
            )
        if given and stored(value) != stored(recorded):
            raise Broken(
                f"{what} is handed {arg}={_short(value)}, but the record holds {_short(recorded)}",
                "record-values",
            )

    # -- the end ------------------------------------------------------------------------

    def at_end(self) -> None:
        """`record-matches-run`: the record's last states are the run's."""
        core = self.simulation.core
        flow = self.last.get(None, "PENDING")
        if flow != core.flow.state:
            raise Broken(
                f"the run ended {core.flow.state}, but the record says the flow is {flow}",
                "record-matches-run",
            )
        for name, holder in core.states.items():
            recorded = self.last.get(name, "PENDING")
            if recorded != holder.state:
                raise Broken(
                    f"the run ended with {name!r} {holder.state}, but the record says {recorded}",
                    "record-matches-run",
                )
