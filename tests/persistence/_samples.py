"""Sample runs and transitions shared by the storage tests."""

from __future__ import annotations

from typing import Any

from provenflow.failure import Failure
from provenflow.persistence import AtomInfo, RunInfo, Storage, Transition

RUN = RunInfo(
    "run-1",
    "order",
    # charge with its scope (flow "payment", under retry "again"); again as recorded before
    # scopes were kept (no scope): both must load back as they were.
    (AtomInfo("charge", "task", "1.0", "payment", "again"), AtomInfo("again", "retry", "2")),
    {"order_id": 7, "customer": {"name": "Zoë", "tags": ["new", "vip"]}},
    "shop.flows:order",
)


def start(at: float = 1.0) -> Transition:
    return Transition(None, "flow", "PENDING", "start", "RUNNING", 0, at)


def running(atom: str, attempt: int = 1, at: float = 2.0) -> Transition:
    return Transition(atom, "task", "PENDING", "start", "RUNNING", attempt, at)


def succeeded(atom: str, result: Any, attempt: int = 1, at: float = 3.0) -> Transition:
    return Transition(atom, "task", "RUNNING", "succeed", "SUCCESS", attempt, at, result)


def failure_with_cause() -> Failure:
    try:
        try:
            raise KeyError("card")
        except KeyError as error:
            raise ValueError("declined: ünïcode") from error
    except ValueError as error:
        return Failure.from_exception(error)


def loaded(store: Storage, flow_id: str = "run-1") -> tuple[list[Transition], int]:
    _, transitions, version = store.load(flow_id)
    return transitions, version
