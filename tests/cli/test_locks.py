"""`provenflow locks list`: what a lock service holds, escaped, as a table or as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provenflow.locks import Owner, open_locks
from tests.cli.conftest import invoke, plain
from tests.locks.conftest import FakeClock, redis_url  # noqa: F401 (a fixture used here)
from tests.persistence.conftest import postgres_url  # noqa: F401 (a fixture used here)

HOSTILE = "[bold red]fake[/]\x1b[2J\r名前"


@pytest.fixture
def url(tmp_path: Path) -> str:
    """An SQLite lock service holding `orders` (live), `HOSTILE` (live) and `stale` (expired,
    not taken over), and `gone` (released), at a clock 100 s after they were taken."""
    clock = FakeClock()
    url = f"sqlite:///{tmp_path / 'locks.db'}"
    service = open_locks(url, clock=clock)
    owner = Owner("worker-1", 4242, "a" * 32)
    service.acquire("orders", owner, 130.0)
    service.acquire(HOSTILE, Owner("host\x1b[2J", 7, "b" * 32), 1_000.0)
    service.acquire("stale", owner, 40.0)
    gone = service.acquire("gone", owner, 500.0)
    service.release("gone", owner, gone.token)
    service.close()
    clock.advance(100.0)
    return url


def test_the_table_lists_each_held_lock(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.time", lambda: FakeClock().now + 100.0)  # SQLite: local time
    result = invoke("locks", "list", "--locks", url)
    assert result.exit_code == 0, result.output
    text = plain(result.stdout)
    lines = {line.split()[1]: line for line in text.splitlines() if "aaaaaaaa" in line}
    assert "in 30.0 s" in lines["orders"]
    assert "4242 on worker-1" in lines["orders"]
    assert "expired 60.0 s ago" in lines["stale"]
    assert "gone" not in text
    assert r"[bold red]fake[/]\x1b[2J\r名前" in text
    assert r"host\x1b[2J" in text
    assert "\x1b[2J" not in result.stdout


def test_json_lists_each_held_lock_exactly(url: str) -> None:
    result = invoke("locks", "list", "--locks", url, "--json")
    assert result.exit_code == 0, result.output
    found = {lock["name"]: lock for lock in json.loads(result.stdout)}
    assert set(found) == {"orders", "stale", HOSTILE}
    orders = found["orders"]
    assert (orders["owner"], orders["pid"], orders["host"], orders["token"]) == (
        "a" * 32,
        4242,
        "worker-1",
        1,
    )
    assert orders["expires_in"] == pytest.approx(
        orders["expires_at"] - (found["stale"]["expires_at"] - found["stale"]["expires_in"])
    )


@pytest.mark.parametrize(
    ("locks_url", "problem"),
    [
        ("ftp://host/locks", "unknown scheme 'ftp'"),
        ("sqlite:///{tmp}/missing.db", "does not exist"),
        ("redis://127.0.0.1:1/0", "cannot list the locks"),
    ],
)
def test_bad_services_are_one_line(tmp_path: Path, locks_url: str, problem: str) -> None:
    result = invoke("locks", "list", "--locks", locks_url.replace("{tmp}", str(tmp_path)))
    assert result.exit_code == 2
    assert problem in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_json_errors_are_json(tmp_path: Path) -> None:
    result = invoke("locks", "list", "--locks", "ftp://host", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["type"] == "UsageError"


def test_an_empty_database_holds_no_locks_and_is_left_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_locks(url).close()  # made with its table
    result = invoke("locks", "list", "--locks", url, "--json")
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])


@pytest.mark.parametrize("server", ["redis_url", "postgres_url"])
def test_a_server_s_locks_are_listed(request: pytest.FixtureRequest, server: str) -> None:
    url = request.getfixturevalue(server)
    service = open_locks(url)
    lease = service.acquire("orders", Owner("worker-1", 4242, "c" * 32), 60.0)
    service.close()
    result = invoke("locks", "list", "--locks", url, "--json")
    assert result.exit_code == 0, result.output
    (lock,) = json.loads(result.stdout)
    assert (lock["name"], lock["token"], lock["owner"]) == ("orders", lease.token, "c" * 32)
    assert 0 < lock["expires_in"] <= 60.0  # in the server's clock
