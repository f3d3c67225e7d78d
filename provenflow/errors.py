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
from datetime import UTC, datetime

__all__ = [
    "AlreadyAdded",
    "AmbiguousProvider",
    "AtomDefinitionError",
    "BadDecision",
    "BadLink",
    "BadResult",
    "BoardNotFound",
    "ClaimLost",
    "CorruptRecord",
    "DependencyCycle",
    "DuplicateName",
    "EngineStopped",
    "FlowDefinitionError",
    "FlowMismatch",
    "ForeignStore",
    "IllegalTransition",
    "InternalError",
    "Interrupted",
    "InvalidMember",
    "JobClaimed",
    "LeaseLost",
    "LifecycleDefinitionError",
    "LockHeld",
    "LockLost",
    "MissingInput",
    "MissingValue",
    "MultipleFailures",
    "NewerSchema",
    "NoValuesLeft",
    "ProvenflowError",
    "RecordError",
    "RecordFieldError",
    "RenderUnavailable",
    "RetryUsedAsTask",
    "RunExists",
    "RunOwned",
    "StaleVersion",
    "StorageError",
    "StorageUnavailable",
    "StoreNotFound",
    "UnknownJob",
    "UnknownRun",
    "UnorderedDependency",
    "UnrecordableTransition",
    "UnstorableValue",
    "UntrustedFactory",
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
        super().__init__(lifecycle, entity, state, event, tuple(str(e) for e in allowed), flow)

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


class LeaseLost(StaleVersion):
    """A write or renewal was refused: the engine's lease on the run was taken over or released."""

    def __init__(self, flow_id: str, token: int | None, holder: str | None, reason: str) -> None:
        ProvenflowError.__init__(self, flow_id, token, holder, reason)

    def __str__(self) -> str:
        flow_id, token, holder, reason = self.args
        now = "nobody holds it now" if holder is None else f"it is now held by engine {holder}"
        return (
            f"run {flow_id!r}: this engine's lease (token {token}) was {reason}; {now}. This "
            "engine must stop (nothing was written); load the run again to continue it"
        )


class RunOwned(StorageError):
    """Another live engine holds the run's lease; names the owner and when its lease expires."""

    def __init__(self, flow_id: str, owner: str, expires_at: float, now: float) -> None:
        super().__init__(flow_id, owner, expires_at, now)

    @property
    def owner(self) -> str:
        """The engine that holds the lease: its id, pid and host."""
        return str(self.args[1])

    @property
    def expires_at(self) -> float:
        """When the lease expires unless renewed (seconds since the epoch, the store's time)."""
        return float(self.args[2])

    def __str__(self) -> str:
        flow_id, owner, expires_at, now = self.args
        when = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (
            f"run {flow_id!r} is owned by engine {owner}, whose lease expires at {when} "
            f"(in {max(expires_at - now, 0.0):.1f} s) unless renewed; nothing was run. Wait "
            "until that engine ends, or stop it and resume once its lease expired"
        )


class LockHeld(StorageError):
    """A lock is held by another owner whose lease is live; names the holder and its expiry."""

    def __init__(self, name: str, holder: str, expires_at: float, now: float) -> None:
        super().__init__(name, holder, expires_at, now)

    @property
    def name(self) -> str:
        """The name of the lock."""
        return str(self.args[0])

    @property
    def holder(self) -> str:
        """The owner that holds the lock: its id, pid and host."""
        return str(self.args[1])

    @property
    def expires_at(self) -> float:
        """When the holder's lease expires unless renewed (seconds since the epoch, the lock
        service's time)."""
        return float(self.args[2])

    @property
    def now(self) -> float:
        """The lock service's time when the lock was found held."""
        return float(self.args[3])

    def __str__(self) -> str:
        name, holder, expires_at, now = self.args
        when = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (
            f"lock {name!r} is held by {holder}, whose lease expires at {when} "
            f"(in {max(expires_at - now, 0.0):.1f} s) unless renewed; nothing was changed. "
            "Wait for it (lease(..., wait=SECONDS)), or try again later"
        )


class LockLost(StorageError):
    """A lock's token is no longer current (taken over, released or never granted): refused."""

    def __init__(self, name: str, token: int | None, holder: str | None, reason: str) -> None:
        super().__init__(name, token, holder, reason)

    @property
    def name(self) -> str:
        """The name of the lock."""
        return str(self.args[0])

    @property
    def token(self) -> int | None:
        """The fencing token that was refused."""
        token: int | None = self.args[1]
        return token

    @property
    def holder(self) -> str | None:
        """The owner that holds the lock now, or None when nobody does."""
        holder: str | None = self.args[2]
        return holder

    def __str__(self) -> str:
        name, token, holder, reason = self.args
        now = "nobody holds it now" if holder is None else f"it is now held by {holder}"
        return (
            f"lock {name!r}: the lease with token {token} was {reason}; {now}. Whatever "
            "this holder does under the lock must stop (nothing was changed); acquire the "
            "lock again to go on"
        )


class EngineStopped(UsageError):
    """An engine whose run was cut short (a failed write, an interruption) was asked to go on."""

    def __init__(self, flow_id: str, url: str, reason: str) -> None:
        super().__init__(flow_id, url, reason)

    @property
    def flow_id(self) -> str:
        """The id of the run the stopped engine was running."""
        return str(self.args[0])

    @property
    def url(self) -> str:
        """The URL of the store that holds the run."""
        return str(self.args[1])

    @property
    def reason(self) -> str:
        """What cut the run short: the failed write and its cause, or the interruption."""
        return str(self.args[2])

    def __str__(self) -> str:
        flow_id, _, reason = self.args
        return (
            f"run {flow_id!r}: {reason}; this engine is stopped, since what it holds may "
            "differ from the store: load the run again (Engine.load(flow, backend, flow_id) "
            "or Engine.resume(backend, flow_id)) and run that engine"
        )


class ClaimLost(StorageError):
    """A job board refused a claim's request: its fencing token is no longer the job's current one.

    Raised by renew, complete, abandon and trash; the job was left as it was.
    """

    def __init__(self, job_id: str, token: int, holder: str | None, reason: str) -> None:
        super().__init__(job_id, token, holder, reason)

    @property
    def job_id(self) -> str:
        """The id of the job the claim was on."""
        return str(self.args[0])

    def __str__(self) -> str:
        job_id, token, holder, reason = self.args
        now = "nobody holds it now" if holder is None else f"it is now claimed by {holder}"
        return (
            f"job {job_id!r}: this claim (token {token}) was {reason}; {now}. Nothing was "
            "changed: stop working on the job (its new owner, if any, carries it on)"
        )


class JobClaimed(StorageError):
    """A job was to be trashed without its claim while another owner's claim on it is live."""

    def __init__(self, job_id: str, owner: str, expires_at: float, now: float) -> None:
        super().__init__(job_id, owner, expires_at, now)

    @property
    def owner(self) -> str:
        """The owner whose live claim holds the job: its id, pid and host."""
        return str(self.args[1])

    def __str__(self) -> str:
        job_id, owner, expires_at, now = self.args
        when = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (
            f"job {job_id!r} is claimed by {owner} until {when} (in "
            f"{max(expires_at - now, 0.0):.1f} s) unless renewed; nothing was changed. Let its "
            "owner trash it, or try again once the claim has expired"
        )


class UnknownJob(UsageError):
    """No job with the given id is on the job board."""

    def __init__(self, job_id: str, url: str) -> None:
        super().__init__(job_id, url)

    def __str__(self) -> str:
        job_id, url = self.args
        return f"job {job_id!r}: not found on the board {url} (list its jobs: provenflow jobs list)"


class BoardNotFound(UsageError):
    """A job board opened without creating it does not exist; names where it was looked for."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(url, problem)

    def __str__(self) -> str:
        url, problem = self.args
        return (
            f"no job board at {url}: {problem}; check the URL (a board is made when the first "
            "job is posted: provenflow jobs post), nothing was created"
        )


class UnknownRun(UsageError):
    """No run with the given flow id exists in the store."""

    def __init__(self, flow_id: str, url: str) -> None:
        super().__init__(flow_id, url)

    def __str__(self) -> str:
        flow_id, url = self.args
        return f"run {flow_id!r}: not found in {url}"


class StoreNotFound(UsageError):
    """A store opened for reading or resuming does not exist; names where it was looked for."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(url, problem)

    @property
    def url(self) -> str:
        """The store's URL, as given (without any password)."""
        return str(self.args[0])

    def __str__(self) -> str:
        url, problem = self.args
        return (
            f"no store at {url}: {problem}; check the URL (a store is created by "
            "`provenflow run`), nothing was created"
        )


class Interrupted(ProvenflowError):
    """An atom's execution was cut short (a crash or a timeout); its outcome is unknown."""

    def __init__(self, atom: str, reason: str) -> None:
        super().__init__(atom, reason)

    def __str__(self) -> str:
        atom, reason = self.args
        return f"atom {atom!r}: execution interrupted ({reason}); its outcome is unknown"


class RecordFieldError(RecordError):
    """A stored record lacks a field or holds a bad value in it; names the record and the field."""

    def __init__(self, record: str, field: str, problem: str) -> None:
        super().__init__(record, field, problem)

    @property
    def field(self) -> str:
        """The name of the missing or bad field."""
        return str(self.args[1])

    def __str__(self) -> str:
        record, field, problem = self.args
        return f"{record} record: field {field!r}: {problem}"


class FlowDefinitionError(UsageError):
    """A flow or atom definition was refused before anything ran; the message names the entry."""


class AtomDefinitionError(FlowDefinitionError):
    """An atom was built with a bad option or signature; names the atom and the problem."""

    def __init__(self, kind: str, atom: str, problem: str) -> None:
        super().__init__(kind, atom, problem)

    @property
    def atom(self) -> str:
        """The name of the refused atom (its class name when the name itself is bad)."""
        return str(self.args[1])

    def __str__(self) -> str:
        kind, atom, problem = self.args
        return f"{kind} {atom!r}: {problem}"


class InvalidMember(FlowDefinitionError, TypeError):
    """Something that is neither an atom nor a flow was added to a flow."""

    def __init__(self, flow: str, given: str) -> None:
        super().__init__(flow, given)

    def __str__(self) -> str:
        flow, given = self.args
        return (
            f"flow {flow!r}: a member must be an atom (a Task, a @task function) or a flow, "
            f"got {given}"
        )


class RetryUsedAsTask(FlowDefinitionError):
    """A Retry was added as a plain member or run on its own; it can only guard a flow."""

    def __init__(self, retry: str, flow: str | None) -> None:
        super().__init__(retry, flow)

    def __str__(self) -> str:
        retry, flow = self.args
        advice = "a Retry guards a flow: pass it as Flow(name, retry=...)"
        if flow is None:
            return f"retry {retry!r} cannot run on its own: {advice}"
        return f"flow {flow!r}: cannot add retry {retry!r} as a member: {advice}"


class AlreadyAdded(FlowDefinitionError):
    """An atom or flow object was added a second time to one flow; each appears once."""

    def __init__(self, kind: str, name: str, flow: str, owner: str) -> None:
        super().__init__(kind, name, flow, owner)

    def __str__(self) -> str:
        kind, name, flow, owner = self.args
        advice = "add a copy: .copy(name=...)" if kind != "flow" else "build another flow"
        return (
            f"flow {flow!r}: {kind} {name!r} is already in flow {owner!r}; "
            f"an atom or a flow appears once in a flow ({advice})"
        )


class BadLink(FlowDefinitionError):
    """`GraphFlow.link` was called with endpoints or options it cannot accept."""

    def __init__(self, flow: str, source: str, target: str, problem: str) -> None:
        super().__init__(flow, source, target, problem)

    def __str__(self) -> str:
        flow, source, target, problem = self.args
        return f"graph flow {flow!r}: cannot link {source!r} -> {target!r}: {problem}"


class MissingInput(FlowDefinitionError):
    """An atom requires a symbol that no earlier atom provides and the store does not hold."""

    def __init__(self, kind: str, atom: str, symbol: str, flow: str) -> None:
        super().__init__(kind, atom, symbol, flow)

    @property
    def atom(self) -> str:
        """The name of the atom whose input is missing."""
        return str(self.args[1])

    @property
    def symbol(self) -> str:
        """The symbol that nothing provides."""
        return str(self.args[2])

    @property
    def flow(self) -> str:
        """The name of the innermost flow holding the atom."""
        return str(self.args[3])

    def __str__(self) -> str:
        kind, atom, symbol, flow = self.args
        return (
            f"{kind} {atom!r} in flow {flow!r} requires {symbol!r}, which no earlier atom "
            "provides and the store does not hold"
        )


class AmbiguousProvider(FlowDefinitionError):
    """Two members of a graph or unordered flow provide one symbol, in no fixed order."""

    def __init__(self, symbol: str, flow: str, providers: tuple[str, ...]) -> None:
        super().__init__(symbol, flow, tuple(providers))

    @property
    def symbol(self) -> str:
        """The symbol with several providers."""
        return str(self.args[0])

    @property
    def providers(self) -> tuple[str, ...]:
        """The names of the providing atoms."""
        providers: tuple[str, ...] = self.args[2]
        return providers

    def __str__(self) -> str:
        symbol, flow, providers = self.args
        names = " and ".join(repr(name) for name in providers)
        return (
            f"flow {flow!r}: {symbol!r} is provided by both {names}, which run in no fixed "
            "order there; one symbol needs one provider (rename one with provides=...)"
        )


class DependencyCycle(FlowDefinitionError):
    """The ordering of a flow (data dependencies and links) has a cycle; names its atoms."""

    def __init__(self, flow: str, atoms: tuple[str, ...]) -> None:
        super().__init__(flow, tuple(atoms))

    @property
    def atoms(self) -> tuple[str, ...]:
        """The atoms on the cycle, in dependency order."""
        atoms: tuple[str, ...] = self.args[1]
        return atoms

    def __str__(self) -> str:
        flow, atoms = self.args
        cycle = " -> ".join(repr(name) for name in (*atoms, atoms[0]))
        return (
            f"flow {flow!r}: dependency cycle {cycle}; break it by removing a link or "
            "renaming a symbol"
        )


class DuplicateName(FlowDefinitionError):
    """Two atoms, or two flows, of one compiled flow share a name."""

    def __init__(self, kind: str, name: str, first: str | None, second: str | None) -> None:
        super().__init__(kind, name, first, second)

    @property
    def name(self) -> str:
        """The shared name."""
        return str(self.args[1])

    def __str__(self) -> str:
        kind, name, first, second = self.args
        places = " and ".join(
            "at the top" if flow is None else f"in flow {flow!r}" for flow in (first, second)
        )
        advice = "name=... or .copy(name=...)" if kind == "atom" else "LinearFlow(name, ...)"
        return (
            f"two {kind}s are named {name!r} ({places}); names must be unique: "
            f"rename one ({advice})"
        )


class UnorderedDependency(FlowDefinitionError):
    """A member of an unordered flow requires a symbol that only a sibling provides."""

    def __init__(  # noqa: PLR0917 (positional, so that the error pickles through `args`)
        self, kind: str, atom: str, symbol: str, flow: str, provider: str, unordered: str
    ) -> None:
        super().__init__(kind, atom, symbol, flow, provider, unordered)

    def __str__(self) -> str:
        kind, atom, symbol, flow, provider, unordered = self.args
        return (
            f"{kind} {atom!r} in flow {flow!r} requires {symbol!r}, which only {provider!r} "
            f"provides, and members of unordered flow {unordered!r} run in no fixed order: "
            f"use a LinearFlow (to run {provider!r} first) or a GraphFlow (order from data)"
        )


class BadResult(UsageError):
    """An atom returned a value that does not fit its `provides` (not a sequence, wrong length)."""

    def __init__(
        self, kind: str, atom: str, provides: tuple[str, ...], returned: str, problem: str
    ) -> None:
        super().__init__(kind, atom, tuple(provides), returned, problem)

    def __str__(self) -> str:
        kind, atom, provides, returned, problem = self.args
        return f"{kind} {atom!r} provides {provides}: {problem}, got {returned}"


class BadDecision(UsageError):
    """A retry's `on_failure` returned something other than a `Decision`."""

    def __init__(self, retry: str, returned: str, allowed: tuple[str, ...]) -> None:
        super().__init__(retry, returned, tuple(allowed))

    def __str__(self) -> str:
        retry, returned, allowed = self.args
        return (
            f"retry {retry!r}: on_failure returned {returned}, which is not a Decision "
            f"(allowed: {', '.join(allowed)})"
        )


class NoValuesLeft(UsageError):
    """A `ForEach`-style retry was asked for another value when every value had been tried."""

    def __init__(self, retry: str, values: str) -> None:
        super().__init__(retry, values)

    def __str__(self) -> str:
        retry, values = self.args
        return f"retry {retry!r}: no values left to try (values: {values})"


class MultipleFailures(ExceptionGroup[Exception], ProvenflowError):
    """Several atoms failed in one run; holds each original exception (an `ExceptionGroup`)."""


class MissingValue(UsageError):
    """An atom needs a value its provider does not hold: ignored, or (for a revert) undone."""

    def __init__(
        self, atom: str, symbol: str, provider: str, state: str, action: str = "execute"
    ) -> None:
        super().__init__(atom, symbol, provider, state, action)

    @property
    def atom(self) -> str:
        """The atom that needs the value."""
        return str(self.args[0])

    @property
    def symbol(self) -> str:
        """The name of the value it needs."""
        return str(self.args[1])

    @property
    def provider(self) -> str:
        """The atom that should provide it."""
        return str(self.args[2])

    @property
    def state(self) -> str:
        """The state the provider is in."""
        return str(self.args[3])

    @property
    def action(self) -> str:
        """What the value was needed for: `execute` or `revert`."""
        return str(self.args[4])

    def __str__(self) -> str:
        atom, symbol, provider, state, action = self.args
        if action == "execute":
            return (
                f"atom {atom!r} needs {symbol!r} from {provider!r}, which is {state} and "
                "provides nothing (give the parameter a default, or link the decider deeper)"
            )
        return (
            f"atom {atom!r} needs {symbol!r} from {provider!r} to {action}, but {provider!r} "
            f"is {state} and holds no value for it: the {action} is not called without it"
        )


class UnstorableValue(UsageError):
    """A value cannot be kept by a durable store (JSON only); names the run, atom and type."""

    def __init__(
        self, flow_id: str, atom: str | None, where: str, type_name: str, problem: str
    ) -> None:
        super().__init__(flow_id, atom, where, type_name, problem)

    @property
    def atom(self) -> str | None:
        """The atom whose value was refused; None for the run's own store."""
        atom: str | None = self.args[1]
        return atom

    @property
    def where(self) -> str:
        """The refused value's place, e.g. `result['items'][2]` or `store['when']`."""
        return str(self.args[2])

    @property
    def type_name(self) -> str:
        """The type of the refused value (or dict key), e.g. `datetime.datetime`."""
        return str(self.args[3])

    def __str__(self) -> str:
        flow_id, atom, where, type_name, problem = self.args
        owner = "the run's store" if atom is None else f"atom {atom!r}"
        return (
            f"run {flow_id!r}: {owner}: {where} is of type {type_name}: {problem}; a durable store "
            "keeps JSON values only (str, int, finite float, bool, None, lists and tuples, "
            "dicts with str keys), and nothing was written"
        )


class UnrecordableTransition(UsageError):
    """A transition given to a store names a lifecycle, state, event or edge its table lacks."""

    def __init__(self, flow_id: str, index: int, problem: str) -> None:
        super().__init__(flow_id, index, problem)

    def __str__(self) -> str:
        flow_id, index, problem = self.args
        return f"run {flow_id!r}: transition {index} of the batch: {problem}; nothing was written"


class RunExists(UsageError):
    """A run was created with a flow id that the store already holds."""

    def __init__(self, flow_id: str, url: str) -> None:
        super().__init__(flow_id, url)

    def __str__(self) -> str:
        flow_id, url = self.args
        return f"run {flow_id!r} already exists in {url}; load it, or create it under a new id"


class UntrustedFactory(UsageError):
    """A run's recorded factory was not imported: the user neither named it nor trusted it."""

    def __init__(self, flow_id: str, url: str, factory: str) -> None:
        super().__init__(flow_id, url, factory)

    @property
    def factory(self) -> str:
        """The factory spec the run records it was started with (provenance, never run)."""
        return str(self.args[2])

    def __str__(self) -> str:
        flow_id, url, factory = self.args
        return (
            f"run {flow_id!r} in {url} was started with factory {factory!r}, which is not "
            "trusted, so it was not imported (a store never names code to run); name the "
            f"factory yourself (provenflow resume {flow_id} --factory SPEC; in Python, "
            "Engine.resume(..., factory=SPEC) or Engine.load(flow, ...)), or trust it: "
            f"PROVENFLOW_TRUSTED_FACTORIES={factory!r} in the environment, or "
            f"trusted-factories = [{factory!r}] under [tool.provenflow] in the working "
            "directory's pyproject.toml"
        )


class FlowMismatch(UsageError):
    """The flow given to resume or draw a run differs from the run's record; names each change."""

    def __init__(
        self,
        flow_id: str,
        recorded_flow: str,
        flow_name: str,
        differences: tuple[str, ...],
        added: tuple[str, ...],
    ) -> None:
        super().__init__(flow_id, recorded_flow, flow_name, tuple(differences), tuple(added))

    @property
    def differences(self) -> tuple[str, ...]:
        """Every difference found, one sentence each, naming the atom."""
        differences: tuple[str, ...] = self.args[3]
        return differences

    @property
    def added(self) -> tuple[str, ...]:
        """The atoms the flow has and the run never recorded (accepted where not reached)."""
        added: tuple[str, ...] = self.args[4]
        return added

    def __str__(self) -> str:
        flow_id, recorded_flow, flow_name, differences, added = self.args
        count = f"{len(differences)} difference{'s' if len(differences) != 1 else ''}"
        text = (
            f"run {flow_id!r} of flow {recorded_flow!r} does not match flow {flow_name!r} "
            f"({count}: {'; '.join(differences)})"
        )
        if added:
            text += f"; atoms the run never recorded: {', '.join(map(repr, added))}"
        return (
            f"{text}; nothing was run or written: use the flow the run was started with "
            "(a renamed atom is a removed one plus a new one), or start a new run"
        )


class CorruptRecord(RecordError):
    """Stored data cannot be read back (corrupt, hand-edited or foreign); names where and what."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(where, problem)

    @property
    def where(self) -> str:
        """The store, and the run, row, file or field in it, that holds the bad data."""
        return str(self.args[0])

    def __str__(self) -> str:
        where, problem = self.args
        return f"{where}: {problem} (the store was left as it is)"


class ForeignStore(CorruptRecord):
    """A database or directory holds other data and no provenflow store; names what it holds."""

    def __init__(self, where: str, found: Iterable[str]) -> None:
        RecordError.__init__(self, where, tuple(found))

    @property
    def found(self) -> tuple[str, ...]:
        """What the place holds instead: the names of its tables, or of its files."""
        found: tuple[str, ...] = self.args[1]
        return found

    def __str__(self) -> str:
        where, found = self.args
        shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
        return (
            f"{where}: holds {shown} and no provenflow store, so it was left as it is; name "
            "another store, or keep runs here too with `provenflow run --init-store` "
            "(`open_storage(url, initialise=True)`)"
        )


class NewerSchema(RecordError):
    """A store was written by a newer provenflow: its schema version is higher than known."""

    def __init__(self, where: str, found: int, supported: int) -> None:
        super().__init__(where, found, supported)

    def __str__(self) -> str:
        where, found, supported = self.args
        return (
            f"{where}: schema version {found} is newer than this provenflow knows ({supported}); "
            "upgrade provenflow to open it (the store was left as it is)"
        )


class StorageUnavailable(StorageError):
    """A store could not be opened, reached, read or written; names it and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, reason)

    @property
    def url(self) -> str:
        """The store's URL (without any password)."""
        return str(self.args[0])

    def __str__(self) -> str:
        url, reason = self.args
        return f"storage {url}: {reason}"


class RenderUnavailable(UsageError):
    """SVG or PNG was asked for but Graphviz is missing; says what to install."""

    def __init__(self, format: str, missing: str) -> None:
        super().__init__(format, missing)

    @property
    def missing(self) -> str:
        """What is missing: `dot` (the Graphviz program) or `graphviz` (the Python package)."""
        return str(self.args[1])

    def __str__(self) -> str:
        format, missing = self.args
        if missing == "graphviz":
            what, install = "the Python package graphviz is not installed", "pip install graphviz"
        else:
            what = "the Graphviz program `dot` is not on PATH"
            install = "apt-get install graphviz (or your system's Graphviz package)"
        return (
            f"cannot render {format}: {what}; install it ({install}); "
            "mermaid, dot and md text need neither"
        )
