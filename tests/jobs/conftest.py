"""Fixtures for the job board tests: each board kind, on a fresh board, with time under control.

`case` gives every board kind (the conformance suite runs on each): `memory://`,
`sqlite:///<tmp>/jobs.db`, PostgreSQL (a schema of its own per test, from
`tests/persistence/conftest.py`) and Redis (a key prefix of its own per test, from
`tests/locks/conftest.py`); a server that cannot be reached skips its tests with the reason,
failing instead under `CI=true`. `sql` gives the two SQL kinds.

Time. Memory and SQLite boards take a fake clock that `case.pass_time(seconds)` moves at once;
a PostgreSQL or Redis board reads its server's clock, so there `pass_time` waits, polling the
server's time with a deadline, and claims in tests that let time pass use `case.short_ttl` (a
fraction of a second there, 30 s on a fake clock).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from provenflow.jobs import Board, MemoryBoard, open_board
from tests.locks.conftest import redis_url  # noqa: F401 (a fixture used by name)
from tests.persistence.conftest import postgres_url  # noqa: F401 (a fixture used by name)

START = 1_800_000_000.0


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class BoardCase:
    """One board kind on a fresh board: `board`, `open()` for another board object on the same
    jobs (a second worker), and time under control (see the module docstring)."""

    kind: str
    url: str
    clock: FakeClock | None
    short_ttl: float
    opened: list[Board] = field(default_factory=list)

    @property
    def board(self) -> Board:
        return self.opened[0] if self.opened else self.open()

    def open(self) -> Board:
        if self.kind == "memory" and self.opened:
            return self.opened[0]
        board = open_board(self.url, clock=self.clock)
        self.opened.append(board)
        return board

    def pass_time(self, seconds: float) -> None:
        """Let `seconds` of the board's time pass (at once on a fake clock)."""
        if self.clock is not None:
            self.clock.advance(seconds)
            for board in self.opened:
                if isinstance(board, MemoryBoard):
                    board.notify()
            return
        target = self.board.now() + seconds
        deadline = time.monotonic() + seconds + 10.0
        while self.board.now() <= target:  # the server's clock: poll it, with a deadline
            assert time.monotonic() < deadline, "the server's clock did not move"
            time.sleep(0.01)

    def close(self) -> None:
        for board in self.opened:
            board.close()


def _case(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> BoardCase:
    if kind == "postgresql":
        return BoardCase(kind, request.getfixturevalue("postgres_url"), None, 0.3)
    if kind == "redis":
        return BoardCase(kind, request.getfixturevalue("redis_url"), None, 0.3)
    url = "memory://" if kind == "memory" else f"sqlite:///{tmp_path / 'jobs.db'}"
    return BoardCase(kind, url, FakeClock(), 30.0)


def _case_fixture(kinds: list[str]) -> object:
    @pytest.fixture(params=kinds)
    def fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BoardCase]:
        found = _case(request.param, tmp_path, request)
        try:
            yield found
        finally:
            found.close()

    return fixture


case = _case_fixture(["memory", "sqlite", "postgresql", "redis"])
sql = _case_fixture(["sqlite", "postgresql"])
