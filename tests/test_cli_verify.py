"""`provenflow verify`: model-check a factory's flow from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from provenflow.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAGA = ROOT / "examples" / "flawed_saga.py"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_a_flawed_saga_exits_1_with_its_shortest_trace_and_a_reproduction() -> None:
    result = invoke("verify", f"{SAGA}:make_flawed", "--invariant", f"{SAGA}:consistent")
    assert result.exit_code == 1, result.output
    assert "violation: the run ended FAILURE: a revert raised" in result.output
    assert "trace:" in result.output
    assert "reproduce with:" in result.output
    assert "replay(" in result.output
    assert result.output.rstrip().endswith("VIOLATION")


def test_the_fixed_saga_is_sound() -> None:
    result = invoke("verify", f"{SAGA}:make_fixed", "--invariant", f"{SAGA}:consistent")
    assert result.exit_code == 0, result.output
    assert "no violation found (complete)" in result.output
    assert "states explored:" in result.output
    assert "states/s" in result.output


def test_json_report() -> None:
    args = ["verify", f"{SAGA}:make_flawed", "--crashes", "1", "--json"]
    result = invoke(*args, "--invariant", f"{SAGA}:consistent")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert report["states_explored"] > report["choices"] > 0
    assert report["violations"][0]["steps"]


def test_a_bound_makes_it_incomplete_and_exit_1() -> None:
    result = invoke("verify", f"{SAGA}:make_fixed", "--max-states", "2")
    assert result.exit_code == 1
    assert "INCOMPLETE: stopped at max_states=2" in result.output


def test_bad_usage_is_one_line_and_exit_2() -> None:
    result = invoke("verify", f"{SAGA}:nothing")
    assert result.exit_code == 2
    assert "has no attribute 'nothing'" in result.output
    negative = invoke("verify", f"{SAGA}:make_fixed", "--crashes", "-1")
    assert negative.exit_code == 2


def test_store_values_reach_the_flow_and_its_prints_are_hidden_unless_asked(
    tmp_path: Path,
) -> None:
    factory = tmp_path / "needs_input.py"
    factory.write_text(
        "import provenflow as pf\n\n"
        "@pf.task(provides='greeting')\n"
        "def greet(name):\n"
        "    print('hello from the flow')\n"
        "    return f'hello {name}'\n\n"
        "def make_flow():\n"
        "    return pf.LinearFlow('hello').add(greet)\n"
    )
    without = invoke("verify", f"{factory}:make_flow", "--crashes", "0")
    assert without.exit_code == 2
    assert "name" in without.output
    result = invoke("verify", f"{factory}:make_flow", "--crashes", "0", "--store", '{"name": "x"}')
    assert result.exit_code == 0, result.output
    assert "hello from the flow" not in result.output
    shown = invoke(
        "verify",
        f"{factory}:make_flow",
        "--crashes",
        "0",
        "--store",
        '{"name": "x"}',
        "--show-output",
    )
    assert "hello from the flow" in shown.output


def test_the_printed_reproduction_runs_and_shows_the_same_violation_with_the_user_invariant(
    tmp_path: Path,
) -> None:
    args = ["verify", f"{SAGA}:make_flawed", "--crashes", "1", "--json"]
    report = json.loads(invoke(*args, "--invariant", f"{SAGA}:consistent").output)
    data = report["violations"][0]
    assert data["factory"] == f"{SAGA}:make_flawed"
    result = invoke(*args[:-1], "--invariant", f"{SAGA}:consistent")
    program = result.output.split("reproduce with:\n", 1)[1].rsplit("\nVIOLATION", 1)[0]
    assert f"invariant='{SAGA}:consistent'" in program
    ran = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert ran.stdout.rstrip().splitlines()[-1] == f"violation: {data['message']}"


def test_revert_failures_explores_reverts_that_raise(tmp_path: Path) -> None:
    factory = tmp_path / "chain.py"
    factory.write_text(
        "import provenflow as pf\n\n"
        "def make_flow():\n"
        "    return pf.LinearFlow('chain').add(\n"
        "        pf.task(lambda: 1, name='a'), pf.task(lambda: 2, name='b'))\n"
    )
    plain = json.loads(invoke("verify", f"{factory}:make_flow", "--crashes", "0", "--json").output)
    result = invoke(
        "verify", f"{factory}:make_flow", "--crashes", "0", "--revert-failures", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["states_explored"] > plain["states_explored"]


def test_no_reduction_explores_every_order_and_the_report_says_what_it_pruned(
    tmp_path: Path,
) -> None:
    factory = tmp_path / "wide.py"
    factory.write_text(
        "import provenflow as pf\n\n"
        "def make_flow():\n"
        "    return pf.UnorderedFlow('wide').add(\n"
        "        *(pf.task(lambda: 1, name=f't{i}', revert=lambda **_: None) for i in range(3)))\n"
    )
    args = ["verify", f"{factory}:make_flow", "--crashes", "0"]
    reduced = json.loads(invoke(*args, "--json").output)
    full = json.loads(invoke(*args, "--no-reduction", "--json").output)
    assert reduced["ok"] and full["ok"]
    assert reduced["pruned"] > 0 and full["pruned"] == 0
    assert reduced["states_explored"] < full["states_explored"]
    assert "partial-order reduction:" in invoke(*args).output


def test_a_run_that_can_go_on_forever_is_printed_with_its_loop_and_in_json() -> None:
    spec = "tests.helpers:make_forever"
    result = invoke("verify", spec, "--crashes", "0")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert "violation: can run forever" in lines
    loop = next(line for line in lines if line.startswith("  loop: steps "))
    assert "repeat forever" in loop and "retry 'forever' 1 -> 2 attempts" in loop
    assert any(line.startswith("  (back to step ") for line in lines)
    assert "take the loop again" in result.output  # the reproduction says how
    report = json.loads(invoke("verify", spec, "--crashes", "0", "--json").output)
    (violation,) = report["violations"]
    assert violation["message"] == "can run forever"
    assert violation["loop"]["retries"] == {"forever": [1, 2]}
    assert 1 <= violation["loop"]["first_step"] <= len(violation["steps"])


def test_the_world_at_the_violation_is_printed_and_in_the_json() -> None:
    args = ["verify", f"{SAGA}:make_flawed", "--invariant", f"{SAGA}:consistent"]
    text = invoke(*args, "--crashes", "0")
    world_lines = [line for line in text.output.splitlines() if line.startswith("world: ")]
    assert world_lines == [
        'world: {"__class__":"World","charged":0,"charges":{"__set__":[]},"reserved":0,"shipped":0}'
    ]
    report = json.loads(invoke(*args, "--crashes", "0", "--json").output)
    assert report["violations"][0]["world"] == {
        "__class__": "World",
        "charged": 0,
        "charges": {"__set__": []},
        "reserved": 0,
        "shipped": 0,
    }


def test_workers_sets_the_executor_the_search_explores(tmp_path: Path) -> None:
    factory = tmp_path / "wide.py"
    factory.write_text(
        "import provenflow as pf\n\n"
        "def make_flow():\n"
        "    return pf.UnorderedFlow('wide').add(\n"
        "        *(pf.task(lambda: None, name=f't{i}') for i in range(3)))\n"
    )
    reports = {
        workers: json.loads(
            invoke(
                "verify", f"{factory}:make_flow", "--crashes", "0", "--workers", workers, "--json"
            ).output
        )
        for workers in ("1", "3")
    }
    assert reports["1"]["ok"] and reports["3"]["ok"]
    assert reports["3"]["states_explored"] > reports["1"]["states_explored"]
    assert invoke("verify", f"{factory}:make_flow", "--workers", "0").exit_code == 2
