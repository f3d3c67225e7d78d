"""The directory backend: its layout, and files that are truncated, hand-edited or foreign.

Every refusal names the file and leaves every file as it was (the tests compare the bytes of
the whole tree before and after).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provenflow.errors import (
    CorruptRecord,
    ForeignStore,
    NewerSchema,
    RunExists,
    StaleVersion,
    StorageUnavailable,
    UsageError,
)
from provenflow.persistence import DirStorage, RunInfo, open_storage
from tests.persistence._samples import RUN, running, start, succeeded


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A store with one run of two batches (files 0000000001.json and 0000000003.json)."""
    root = tmp_path / "store"
    store = DirStorage(f"dir://{root}")
    store.create(RUN)
    store.record("run-1", [start(), running("charge")], 0)
    store.record("run-1", [succeeded("charge", {"id": 1})], 2)
    return root


def test_the_layout_is_a_marker_a_run_file_and_one_file_per_batch(root: Path) -> None:
    assert sorted(tree(root)) == [
        "provenflow-store.json",
        "runs/run-1/0000000001.json",
        "runs/run-1/0000000003.json",
        "runs/run-1/lease.lock",  # what writes lock (empty); lease.json once leased
        "runs/run-1/run.json",
    ]
    marker = json.loads((root / "provenflow-store.json").read_text())
    assert marker == {"format": "provenflow-dir", "schema_version": 1}
    batch = json.loads((root / "runs/run-1/0000000003.json").read_text())
    assert batch["first_seq"] == 3
    assert batch["transitions"][0]["result"] == {"id": 1}


def test_open_storage_gives_a_dir_storage_for_absolute_and_relative_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(open_storage(f"dir://{tmp_path / 'a'}"), DirStorage)
    monkeypatch.chdir(tmp_path)
    store = open_storage("dir://relative/runs")
    assert isinstance(store, DirStorage)
    assert (tmp_path / "relative" / "runs" / "provenflow-store.json").is_file()
    with pytest.raises(UsageError):
        DirStorage("dir://")


def test_odd_flow_ids_make_safe_directory_names(tmp_path: Path) -> None:
    store = DirStorage(f"dir://{tmp_path}")
    for flow_id in ("..", ".", "a/b", "../../escape", "ü ?*"):
        store.create(RunInfo(flow_id, "f", ()))
        assert store.load(flow_id) == (RunInfo(flow_id, "f", ()), [], 0)
    assert {path.parent for path in tmp_path.rglob("run.json")} <= set(
        (tmp_path / "runs").iterdir()
    )
    with pytest.raises(RunExists):
        store.create(RunInfo("a/b", "f", ()))
    with pytest.raises(UsageError, match="flow id of 1 to 200 bytes"):
        store.create(RunInfo("", "f", ()))


def test_a_stray_temporary_file_of_a_killed_writer_is_ignored(root: Path) -> None:
    (root / "runs/run-1/.tmp-0123").write_text('{"first_seq": 4, "transit')
    store = DirStorage(f"dir://{root}")
    assert store.load("run-1")[2] == 3
    assert store.record("run-1", [running("other")], 3) == 4


DAMAGE = [
    pytest.param(
        "runs/run-1/0000000003.json", b'{"first_seq": 3, "transi', "not valid JSON", id="cut"
    ),
    pytest.param("runs/run-1/0000000003.json", b"", "not valid JSON", id="empty"),
    pytest.param(
        "runs/run-1/0000000003.json",
        b'{"first_seq": 2, "transitions": [1]}',
        "expected a batch whose first_seq is 3",
        id="first-seq",
    ),
    pytest.param(
        "runs/run-1/0000000003.json",
        b'{"first_seq": 3, "transitions": []}',
        "transitions: expected a non-empty list",
        id="no-transitions",
    ),
    pytest.param("runs/run-1/run.json", b'{"flow_id": "run-1"', "not valid JSON", id="run-cut"),
    pytest.param(
        "runs/run-1/run.json",
        b'{"flow_id": "run-2", "flow_name": "f", "created_at": 1.0, "atoms": [], "store": {}}',
        "holds run 'run-2', not 'run-1'",
        id="run-moved",
    ),
    pytest.param(
        "runs/run-1/0000000002.json",
        b'{"first_seq": 2, "transitions": []}',
        "a batch file that is not on the run's chain",
        id="stray-batch",
    ),
]


@pytest.mark.parametrize(("name", "content", "problem"), DAMAGE)
def test_a_damaged_file_is_refused_by_name_and_left_as_it_is(
    root: Path, name: str, content: bytes, problem: str
) -> None:
    (root / name).write_bytes(content)
    before = tree(root)
    store = DirStorage(f"dir://{root}")
    with pytest.raises(CorruptRecord, match=problem) as caught:
        store.load("run-1")
    assert caught.value.where.startswith(str(root / "runs" / "run-1"))
    assert tree(root) == before


def test_a_hand_edited_state_is_refused_naming_file_and_transition(root: Path) -> None:
    path = root / "runs/run-1/0000000001.json"
    path.write_text(path.read_text().replace('"new_state":"RUNNING"', '"new_state":"DONE"', 1))
    before = tree(root)
    with pytest.raises(CorruptRecord, match="unknown flow state 'DONE'") as caught:
        DirStorage(f"dir://{root}").load("run-1")
    assert caught.value.where == f"{path}: transition 1 of run 'run-1'"
    assert tree(root) == before


def test_a_write_after_a_damaged_batch_is_refused_and_writes_nothing(root: Path) -> None:
    (root / "runs/run-1/0000000003.json").write_bytes(b'{"first_seq": 3')
    before = tree(root)
    with pytest.raises(CorruptRecord, match=r"0000000003\.json"):
        DirStorage(f"dir://{root}").record("run-1", [running("other")], 3)
    assert tree(root) == before


def test_a_writer_with_a_version_inside_a_batch_is_refused(root: Path) -> None:
    store = DirStorage(f"dir://{root}")
    with pytest.raises(StaleVersion) as caught:
        store.record("run-1", [running("other")], 1)  # inside batch 1..2
    assert caught.value.args == ("run-1", 1, 3)
    assert store.load("run-1")[2] == 3


def test_a_newer_schema_is_refused(root: Path) -> None:
    (root / "provenflow-store.json").write_text('{"format": "provenflow-dir", "schema_version": 9}')
    before = tree(root)
    with pytest.raises(NewerSchema, match="schema version 9 is newer"):
        DirStorage(f"dir://{root}")
    assert tree(root) == before


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"format": "provenflow-dir"', "not valid JSON"),
        (b'{"format": "other", "schema_version": 1}', "not a provenflow store marker"),
        (b'{"format": "provenflow-dir", "schema_version": "1"}', "is not a version"),
    ],
)
def test_a_bad_marker_is_refused(root: Path, content: bytes, problem: str) -> None:
    (root / "provenflow-store.json").write_bytes(content)
    before = tree(root)
    with pytest.raises(CorruptRecord, match=problem):
        DirStorage(f"dir://{root}")
    assert tree(root) == before


def test_a_directory_of_other_files_is_refused_and_untouched(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ForeignStore, match=r"holds file notes.txt and no provenflow store"):
        DirStorage(f"dir://{tmp_path}")
    assert tree(tmp_path) == {"notes.txt": b"mine"}


def test_a_path_that_is_a_file_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(StorageUnavailable, match="cannot open the store") as caught:
        DirStorage(f"dir://{path}")
    assert caught.value.url == f"dir://{path}"
