"""`provenflow runs` tells a run with a live engine from an abandoned (resumable) one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import provenflow as pf
from provenflow.persistence import Owner, open_storage
from tests.cli.conftest import invoke, plain

ALIVE = Owner("elsewhere", 4242, "1" * 32)
DEAD = Owner("elsewhere", 4343, "2" * 32)


def one() -> pf.Flow:
    return pf.LinearFlow("demo").add(pf.task(lambda: 1, name="one"))


def test_runs_shows_live_abandoned_resumable_and_ended_runs(db: str) -> None:
    storage = open_storage(db)
    ended = pf.Engine(one(), backend=storage, flow_id="ended")
    ended.run()
    pf.Engine(one(), backend=storage, flow_id="live")
    storage.take_lease("live", ALIVE, 600.0)
    pf.Engine(one(), backend=storage, flow_id="abandoned")
    storage.take_lease("abandoned", DEAD, 0.05)
    pf.Engine(one(), backend=storage, flow_id="fresh")
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    pf.Engine(one(), backend=storage, flow_id="gone")
    storage.take_lease("gone", Owner(socket.gethostname(), exited.pid, "3" * 32), 600.0)
    deadline = time.monotonic() + 20
    while storage.leases()[0]["abandoned"].live(storage.leases()[1]):
        assert time.monotonic() < deadline, "the short lease never expired"
        time.sleep(0.02)

    result = invoke("runs", "-b", db, "--json")
    assert result.exit_code == 0, result.output
    listed = {run["flow_id"]: run["engine"] for run in json.loads(result.output)}
    assert {flow_id: engine["status"] for flow_id, engine in listed.items()} == {
        "ended": "ended",
        "live": "live",
        "abandoned": "abandoned",
        "fresh": "resumable",
        "gone": "abandoned",  # its lease holds, but its process on this host is gone
    }
    assert listed["ended"]["lease"] is None and listed["fresh"]["lease"] is None
    live = listed["live"]["lease"]
    assert (live["owner"], live["pid"], live["host"], live["token"]) == (
        ALIVE.id, 4242, "elsewhere", 1,
    )  # fmt: skip
    assert 500 < live["expires_in"] <= 600
    assert listed["abandoned"]["lease"]["expires_in"] < 0

    table = plain(invoke("runs", "-b", db).output)
    lines = {line.split()[1]: line for line in table.splitlines() if line.count("│") > 3}
    assert "live: 11111111 (pid 4242 on elsewhere), lease" in lines["live"]
    assert (
        "abandoned (lease of 22222222 (pid 4343 on elsewhere) expired): resumable"
        in (lines["abandoned"])
    )
    assert "resumable" in lines["fresh"] and "live" not in lines["ended"]
    assert (
        f"(pid {exited.pid} on {socket.gethostname()}) process gone): resumable" in (lines["gone"])
    )


def test_history_names_the_engine_whose_lease_was_taken_over(db: str) -> None:
    storage = open_storage(db)
    engine = pf.Engine(one(), backend=storage, flow_id="taken")
    storage.take_lease("taken", DEAD, 0.05)
    deadline = time.monotonic() + 20
    while storage.leases()[0]["taken"].live(storage.leases()[1]):
        assert time.monotonic() < deadline, "the short lease never expired"
        time.sleep(0.02)
    engine.run()
    table = plain(invoke("history", "taken", "-b", db).output)
    (line,) = [line for line in table.splitlines() if "taken_over" in line]
    assert "lease of engine 22222222 (pid 4343 on elsewhere) taken over: token 1 -> 2" in line
