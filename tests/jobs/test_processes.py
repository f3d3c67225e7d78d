"""A worker paused past its claim, in a real process: its job is claimed again, and it is fenced.

A child process claims a job (`ttl=1`) and is stopped with SIGSTOP. Its claim expires in the
board's time and this process claims the job. When the child is continued, its renewal and its
completion are refused (`ClaimLost`) and change nothing; the job's history shows the claim lost,
with the child's owner and token. This is the scenario fencing tokens exist for (docs/jobs.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from provenflow.jobs import open_board
from provenflow.persistence import Owner
from tests.jobs.conftest import BoardCase

ROOT = Path(__file__).resolve().parent.parent.parent

CHILD = """
import json, sys
from provenflow.errors import ClaimLost
from provenflow.jobs import new_owner, open_board

board = open_board(sys.argv[1])
claim = board.claim(new_owner(), ttl=1.0)
print(json.dumps({"job": claim.job_id, "token": claim.token, "owner": claim.owner.id}), flush=True)
sys.stdin.readline()  # the parent says when to go on
refused = []
for request in (lambda: board.renew(claim, 60.0), lambda: board.complete(claim, "SUCCESS")):
    try:
        request()
    except ClaimLost as error:
        refused.append(str(error))
print(json.dumps({"refused": refused}), flush=True)
"""


def test_a_paused_worker_loses_its_claim_and_is_fenced(sql: BoardCase) -> None:
    board = open_board(sql.url)  # the real clock, as the child's
    job = board.post("flows.py:make_flow")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, sql.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        claimed = json.loads(child.stdout.readline())
        assert (claimed["job"], claimed["token"]) == (job.id, 1)
        os.kill(child.pid, signal.SIGSTOP)
        me = Owner("parent", os.getpid(), "p" * 32)
        deadline = time.monotonic() + 30.0
        while (taken := board.claim(me, 60.0)) is None:  # until the child's claim expired
            assert time.monotonic() < deadline, "the child's claim never expired"
            time.sleep(0.05)
        assert (taken.job_id, taken.token) == (job.id, 2)
        os.kill(child.pid, signal.SIGCONT)
        child.stdin.write("go on\n")
        child.stdin.flush()
        refused = json.loads(child.stdout.readline())["refused"]
        assert len(refused) == 2
        assert all("taken over (the job's current token is 2)" in text for text in refused)
    finally:
        os.kill(child.pid, signal.SIGCONT)
        child.kill()
        child.wait()
    stored = board.get(job.id)
    assert [step.event for step in stored.history] == ["post", "claim", "claim_lost", "claim"]
    lost = stored.history[2]
    assert lost.owner is not None and (lost.owner.id, lost.token) == (claimed["owner"], 1)
    assert stored.owner == me and board.complete(taken, "SUCCESS").state == "COMPLETE"
    board.close()
