"""The search behind `check`: one breadth-first exploration of a flow's runs (see `_checker`).

`Search` explores `Simulation` paths in order of faults (a 0-1 breadth-first search), keeps
the states it reached as fingerprints, merges paths at states seen, follows paths for loops,
and turns what breaks into `Violation`s. `run` branches from snapshots with the world put back
in place (`with_snapshots`), or replays each path from the start (`by_replay`) where the world
cannot be saved or when asked to; `_checker` says what each means for a user.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from provenflow.engine import factory_spec
from provenflow.errors import IllegalTransition, ProvenflowError, UsageError
from provenflow.verification._fingerprint import collision_bound, fingerprint
from provenflow.verification._lasso import Lineage, Looped, follow, looped
from provenflow.verification._levels import Levels
from provenflow.verification._reduction import fault, settled
from provenflow.verification._report import Report, Violation
from provenflow.verification._restore import Saved, Unsaveable, capture, restore
from provenflow.verification._signals import Branch, Broken, Finished, Merged
from provenflow.verification._simulation import Simulation
from provenflow.verification._state_key import KeyBook, world_part
from provenflow.verification._steps import shortened
from provenflow.verification._world import describe_world

__all__ = ["Check", "Search"]

Check = Callable[..., Any]


class Search:
    """One breadth-first search over the choices of a flow's runs."""

    def __init__(  # noqa: PLR0917 (internal: the options of `check`)
        self,
        factory: Callable[[], Any],
        store: dict[str, Any],
        crashes: int,
        suspends: int,
        checks: list[tuple[str, Check]],
        spec: str | None,
        max_states: int,
        max_seconds: float,
        all_violations: bool,
        revert_failures: bool = False,
        workers: int = 2,
        *,
        merge: bool = True,
        fingerprints: bool = True,
        world_steps: bool = False,
        reduction: bool = True,
    ) -> None:
        self.arguments: tuple[Any, ...] = (factory, store, crashes, suspends, checks, spec)
        self.arguments += (max_states, max_seconds, all_violations, revert_failures, workers)
        self.workers = workers
        self.fingerprints = fingerprints
        """Whether the states seen are kept as 64-bit fingerprints (`_fingerprint`), not
        whole."""
        self.world_steps = world_steps
        self.factory, self.store, self.crashes, self.suspends = factory, store, crashes, suspends
        self.checks, self.spec = checks, spec
        self.max_states, self.max_seconds, self.all_violations = (
            max_states,
            max_seconds,
            all_violations,
        )
        self.revert_failures = revert_failures
        self.merge = merge
        """Whether states with equal keys are merged (False: every path explored to its end)."""
        self.reduction = reduction
        """Whether a settled revert phase takes one option of each choice (`_reduction`)."""
        self.report = Report()
        self.seen: set[Any] = set()
        """The keys of the choices expanded."""
        self.unmerged = 0
        """Without `merge`: the choices expanded (each counted every time it is reached)."""
        self.passed: dict[Any, int] = {}
        """The keys of the states passed through with one option (see `Simulation.passed`)."""
        self.shared = KeyBook(fingerprints=fingerprints)
        """The numbers of the keys' large parts, and what could not be keyed (`_state_key`)."""
        self.resumes: set[Any] = set()
        """`resume_key()`s of the paths that crashed or resumed: a path reaching one again
        goes on exactly as the first did, so it is not explored again (nor counted)."""
        self.started = time.perf_counter()
        self.levels = Levels()
        self.eventually = dict(checks).get("eventually")
        self.loops = False
        """Whether paths are followed for loops (set for a flow with a retry)."""
        self.loop_keys: dict[Any, int] = {}
        """The numbers of the states' keys apart from counters (see `_lasso.follow`)."""
        self.cut = False
        """Whether a bound stopped the search in the middle of a path (`by_replay`)."""
        self.performed = [0]
        """How many times user code ran, on any path (`Simulation.performed`)."""
        self.roots: tuple[object, ...] = ()
        """With snapshots: what the world is saved from (the context and the atoms)."""
        self.live: Saved | None = None
        """With snapshots: the saved world the objects hold now, as long as no user code
        ran since `live_at` (a count of `performed`)."""
        self.live_at = -1

    def run(self, snapshots: bool | None) -> Report:
        """Search with snapshots (restoring the world in place), or by replay (`check`'s
        `snapshots`); return the report. Raises `UsageError` for `snapshots=True` and a world
        that cannot be saved by value."""
        if snapshots is False:
            return self.by_replay()
        try:
            return self.with_snapshots()
        except Unsaveable as error:
            if snapshots:
                raise UsageError(
                    f"snapshots=True: {error}, so it cannot be put back in place before a copy "
                    "goes on; leave snapshots to the default (it replays then)"
                ) from None
            why = str(error)
        started = self.started
        self.__init__(  # type: ignore[misc]
            *self.arguments,
            merge=self.merge,
            fingerprints=self.fingerprints,
            world_steps=self.world_steps,
            reduction=self.reduction,
        )
        self.started = started  # the time bound counts the first try too
        self.report.replayed = why
        return self.by_replay()

    def simulation(self, path: Sequence[int], faults: int = 0) -> Simulation:
        simulation = Simulation(
            self.factory,
            self.store,
            path,
            max_crashes=self.crashes,
            user_checks=self.checks,
            max_suspends=self.suspends,
            revert_failures=self.revert_failures,
            workers=self.workers,
        )
        simulation.passed = self.passed if self.merge else None
        simulation.faults = faults
        simulation.shared = self.shared  # one numbering for every path's keys
        simulation.performed = self.performed  # user code run by any path changes the world
        return simulation

    @property
    def states(self) -> int:
        """The distinct states reached so far: choices and states passed through."""
        return len(self.seen) + len(self.passed) + self.unmerged

    def resume_key(self, key: Any, context: object) -> Any:
        """A `resume_key()` or a `crash_key()` with the world's full value (`world_part`:
        never equal to another when the world cannot be captured by value)."""
        if key is None:
            return None
        key = (key, world_part(context, self.shared))
        return fingerprint(key) if self.fingerprints else key

    def repeats_a_resume(self, simulation: Simulation) -> bool:
        """Whether `simulation` has just crashed or resumed into a state explored before."""
        if not simulation.just_resumed or not self.merge:
            return False
        key = self.resume_key(simulation.resume_key(), simulation.context)
        if key in self.resumes:
            return True
        self.resumes.add(key)
        return False

    def bounded(self) -> bool:
        """Whether a bound stops the search now (and say so in the report)."""
        if self.states >= self.max_states:
            self.report.incomplete = f"stopped at max_states={self.max_states}"
        elif time.perf_counter() - self.started > self.max_seconds:
            self.report.incomplete = f"stopped at max_seconds={self.max_seconds}"
        return self.report.incomplete is not None

    def follow(
        self, parent: Lineage | None, simulation: Simulation, path: tuple[int, ...]
    ) -> Lineage | Looped | None:
        """The lineage node of `simulation`'s state (at a choice) after `parent`, or `Looped`
        when it repeats an earlier state of its path; None when paths are not followed."""
        if not self.loops:
            return None
        node = follow(parent, simulation, len(path), self.eventually, self.loop_keys)
        return looped(node, simulation, self.eventually) or node

    def done(self) -> Report:
        self.report.states_explored = self.states
        self.report.choices = len(self.seen) + self.unmerged
        self.report.transitions += len(self.passed)  # one way on from each
        self.report.elapsed = time.perf_counter() - self.started
        self.report.unmerged = tuple(self.shared.uncaptured)
        if self.fingerprints and self.merge:
            # each state stored, and the up to four parts its key numbers (`_state_key`)
            stored = 5 * (len(self.seen) + len(self.passed)) + len(self.resumes)
            self.report.collision_probability = collision_bound(stored)
        return self.report

    def broken(self, error: Exception, path: Sequence[int], simulation: Simulation) -> bool:
        """Record a violation; return whether the search stops."""
        if isinstance(error, Broken):
            message, rule = error.message, error.rule
        elif isinstance(error, Looped):
            message, rule = error.message, "can-run-forever"
        else:
            message = f"the engine raised {shortened(f'{type(error).__name__}: {error}')}"
            rule = "table" if isinstance(error, IllegalTransition) else "engine"
        violation = _violation(message, path, simulation, self.spec, rule)
        if self.world_steps:
            violation = dataclasses.replace(violation, worlds=self.worlds_along(path))
        if isinstance(error, Looped):
            stem = self.simulation(path[: error.start.choices])
            stem.passed = None  # a replay of states already counted
            stem.catch_up()
            stem.advance()
            violation = dataclasses.replace(violation, loop=error.loop(len(stem.steps) + 1))
        bounds: tuple[tuple[str, int], ...] = (
            ("crashes", self.crashes),
            ("suspends", self.suspends),
        )
        if self.revert_failures:
            bounds += (("revert_failures", 1),)
        if self.workers != 2:
            bounds += (("workers", self.workers),)
        checks = tuple((kind, factory_spec(function)) for kind, function in self.checks)
        self.report.violations.append(
            dataclasses.replace(
                violation, bounds=bounds, checks=checks, store=tuple(self.store.items())
            )
        )
        return not self.all_violations

    def worlds_along(self, path: Sequence[int]) -> tuple[object, ...]:
        """The world after each step of `path`, played again from the start (a path is the
        same every time its choices are made)."""
        simulation = self.simulation(path)
        simulation.passed, simulation.worlds = None, []
        with contextlib.suppress(Branch, Broken, Finished, ProvenflowError):
            simulation.run()  # it ends as it did: at the violation
        return tuple(simulation.world_after_steps())

    def options(self, simulation: Simulation) -> tuple[int, int]:
        """Run `simulation` to its next choice; return how many of its options to take (one
        where the reduction applies: `_reduction.settled`) and how many it has."""
        options = simulation.advance()
        return (1 if self.reduction and options > 1 and settled(simulation) else options), options

    def new_state(self, key: Any, options: int, has: int) -> bool:
        """Count a state reached, of whose `has` options `options` are taken; return False
        when it was seen before (never without `merge`)."""
        if self.merge:
            if key in self.seen:
                return False
            self.seen.add(key)
        else:
            self.unmerged += 1
        self.report.transitions += options
        self.report.pruned += has - options
        return True

    def by_replay(self) -> Report:
        queue: deque[_Branch] = deque([(0, (), None)])
        faults = 0
        while queue and not self.bounded():
            faults, path, node = queue.popleft()
            self.levels.take(faults)
            if self._go_on(faults, path, node, queue):
                break
        if self.report.incomplete is not None:
            self.levels.stopped(self.report, faults if self.cut else queue[0][0], queue, self.cut)
        return self.done()

    def _go_on(
        self, faults: int, path: tuple[int, ...], node: Lineage | None, queue: deque[_Branch]
    ) -> bool:
        """Replay `path` and go on from it in place with the first option of each choice,
        queueing the others; return whether the search stops (`cut`: a bound stopped the
        path)."""
        simulation = self.simulation(path, faults)
        self.loops = self.loops or bool(simulation.core.histories)
        try:
            simulation.catch_up()
            while True:
                options, has = self.options(simulation)
                if self.bounded():
                    self.cut = True
                    return False
                if not self.new_state(simulation.key(), options, has):
                    return False
                followed = self.follow(node, simulation, path)
                if isinstance(followed, Looped):
                    raise followed
                node = followed
                for choice in range(options - 1, 0, -1):
                    cost = fault(simulation.stage, choice)
                    entry = (faults + cost, (*path, choice), node)
                    if cost == 0:
                        queue.appendleft(entry)
                    else:
                        queue.append(entry)
                # the first option (never a fault) goes on in place: no replay needed
                path = (*path, 0)
                simulation.apply(0)
        except Finished:
            self.report.paths += 1
        except Merged:
            pass
        except (Broken, Looped, ProvenflowError) as error:
            return self.broken(error, path, simulation)
        return False

    def with_snapshots(self) -> Report:
        """Branch from copies of each explored state, the world put back in place before a
        copy goes on; raises `Unsaveable` (before or during the search) when the world
        cannot be saved by value."""
        root = self.simulation(())
        atoms = (node.atom for node in root.compiled.nodes.values() if node.atom is not None)
        self.roots = (root.context, *atoms)
        self.keep(root)
        initial = root.saved_world
        try:
            return self._snapshots(root)
        finally:
            restore(initial)  # the flow's objects as the search found them

    def _snapshots(self, root: Simulation) -> Report:
        self.queue: deque[_Entry] = deque()
        self.pending: tuple[int, Exception, tuple[int, ...], Simulation] | None = None
        self.loops = bool(root.core.histories)
        if self._reach(root, (), 0, 0, None):
            return self.done()
        while self.queue and not self.bounded():
            faults, parent, path, counts, key, node = self.queue.popleft()
            self.levels.take(faults)
            if self.pending is not None and faults >= self.pending[0]:
                break  # nothing left to pop reaches a violation with fewer faults
            if self.new_state(key, *counts) and self._expand(parent, path, faults, counts[0], node):
                return self.done()
        if self.report.incomplete is not None:
            self.levels.stopped(self.report, self.queue[0][0], self.queue)
        if self.pending is not None:
            _, error, path, simulation = self.pending
            self.enter(simulation)  # the world as it was at the violation
            self.broken(error, path, simulation)
        return self.done()

    def keep(self, simulation: Simulation) -> None:
        """Save the world as `simulation` leaves it (with snapshots, before it waits in the
        queue): saved again only when user code ran since it was last saved or put back.
        Raises `Unsaveable` when it cannot be saved by value."""
        if self.performed[0] != self.live_at or self.live is None:
            self.live, self.live_at = capture(self.roots), self.performed[0]
        simulation.saved_world = self.live

    def enter(self, simulation: Simulation) -> None:
        """Put the world back as `simulation` left it (`keep`), unless it is so already."""
        saved = simulation.saved_world
        if saved is not None and (self.live is not saved or self.performed[0] != self.live_at):
            restore(saved)
            self.live, self.live_at = saved, self.performed[0]

    def _expand(
        self,
        parent: Simulation,
        path: tuple[int, ...],
        faults: int,
        options: int,
        node: Lineage | None,
    ) -> bool:
        """Take every option of `parent` (a new state) and queue what each leads to; return
        whether the search stops."""
        stage = parent.stage
        for choice in range(options):
            self.enter(parent)
            crash = self.resume_key(parent.crash_key(choice), parent.context)
            if self.merge and crash is not None and crash in self.resumes:
                continue  # a crash into a state explored before: not even taken
            # the last choice takes the parent itself: nothing else needs it any more
            child = parent.clone(parent.crashes_at(choice)) if choice < options - 1 else parent
            cost = faults + fault(stage, choice)
            try:
                child.apply(choice)
                if self.repeats_a_resume(child):
                    continue
            except (Broken, ProvenflowError) as error:
                self.keep(child)
                if self.found(error, (*path, choice), child, cost, faults):
                    return True
                continue
            except Finished:
                self.report.paths += 1
                continue
            if self._reach(child, (*path, choice), cost, faults, node):
                return True
        return False

    def found(
        self, error: Exception, path: tuple[int, ...], child: Simulation, cost: int, now: int
    ) -> bool:
        """A path broke with `cost` faults while states with `now` are expanded: report it at
        once when no path can have fewer (or every violation is wanted), else hold it back
        until the search has no cheaper state left. Return whether the search stops."""
        if cost == now or self.all_violations:
            return self.broken(error, path, child)
        if self.pending is None or cost < self.pending[0]:
            self.pending = (cost, error, path, child)
        return False

    def _reach(
        self,
        simulation: Simulation,
        path: tuple[int, ...],
        cost: int,
        now: int,
        parent: Lineage | None,
    ) -> bool:
        """Run `simulation` to its next choice and queue it (first when it took no fault), after
        `parent` on its path; return whether the search stops."""
        simulation.faults = cost
        try:
            options = self.options(simulation)
        except Finished:
            self.report.paths += 1
            return False
        except Merged:
            return False
        except (Broken, ProvenflowError) as error:
            self.keep(simulation)  # a violation held back shows the world it broke in
            return self.found(error, path, simulation, cost, now)
        self.keep(simulation)
        node = self.follow(parent, simulation, path)
        if isinstance(node, Looped):
            return self.found(node, path, simulation, cost, now)
        entry = (cost, simulation, path, options, simulation.key(), node)
        if cost == now:
            self.queue.appendleft(entry)
        else:
            self.queue.append(entry)
        return False


_Branch = tuple[int, tuple[int, ...], Lineage | None]
"""A path waiting to be replayed: (faults so far, its choices, its lineage)."""
_Entry = tuple[int, Simulation, tuple[int, ...], tuple[int, int], Any, Lineage | None]
"""A state waiting to be expanded: (faults so far, the path's snapshot, its choices, how many
of its options are taken and how many it has, its key, its lineage)."""


def _violation(
    message: str, path: Sequence[int], simulation: Simulation, spec: str | None, rule: str
) -> Violation:
    return Violation(
        message,
        tuple(path),
        tuple(simulation.steps),
        spec,
        events=tuple(simulation.events),
        world=describe_world(simulation.context),
        rule=rule,
    )
