"""States kept as 64-bit fingerprints (`provenflow/verification/_fingerprint.py`): the search
stores ints, says how likely a collision was, and explores exactly what it explores with whole
keys, on random flows and on every planted bug."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

import provenflow as pf
from provenflow.cli import main
from provenflow.verification import behaviours, check, flows
from provenflow.verification._fingerprint import collision_bound, fingerprint
from provenflow.verification._search import Search as _Search
from provenflow.verification._strategies_plans import FlowPlan
from provenflow.verification._strategies_tasks import Journal
from provenflow.verification._value_key import Uncaptured
from tests.verification.test_mutations import MUTANTS, Mutant


def noop() -> None:
    """What every task of `unordered` does."""


def unordered() -> pf.Flow:
    return pf.UnorderedFlow("u").add(*(pf.task(noop, name=f"t{i}") for i in range(3)))


def test_a_search_keeps_only_ints_and_states_the_chance_of_a_collision() -> None:
    search = _Search(unordered, {}, 1, 0, [], None, 100_000, 60.0, False)
    report = search.with_snapshots()
    assert report.ok
    assert search.seen and search.passed and search.resumes
    assert all(type(key) is int for key in (*search.seen, *search.passed, *search.resumes))
    assert not search.shared  # the book numbers parts by fingerprint and keeps none
    stored = 5 * (len(search.seen) + len(search.passed)) + len(search.resumes)
    assert report.collision_probability == collision_bound(stored)
    assert 0 < report.collision_probability < 1e-9
    assert "states kept as 64-bit fingerprints (probability of a collision at most" in str(report)


def test_with_whole_keys_the_search_keeps_the_keys_and_claims_no_collision_bound() -> None:
    search = _Search(unordered, {}, 1, 0, [], None, 100_000, 60.0, False, fingerprints=False)
    report = search.with_snapshots()
    assert all(type(key) is tuple for key in search.seen)
    assert search.shared  # the parts, numbered
    assert report.collision_probability is None
    assert "fingerprints" not in str(report)


def test_the_bound_grows_with_the_square_of_what_is_stored() -> None:
    assert collision_bound(10**6) == pytest.approx(10**12 / 2**62)
    assert collision_bound(2 * 10**6) == pytest.approx(4 * collision_bound(10**6))


def test_equal_keys_have_equal_fingerprints() -> None:
    first = ("take", ("a", "b"), frozenset({("x", 1), ("y", 2)}), None)
    second = ("take", ("a", "b"), frozenset({("y", 2), ("x", 1)}), None)
    assert fingerprint(first) == fingerprint(second)


def test_a_marker_of_what_cannot_be_captured_does_not_pass_its_fingerprint_on() -> None:
    """A freed marker's id is often given to the next object: its hash must not follow."""
    hashes = set()
    for _ in range(50):
        marker = Uncaptured("a world")
        hashes.add(hash(marker))
        del marker
        gc.collect()
    assert len(hashes) == 50


@pytest.mark.slow
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(flows(behaviours=behaviours(faults=False), max_tasks=3, max_depth=2))
def test_on_random_flows_fingerprints_explore_what_whole_keys_explore(plan: FlowPlan) -> None:
    def make() -> object:
        return plan.build(Journal())

    whole = check(make, crashes=1, max_states=20_000, snapshots=True, _fingerprints=False)
    printed = check(make, crashes=1, max_states=20_000, snapshots=True)
    if whole.incomplete or printed.incomplete:
        return  # a bound stopped them: nothing to compare
    assert (whole.states_explored, whole.choices, whole.transitions) == (
        printed.states_explored,
        printed.choices,
        printed.transitions,
    )
    assert [v.rule for v in whole.violations] == [v.rule for v in printed.violations]


@pytest.mark.parametrize("mutated", MUTANTS, ids=lambda m: m.name)
def test_every_planted_bug_is_caught_alike_with_fingerprints_and_whole_keys(
    mutated: Mutant, monkeypatch: pytest.MonkeyPatch
) -> None:
    mutated.plant(monkeypatch)
    whole = check(mutated.flow, **mutated.bounds, _fingerprints=False)
    printed = check(mutated.flow, **mutated.bounds)
    assert [v.rule for v in printed.violations] == [v.rule for v in whole.violations]
    assert printed.violations and printed.violations[0].choices == whole.violations[0].choices
    assert printed.states_explored == whole.states_explored


def test_verify_json_gives_the_collision_bound_and_how_the_search_branched() -> None:
    saga = Path(__file__).resolve().parents[2] / "examples" / "flawed_saga.py"
    args = ["verify", f"{saga}:make_fixed", "--invariant", f"{saga}:consistent", "--json"]
    document = json.loads(CliRunner().invoke(main, args).output)
    assert document["ok"] is True
    assert 0 < document["collision_probability"] < 1e-9
    assert document["replayed"] is None  # branched from snapshots, the world put back
