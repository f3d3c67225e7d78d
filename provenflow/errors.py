"""The whole exception tree of provenflow.

Every exception the library raises on purpose derives from `ProvenflowError`. The tree keeps
three kinds of trouble apart, because a caller reacts to each differently:

- `UsageError`: the caller asked for something that cannot be done (a bad argument, a bad
  definition). Fix the calling code.
- `RecordError`: data read back from a store is wrong (corrupt, foreign, from a newer version).
  Fix or restore the store; nothing is overwritten.
- `InternalError`: provenflow broke one of its own rules. Report it.

`IllegalTransition` stands on its own: it is raised by the one chokepoint that applies lifecycle
events (`provenflow.fsm`) and carries the lifecycle, entity, state, event and allowed events as
attributes.

Every exception here pickles: its constructor arguments are kept in `args`, and the message is
built from them by `__str__`, so `pickle.loads(pickle.dumps(error))` gives an equal error.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "IllegalTransition",
    "Interrupted",
    "InternalError",
    "LifecycleDefinitionError",
    "ProvenflowError",
    "RecordError",
    "StaleVersion",
    "StorageError",
    "UnknownRun",
    "UsageError",
]


class ProvenflowError(Exception):
    """Base class of every error provenflow raises on purpose."""


class UsageError(ProvenflowError):
    """The caller asked for something that cannot be done; the message says what to change."""


class LifecycleDefinitionError(UsageError):
    """A transition table failed its build-time checks; names the lifecycle and the entry."""

    def __init__(self, lifecycle: str, entry: str, problem: str) -> None:
        super().__init__(lifecycle, entry, problem)

    @property
    def lifecycle(self) -> str:
        """The name of the lifecycle whose table was refused."""
        return str(self.args[0])

    @property
    def entry(self) -> str:
        """The offending entry: a state, an event, or a `STATE --event--> STATE` edge."""
        return str(self.args[1])

    @property
    def problem(self) -> str:
        """What is wrong with the entry, and what would be accepted."""
        return str(self.args[2])

    def __str__(self) -> str:
        return f"lifecycle {self.lifecycle!r}: {self.entry}: {self.problem}"


class IllegalTransition(ProvenflowError):
    """An event that the lifecycle's table does not allow from the current state.

    Raised by `Lifecycle.apply`; the state it was applied to is left unchanged.
    """

    def __init__(  # noqa: PLR0917 (positional, so that the error pickles through `args`)
        self,
        lifecycle: str,
        entity: str | None,
        state: str,
        event: str,
        allowed: Iterable[str],
        flow: str | None = None,
    ) -> None:
        super().__init__(lifecycle, entity, state, event, tuple(allowed), flow)

    @property
    def lifecycle(self) -> str:
        """The lifecycle's name: task, retry, flow, engine or job."""
        return str(self.args[0])

    @property
    def entity(self) -> str | None:
        """The name of the thing whose state was to change (an atom, a flow, a job), if known."""
        entity: str | None = self.args[1]
        return entity

    @property
    def state(self) -> str:
        """The state the entity was (and still is) in."""
        return str(self.args[2])

    @property
    def event(self) -> str:
        """The event that was refused."""
        return str(self.args[3])

    @property
    def allowed(self) -> tuple[str, ...]:
        """The events the table allows from `state`, sorted; empty for a terminal state."""
        allowed: tuple[str, ...] = self.args[4]
        return allowed

    @property
    def flow(self) -> str | None:
        """The name of the flow the entity belongs to, if known."""
        flow: str | None = self.args[5]
        return flow

    def __str__(self) -> str:
        where = self.lifecycle
        if self.entity is not None:
            where += f" {self.entity!r}"
        if self.flow is not None:
            where += f" in flow {self.flow!r}"
        allowed = ", ".join(self.allowed) if self.allowed else f"none, {self.state} is terminal"
        return f"{where}: cannot {self.event!r} from {self.state} (allowed: {allowed})"


class StorageError(ProvenflowError):
    """A storage backend could not read or write; nothing already stored was changed."""


class RecordError(ProvenflowError):
    """Data read back from a store is corrupt, foreign or from a newer version."""


class InternalError(ProvenflowError):
    """provenflow broke one of its own rules: this is a bug, please report it."""


class StaleVersion(StorageError):
    """A write was refused: another writer advanced the run since this one last read it."""

    def __init__(self, flow_id: str, expected: int, found: int) -> None:
        super().__init__(flow_id, expected, found)

    def __str__(self) -> str:
        flow_id, expected, found = self.args
        return (
            f"run {flow_id!r}: expected version {expected}, found {found}; another engine "
            "advanced this run, so this one must stop (nothing was written)"
        )


class UnknownRun(UsageError):
    """No run with the given flow id exists in the store."""

    def __init__(self, flow_id: str, url: str) -> None:
        super().__init__(flow_id, url)

    def __str__(self) -> str:
        flow_id, url = self.args
        return f"run {flow_id!r}: not found in {url}"


class Interrupted(ProvenflowError):
    """An atom's execution was cut short (a crash or a timeout); its outcome is unknown."""

    def __init__(self, atom: str, reason: str) -> None:
        super().__init__(atom, reason)

    def __str__(self) -> str:
        atom, reason = self.args
        return f"atom {atom!r}: execution interrupted ({reason}); its outcome is unknown"
