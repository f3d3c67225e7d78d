"""What a resumed run gives its atoms: every value the live run would have given them.

A core rebuilt from a record (`records_from`, `Core(records=...)`) must hold in `provided`
exactly what the live core held when that record was written, whatever state each provider was
left in (SUCCESS, REVERTING after it succeeded, a retry RETRYING or running again); and a
revert is never called with a value left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import provenflow as pf
from provenflow.engine import Core, perform, records_from
from provenflow.errors import MissingValue
from provenflow.failure import Failure
from provenflow.flows import compile_flow
from provenflow.persistence import MemoryStorage, Transition, open_storage
from tests.helpers import Crash, CrashingStorage, Journal, keep_only_successes_values, make_task
from tests.persistence.conftest import Backend, durable, postgres_url  # noqa: F401 (fixtures)

# -- the flow of issue 13: a crash just before the REVERTING record of a retried task ----------


class Login(pf.Task):
    def execute(self) -> str:
        return "token-7"


class Call(pf.Task):
    """Fails its first attempt; its revert needs the token (and says which attempt it undoes)."""

    def __init__(self, reverted: list[tuple[str, int]]) -> None:
        super().__init__(name="call")
        self.reverted = reverted

    def execute(self, token: str, attempt: int) -> str:
        if attempt == 1:
            raise ConnectionError("the first call times out")
        return f"called with {token}"

    def revert(self, token: str, attempt: int, **_: Any) -> None:
        self.reverted.append((token, attempt))


def login_then_retried_call(reverted: list[tuple[str, int]]) -> pf.Flow:
    calls = pf.LinearFlow("calls", retry=pf.Times(2, name="twice", provides="attempt"))
    login = Login(name="login", provides="token")
    return pf.LinearFlow("api").add(login, calls.add(Call(reverted)))


def _write_of(history: list[Transition], atom: str, new_state: str) -> int:
    """The 1-based number of the write that recorded `atom` entering `new_state`."""
    return next(n for n, t in enumerate(history, 1) if t.atom == atom and t.new_state == new_state)


def test_a_retry_left_retrying_gives_its_value_to_a_revert_after_a_crash(
    durable: Backend,  # noqa: F811 (the fixture)
) -> None:
    reverted: list[tuple[str, int]] = []
    whole = pf.Engine(login_then_retried_call(reverted), backend=MemoryStorage())
    whole.run()
    assert whole.state == "SUCCESS"
    crash_at = _write_of(list(whole.history()), "call", "REVERTING")

    reverted.clear()
    crashing = CrashingStorage(durable.open(), crash_at=crash_at)
    engine = pf.Engine(login_then_retried_call(reverted), backend=crashing)
    with pytest.raises(Crash):
        engine.run()
    store = durable.open()
    _, left, _ = store.load(engine.flow_id)
    # The crash came just before `call` REVERTING: the retry is RETRYING, `call` FAILURE.
    last = [(t.atom, t.new_state) for t in left[-2:]]
    assert last == [("call", "FAILURE"), ("twice", "RETRYING")]
    assert reverted == []

    resumed = pf.Engine.load(login_then_retried_call(reverted), store, engine.flow_id)
    assert resumed.run() == {"token": "token-7", "attempt": 2}
    assert resumed.state == "SUCCESS"
    assert reverted == [("token-7", 1)]  # the first attempt undone, given what it was given


# -- the live core and the resumed one, at every write of every path -------------------------


Factory = Callable[[Journal], pf.Flow]


def retried_call(journal: Journal) -> pf.Flow:
    calls = pf.LinearFlow("calls", retry=pf.Times(2, name="twice", provides="attempt"))
    return pf.LinearFlow("api").add(
        make_task(journal, "login", provides="token"),
        calls.add(make_task(journal, "call", requires=("token", "attempt"), provides="answer")),
        make_task(journal, "use", requires=("answer",)),
    )


def nested_retries(journal: Journal) -> pf.Flow:
    inner = pf.LinearFlow("inner", retry=pf.Times(2, name="inner_retry", provides="inner"))
    inner.add(make_task(journal, "b", requires=("x", "inner", "outer"), provides="y"))
    outer = pf.LinearFlow("outer", retry=pf.Times(2, name="outer_retry", provides="outer"))
    outer.add(make_task(journal, "a", requires=("outer",), provides="x"), inner)
    return pf.LinearFlow("nested").add(outer, make_task(journal, "c", requires=("y", "x")))


def for_each_in_parallel(journal: Journal) -> pf.Flow:
    branches = pf.UnorderedFlow("branches", retry=pf.ForEach([5, 6], name="each", provides="n"))
    branches.add(
        make_task(journal, "left", requires=("n",), provides="l"),
        make_task(journal, "right", requires=("n",), provides="r"),
    )
    return pf.LinearFlow("fan").add(branches, make_task(journal, "join", requires=("l", "r")))


def ignored_provider(journal: Journal) -> pf.Flow:
    source = make_task(journal, "source", provides="s")
    skipped = make_task(journal, "skipped", provides="v")
    kept = make_task(journal, "kept", requires=("s",), provides="w")
    graph = pf.GraphFlow("graph", retry=pf.Times(2, name="again", provides="round"))
    graph.add(source, skipped, kept, make_task(journal, "last", requires=("w", "round")))
    graph.link(source, skipped, decider=lambda history: False, depth=pf.Depth.ATOM)
    return graph


FLOWS: dict[str, Factory] = {
    "retried call": retried_call,
    "nested retries": nested_retries,
    "for each, in parallel": for_each_in_parallel,
    "ignored provider": ignored_provider,
}


class Path:
    """One path of a run on the core alone: each execute and revert runs (0) or raises (1), as
    `choices` say; after every batch of transitions the core makes (what the runner would write
    at once), a core rebuilt from everything so far must hold what the live one holds."""

    def __init__(self, factory: Factory, choices: list[int], workers: int) -> None:
        self.compiled = compile_flow(factory(Journal()))
        self.choices = iter(choices)
        self.workers = workers
        self.written: list[Transition] = []
        self.compared = 0

    def run(self) -> bool:
        """Play the path; return False at the first choice `choices` does not make."""
        core = Core(self.compiled)
        core.start()
        self._write(core)
        while not core.over:
            for work in core.take_work(self.workers):
                self._write(core)
                choice = next(self.choices, None)
                if choice is None:
                    return False
                if choice == 0:
                    core.finish(work, perform(work))
                else:
                    injected = RuntimeError(f"{work.action} {work.node!r} raises (injected)")
                    core.finish(work, failure=Failure.from_exception(injected))
                self._write(core)
        return True

    def _write(self, core: Core) -> None:
        batch = core.drain()
        if not batch:
            return
        self.written += batch
        records, flow_events = records_from(self.written)
        resumed = Core(self.compiled, records=records, flow_events=flow_events)
        assert resumed.provided == core.provided, (
            f"after write {len(self.written)} ({[str(t) for t in batch]}): the live core "
            f"holds {core.provided}, the resumed one {resumed.provided}"
        )
        self.compared += 1


def every_path(factory: Factory, workers: int) -> Iterator[Path]:
    """Every path, depth first: each unmade choice tried both ways."""
    stack: list[list[int]] = [[]]
    while stack:
        choices = stack.pop()
        path = Path(factory, choices, workers)
        if path.run():
            yield path
        else:
            stack += [[*choices, 1], [*choices, 0]]


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("name", FLOWS)
def test_the_resumed_core_holds_what_the_live_one_held_at_every_write(
    name: str, workers: int
) -> None:
    paths = list(every_path(FLOWS[name], workers))
    assert len(paths) > 20  # each flow has many: every execute and revert may raise
    assert sum(path.compared for path in paths) > 10 * len(paths)


def test_the_comparison_sees_a_value_lost_on_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exhaustive test above fails when resume keeps only SUCCESS atoms' values (the bug
    of issue 13): it is not comparing two empty dicts."""
    keep_only_successes_values(monkeypatch)
    with pytest.raises(AssertionError, match="the live core holds"):
        list(every_path(retried_call, 1))


# -- a value a revert cannot be given ---------------------------------------------------------


def test_a_revert_missing_a_value_fails_naming_it_and_is_not_called() -> None:
    journal = Journal()
    flow = pf.LinearFlow("f").add(
        make_task(journal, "provider", provides="x"),
        make_task(journal, "consumer", requires=("x",)),
    )
    storage = MemoryStorage()
    done = pf.Engine(flow, backend=storage)
    done.run()
    _, history, _ = storage.load(done.flow_id)
    # A record no run writes (the provider undone before what depends on it), to reach the
    # one case left where a revert would lack a value: the flow reverting, the provider
    # already REVERTED, the consumer still SUCCESS.
    flow_start, provider_start, provider_done, consumer_start, consumer_done = history[:5]
    undone = [
        Transition(None, "flow", "RUNNING", "fail", "REVERTING", 0, 0.0),
        Transition("provider", "task", "SUCCESS", "revert", "REVERTING", 1, 0.0),
        Transition("provider", "task", "REVERTING", "reverted", "REVERTED", 1, 0.0),
    ]
    record = [flow_start, provider_start, provider_done, consumer_start, consumer_done, *undone]
    records, flow_events = records_from(record)
    core = Core(compile_flow(flow), records=records, flow_events=flow_events)
    core.start()
    assert core.take_work(5) == []
    assert core.flow.state == "FAILURE"
    assert core.state_of("consumer") == "REVERT_FAILURE"
    failure = core.revert_failures["consumer"]
    assert failure.type_name == "provenflow.errors.MissingValue"
    assert failure.message == (
        "atom 'consumer' needs 'x' from 'provider' to revert, but 'provider' is REVERTED and "
        "holds no value for it: the revert is not called without it"
    )
    assert journal.actions("revert") == []  # the whole run reverted nothing; the core called none


def test_the_consumer_of_an_ignored_provider_never_ran_so_its_revert_is_not_called() -> None:
    journal = Journal()
    source = make_task(journal, "source")
    provider = make_task(journal, "provider", provides="x")
    graph = pf.GraphFlow("g").add(source, provider, make_task(journal, "consumer", requires=("x",)))
    graph.link(source, provider, decider=lambda history: False, depth=pf.Depth.ATOM)
    engine = pf.Engine(graph)
    with pytest.raises(MissingValue, match="needs 'x' from 'provider', which is IGNORE") as caught:
        engine.run()
    assert (caught.value.atom, caught.value.symbol, caught.value.action) == (
        "consumer",
        "x",
        "execute",
    )
    assert engine.state == "REVERTED"
    assert engine.atom_state("consumer") == "REVERTED"
    assert journal.actions("execute") == ["source"]
    assert journal.actions("revert") == ["source"]  # not the consumer: it never executed


def test_a_revert_value_survives_a_real_store_round_trip(tmp_path: Any) -> None:
    """The record a durable store gives back rebuilds the values too (not only memory)."""
    reverted: list[tuple[str, int]] = []
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    engine = pf.Engine(login_then_retried_call(reverted), backend=url)
    engine.run()
    _, transitions, _ = open_storage(url).load(engine.flow_id)
    cut = _write_of(transitions, "call", "REVERTING") - 1
    records, _ = records_from(transitions[:cut])
    assert (records["twice"].provides, records["twice"].has_provides) == (1, True)
    assert (records["login"].provides, records["call"].has_provides) == ("token-7", False)
