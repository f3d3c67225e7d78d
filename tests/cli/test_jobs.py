"""`provenflow jobs`: posting, listing, showing, trashing and waiting, and their errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from provenflow.jobs import open_board
from provenflow.jobs._sql_rows import JOBS
from provenflow.persistence import Owner
from tests.cli.conftest import invoke, plain

OWNER = Owner("host", 1, "c" * 32)


@pytest.fixture
def board(tmp_path: Path) -> str:
    """A SQLite job board URL in a fresh directory (made by the first post)."""
    return f"sqlite:///{tmp_path / 'jobs.db'}"


def post(board: str, *args: str) -> str:
    result = invoke("jobs", "post", "flows.py:make_flow", "--board", board, *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def error_line(result: object) -> str:
    lines = plain(result.stderr).splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    return lines[0]


def test_post_prints_the_id_and_list_json_holds_id_name_and_state(board: str) -> None:
    first = post(board, "--name", "first", "--store", '{"n": 1}', "--priority", "2")
    second = post(board, "--key", "k")
    assert post(board, "--key", "k", "--store", '{"n": 9}') == second
    listed = json.loads(invoke("jobs", "list", "--board", board, "--json").stdout)
    assert [(job["id"], job["name"], job["state"]) for job in listed] == [
        (first, "first", "UNCLAIMED"),
        (second, "make_flow", "UNCLAIMED"),
    ]
    assert (listed[0]["store"], listed[0]["priority"]) == ({"n": 1}, 2)
    assert first in invoke("jobs", "list", "--board", board).stdout


def test_posting_never_imports_the_factory(tmp_path: Path, board: str) -> None:
    marker = tmp_path / "imported"
    factory = tmp_path / "evil.py"
    factory.write_text(f"open({str(marker)!r}, 'w').close()\ndef make():\n    pass\n")
    result = invoke("jobs", "post", f"{factory}:make", "--board", board)
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    assert open_board(board).get(result.stdout.strip()).factory == f"{factory}:make"


def test_show_and_history_tell_who_claimed_the_job_and_why_it_ended(board: str) -> None:
    job_id = post(board, "--details", '{"by": "shop"}')
    opened = open_board(board)
    claim = opened.claim(OWNER, 60.0)
    assert claim is not None
    opened.abandon(claim, "conductor stopping")
    shown = invoke("jobs", "show", job_id, "--board", board, "--json")
    document = json.loads(shown.stdout)
    assert (document["state"], document["details"]) == ("UNCLAIMED", {"by": "shop"})
    assert [step["event"] for step in document["history"]] == ["post", "claim", "abandon"]
    steps = json.loads(invoke("jobs", "history", job_id, "--board", board, "--json").stdout)
    assert (steps[1]["owner"]["id"], steps[1]["token"]) == (OWNER.id, 1)
    assert steps[2]["reason"] == "conductor stopping"
    text = invoke("jobs", "history", job_id, "--board", board).stdout
    assert "conductor stopping" in text and "abandon" in text
    assert "state:" in invoke("jobs", "show", job_id, "--board", board).stdout


def test_trash_then_wait_exits_1_with_the_reason(board: str) -> None:
    job_id = post(board)
    trashed = invoke("jobs", "trash", job_id, "--board", board, "--reason", "posted by mistake")
    assert (trashed.exit_code, trashed.stdout.strip()) == (0, f"job {job_id} trashed")
    waited = invoke("jobs", "wait", job_id, "--board", board)
    assert waited.exit_code == 1
    assert plain(waited.stdout).strip() == f"job {job_id} TRASHED: posted by mistake"
    again = invoke("jobs", "trash", job_id, "--board", board, "--reason", "again")
    assert again.exit_code == 2
    assert "is TRASHED: only a job not yet finished can be trashed" in error_line(again)


def test_trash_of_a_claimed_job_is_refused_and_changes_nothing(board: str) -> None:
    job_id = post(board)
    opened = open_board(board)
    assert opened.claim(OWNER, 60.0) is not None
    before = opened.get(job_id)
    result = invoke("jobs", "trash", job_id, "--board", board, "--reason", "no")
    assert result.exit_code == 2
    assert f"job {job_id!r} is claimed by" in error_line(result)
    assert opened.get(job_id) == before


def test_wait_exits_0_once_the_job_is_completed(board: str) -> None:
    job_id = post(board)
    opened = open_board(board)
    claim = opened.claim(OWNER, 60.0)
    assert claim is not None
    results = []
    thread = threading.Thread(
        target=lambda: results.append(invoke("jobs", "wait", job_id, "--board", board))
    )
    thread.start()
    opened.complete(claim, "SUCCESS")
    thread.join(timeout=60.0)
    assert [r.exit_code for r in results] == [0]
    assert plain(results[0].stdout).strip() == f"job {job_id} COMPLETE (SUCCESS)"


def test_wait_past_its_timeout_exits_2(board: str) -> None:
    job_id = post(board)
    result = invoke("jobs", "wait", job_id, "--board", board, "--timeout", "0")
    assert result.exit_code == 2
    assert error_line(result) == f"provenflow: error: job {job_id} is still UNCLAIMED after 0.0 s"


def test_list_filters_by_state(board: str) -> None:
    first, second = post(board), post(board)
    open_board(board).discard(second, "no")
    result = invoke("jobs", "list", "--board", board, "--state", "trashed", "--json")
    assert [job["id"] for job in json.loads(result.stdout)] == [second]
    assert first not in result.stdout
    bad = invoke("jobs", "list", "--board", board, "--state", "RUNNING")
    assert bad.exit_code == 2 and "'RUNNING' is not one of" in error_line(bad)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["show", "nope"], "job 'nope': not found on the board"),
        (["history", "nope"], "job 'nope': not found on the board"),
        (["wait", "nope"], "job 'nope': not found on the board"),
        (["trash", "nope", "--reason", "x"], "job 'nope': not found on the board"),
    ],
)
def test_an_unknown_job_id_is_one_line_and_exit_2(board: str, args: list[str], words: str) -> None:
    post(board)
    result = invoke("jobs", *args, "--board", board)
    assert result.exit_code == 2
    assert words in error_line(result)


def test_an_unknown_scheme_or_a_missing_board_is_one_line_and_exit_2(tmp_path: Path) -> None:
    unknown = invoke("jobs", "list", "--board", "nats://localhost/0")
    assert unknown.exit_code == 2
    assert "unknown URL scheme 'nats' (known: memory://" in error_line(unknown)
    missing = invoke("jobs", "list", "--board", f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.exit_code == 2 and "no job board at" in error_line(missing)
    assert not (tmp_path / "none.db").exists()
    bad = invoke("jobs", "post", "flows.py", "--board", f"sqlite:///{tmp_path / 'b.db'}")
    assert bad.exit_code == 2 and "expected FILE_OR_MODULE:NAME" in error_line(bad)


def test_a_corrupt_job_is_listed_as_corrupt_and_shown_as_one_error(board: str) -> None:
    good, bad = post(board), post(board)
    engine = sa.create_engine(board)
    with engine.begin() as conn:
        conn.execute(JOBS.update().where(JOBS.c.id == bad).values(history="[{"))
    engine.dispose()
    listed = json.loads(invoke("jobs", "list", "--board", board, "--json").stdout)
    assert [(job["id"], job["state"]) for job in listed] == [(good, "UNCLAIMED"), (bad, "CORRUPT")]
    assert "the history does not read back" in listed[1]["problem"]
    assert f"job {bad} is corrupt" in plain(invoke("jobs", "list", "--board", board).stdout)
    shown = invoke("jobs", "show", bad, "--board", board)
    assert shown.exit_code == 2
    assert f"job {bad!r}: the history does not read back" in error_line(shown)


def test_names_from_the_board_are_printed_escaped(board: str) -> None:
    job_id = post(board, "--name", "evil\x1b[2J\nname")
    listed = invoke("jobs", "list", "--board", board).stdout
    shown = invoke("jobs", "show", job_id, "--board", board).stdout
    for text in (listed, shown):
        assert "\x1b[2J" not in text and "evil\\x1b[2J\\nname" in text


def test_post_with_a_delay_and_a_priority_sets_when_and_in_which_order(board: str) -> None:
    later = post(board, "--delay", "3600", "--priority", "9")
    now = post(board, "--priority", "1")
    job = json.loads(invoke("jobs", "show", later, "--board", board, "--json").stdout)
    assert job["priority"] == 9 and job["not_before"] >= job["posted_at"] + 3600 - 1
    claim = open_board(board).claim(OWNER, 60.0)
    assert claim is not None and claim.job_id == now  # the other one waits for its time


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--store", "{"], "--store: not valid JSON"),
        (["--details", "[1]"], "--details: expected a JSON object, got list"),
        (["--priority", "high"], "'high' is not a valid integer"),
        (["--delay", "-1"], "-1"),
    ],
)
def test_post_refuses_bad_options_and_posts_nothing(
    board: str, args: list[str], words: str
) -> None:
    result = invoke("jobs", "post", "flows.py:make_flow", "--board", board, *args)
    assert result.exit_code == 2
    assert words in error_line(result)
    missing = invoke("jobs", "list", "--board", board)
    assert missing.exit_code == 2 or "flows.py:make_flow" not in missing.stdout
