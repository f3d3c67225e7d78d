"""The directory backend, `dir:///path`: runs kept as JSON files, no server, no database.

Everything after `dir://` is the path: `dir:///var/lib/runs` is absolute, `dir://runs` is
relative to the working directory. The directory is created if missing; an existing one must be
empty or a provenflow store (one holding other files is refused, `ForeignStore`, unless opened
with `initialise=True`). Opened with `create=False` (to resume) or `read_only=True` (to list or
read), a missing directory, or one without the marker file, is `StoreNotFound` and nothing is
made; read-only, nothing is ever written, so a store on read-only media can be read.

Layout (schema version 1):

    provenflow-store.json            {"format": "provenflow-dir", "schema_version": 1}
    runs/<id>/run.json               the RunInfo: flow_id, flow_name, atoms, store, factory,
                                     created_at
    runs/<id>/0000000001.json        a batch: {"first_seq": 1, "transitions": [{...}, ...]}
    runs/<id>/0000000004.json        the next batch, whose first transition is the 4th
    runs/<id>/lease.json             the run's lease, once it had one (see Leases)
    runs/<id>/lease.lock             empty: locked by whoever writes the run or its lease

`<id>` is the flow id percent-encoded (`quote(flow_id, safe="")`, dots too), so any id makes one
safe file name. Every file is written whole and durably (`_files`): a reader sees a file
complete or not at all, and a killed writer leaves at most a stray `.tmp-*` file, ignored.

Compare-and-set. A batch file is named by the sequence number of its first transition, which is
the run's version before the batch plus one. A writer at version v first walks the chain of
batch files to check that the run is at v, then makes its file's name with `os.link`, which,
unlike `rename`, refuses to replace an existing name: of two writers at version v only one can
create `<v+1>.json`, and the other gets `StaleVersion`. Batch files never change once named, so
a run's versions are the chain 1 -> 1 + len(batch 1) -> ... and a file can only be named at the
end of the chain. Each storage object remembers where the chain of each run ended, so a writer
reads only the batches written by others since its last write.

Leases (`_dir_lease`): a run's lease is `runs/<id>/lease.json`, changed under an exclusive
`flock` of `runs/<id>/lease.lock`; `record` holds that lock while it checks the writer's token
and names its batch file, so a write with a stale token is refused before anything is written.

`load` reads the chain in order and refuses, with `CorruptRecord` naming the file, anything it
cannot trust: a truncated or hand-edited file, a batch that does not start where the last ended,
a stray batch file off the chain, an unknown state or event. Nothing is ever rewritten or
deleted, so a refusal leaves the store as it was. `list_runs()` reads every run in full (it is
meant for listing, not for a hot path) and names each run it cannot trust.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from provenflow.errors import (
    CorruptRecord,
    ForeignStore,
    NewerSchema,
    RunExists,
    StaleVersion,
    StorageUnavailable,
    StoreNotFound,
    UnknownRun,
    UsageError,
)
from provenflow.persistence._dir_lease import DirRunLeases, locked
from provenflow.persistence._files import create_durably, remove_tree, sync_directory, write_durably
from provenflow.persistence._json import (
    SCHEMA_VERSION,
    atoms_from_json,
    atoms_to_json,
    check_run,
    check_transition,
    check_value,
    dumps,
    loads,
    store_from_json,
    transition_from_fields,
)
from provenflow.persistence._records import CorruptRun, RunInfo, RunListing, Transition
from provenflow.persistence._values import stored_form

__all__ = ["DirStorage"]

MARKER = "provenflow-store.json"
FORMAT = "provenflow-dir"
_BATCH = re.compile(r"\d{10}\.json")
_FIELDS = (
    "atom", "lifecycle", "old_state", "event", "new_state", "attempt", "at",
    "result", "failure", "history",
)  # fmt: skip


class DirStorage(DirRunLeases):
    """Runs kept as JSON files under one directory; see the module docstring.

    Opening creates the directory and its marker file when it is new or empty (unless
    `create=False` or `read_only=True`; `initialise=True` also makes a directory holding other
    files a store). Raises `StoreNotFound` for a store that is not there to open without
    creating it, `StorageUnavailable` when the path cannot be used as a directory,
    `ForeignStore` when it holds other files only, `CorruptRecord` when its marker is damaged,
    and `NewerSchema` when a newer provenflow wrote it. Safe to share between threads and
    processes.
    """

    def __init__(
        self, url: str, *, create: bool = True, read_only: bool = False, initialise: bool = False
    ) -> None:
        if not url.startswith("dir://") or url == "dir://":
            raise UsageError(f"backend {url!r}: expected dir:///absolute/path or dir://relative")
        self.url = url
        self.root = Path(url[len("dir://") :])
        self._runs = self.root / "runs"
        self._ends: dict[str, int] = {}
        self._lock = threading.Lock()
        self._read_only = read_only
        with self._guard("open the store"):
            self._prepare(create and not read_only, initialise)

    def __repr__(self) -> str:
        return f"DirStorage({self.url!r})"

    # -- the storage protocol --------------------------------------------------------------

    def check_value(self, flow_id: str, atom: str | None, field: str, value: object) -> None:
        """Raise `UnstorableValue` unless `value` can be kept as JSON and read back equal."""
        check_value(value, flow_id, atom, field)

    def stored_value(self, flow_id: str, atom: str | None, field: str, value: object) -> Any:
        """Return `value` as it reads back (subclasses as their base types); see `_values`."""
        return stored_form(value, flow_id, atom, field)

    def create(self, run: RunInfo) -> int:
        """Record a new run; return version 0.

        Raises `RunExists` if the id exists and `UnstorableValue` if its store is not JSON;
        nothing is written then.
        """
        self._check_writable("create a run")
        check_run(run)
        document = {
            "flow_id": run.flow_id,
            "flow_name": run.flow_name,
            "atoms": atoms_to_json(run.atoms),
            "store": dict(run.store),
            "factory": run.factory,
            "created_at": time.time(),
        }
        final = self._run_dir(run.flow_id)
        with self._guard("create a run"):
            staging = self._runs / f".tmp-{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                write_durably(staging / "run.json", dumps(document))
                os.rename(staging, final)  # refused when `final` exists (it is never empty)
            except OSError as error:
                remove_tree(staging)
                if error.errno in (errno.EEXIST, errno.ENOTEMPTY) or final.exists():
                    raise RunExists(run.flow_id, self.url) from None
                raise
            sync_directory(self._runs)
        with self._lock:
            self._ends[run.flow_id] = 0
        return 0

    def load(self, flow_id: str) -> tuple[RunInfo, list[Transition], int]:
        """Return the run, its transitions oldest first and its version.

        Raises `UnknownRun` when there is no such run and `CorruptRecord` naming the file and
        the value when a file cannot be trusted.
        """
        with self._guard("load a run"):
            directory = self._run_dir(flow_id)
            info, _ = self._read_run(directory, flow_id)
            transitions, starts = self._read_chain(directory, flow_id)
            self._check_no_strays(directory, starts)
        with self._lock:
            self._ends[flow_id] = max(self._ends.get(flow_id, 0), len(transitions))
        return info, transitions, len(transitions)

    def record(
        self,
        flow_id: str,
        transitions: Sequence[Transition],
        expected_version: int,
        token: int | None = None,
    ) -> int:
        """Append `transitions` as one file if the run is at `expected_version` and `token` is
        its lease's (see `Storage.record`).

        Returns the new version. Raises `StaleVersion` naming the version found, `LeaseLost`,
        `RunOwned`, `UnknownRun`, `UnrecordableTransition` or `UnstorableValue`; nothing is
        written in every case.
        """
        self._check_writable("record transitions")
        entries = []
        for index, transition in enumerate(transitions, 1):
            check_transition(flow_id, index, transition)
            entries.append(_entry(transition))
        directory = self._run_dir(flow_id)
        with self._guard("record transitions"), self._locked(directory, flow_id):
            self.check_write(directory, flow_id, token)
            found = self._current_version(directory, flow_id)
            if found != expected_version:
                raise StaleVersion(flow_id, expected_version, found)
            if not entries:
                return expected_version
            first = expected_version + 1
            document = dumps({"first_seq": first, "transitions": entries})
            if not create_durably(directory / f"{first:010d}.json", document):
                found = self._current_version(directory, flow_id)
                raise StaleVersion(flow_id, expected_version, found)
        version = expected_version + len(entries)
        with self._lock:
            self._ends[flow_id] = max(self._ends.get(flow_id, 0), version)
        return version

    def runs(self) -> list[tuple[RunInfo, str]]:
        """Return every run with its flow's state, oldest first (by creation time, then id).

        Raises `CorruptRecord` naming a file that cannot be trusted.
        """
        return self.list_runs().all_healthy()

    def list_runs(self) -> RunListing:
        """Return the runs whose files can be trusted, oldest first (by creation time, then
        id), and the others (`CorruptRun`, naming the file and the value), by id."""
        found: list[tuple[float, str, RunInfo, str]] = []
        corrupt: list[CorruptRun] = []
        with self._guard("list runs"):
            directories = sorted(self._runs.iterdir()) if self._runs.is_dir() else []
            for directory in directories:
                if directory.name.startswith(".") or not directory.is_dir():
                    continue  # a writer's staging directory, or not a run
                try:
                    info, created_at = self._read_run(directory, None)
                    transitions, _ = self._read_chain(directory, info.flow_id)
                except CorruptRecord as error:
                    where, problem = map(str, error.args)
                    corrupt.append(CorruptRun(unquote(directory.name), where, problem))
                    continue
                state = "PENDING"
                for transition in transitions:
                    if transition.atom is None and transition.lifecycle == "flow":
                        state = str(transition.new_state)
                found.append((created_at, info.flow_id, info, state))
        found.sort(key=lambda entry: (entry[0], entry[1]))
        return RunListing([(info, state) for _, _, info, state in found], sorted(corrupt))

    # -- reading -----------------------------------------------------------------------------

    def _read_run(self, directory: Path, flow_id: str | None) -> tuple[RunInfo, float]:
        path = directory / "run.json"
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            if flow_id is not None and not directory.exists():
                raise UnknownRun(flow_id, self.url) from None
            raise CorruptRecord(str(path), "missing: the run directory has no run.json") from None
        where = str(path)
        data = loads(text, where)
        if not isinstance(data, dict):
            raise CorruptRecord(where, f"expected an object, got {type(data).__name__}")
        for key, kinds in (("flow_id", str), ("flow_name", str), ("created_at", int | float)):
            if not isinstance(data.get(key), kinds) or isinstance(data.get(key), bool):
                raise CorruptRecord(where, f"{key}: bad or missing value {data.get(key)!r}")
        factory = data.get("factory")
        if factory is not None and not isinstance(factory, str):
            raise CorruptRecord(where, f"factory: expected a str or null, got {factory!r}")
        if flow_id is not None and data["flow_id"] != flow_id:
            raise CorruptRecord(where, f"holds run {data['flow_id']!r}, not {flow_id!r}")
        info = RunInfo(
            data["flow_id"],
            data["flow_name"],
            atoms_from_json(data.get("atoms"), where),
            store_from_json(data.get("store"), where),
            factory,
        )
        return info, data["created_at"]

    def _read_chain(self, directory: Path, flow_id: str) -> tuple[list[Transition], list[int]]:
        """Return the transitions of a run's chain of batches and the first seq of each batch."""
        transitions: list[Transition] = []
        starts: list[int] = []
        while True:
            first = len(transitions) + 1
            entries = self._read_batch(directory / f"{first:010d}.json", first)
            if entries is None:
                return transitions, starts
            starts.append(first)
            path = directory / f"{first:010d}.json"
            for index, entry in enumerate(entries):
                where = f"{path}: transition {first + index} of run {flow_id!r}"
                if not isinstance(entry, dict):
                    raise CorruptRecord(where, f"expected an object, got {type(entry).__name__}")
                try:
                    fields = [entry[key] for key in _FIELDS]
                except KeyError as missing:
                    raise CorruptRecord(where, f"field {missing} is missing") from None
                transitions.append(transition_from_fields(where, fields))

    def _read_batch(self, path: Path, first: int) -> list[Any] | None:
        """Return the transitions (still JSON) of the batch file at `path`, None if absent."""
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return None
        data = loads(text, str(path))
        if not isinstance(data, dict) or data.get("first_seq") != first:
            raise CorruptRecord(str(path), f"expected a batch whose first_seq is {first}")
        entries = data.get("transitions")
        if not isinstance(entries, list) or not entries:
            raise CorruptRecord(str(path), "transitions: expected a non-empty list")
        return entries

    def _check_no_strays(self, directory: Path, starts: list[int]) -> None:
        chained = {f"{first:010d}.json" for first in starts}
        for name in sorted(os.listdir(directory)):
            if _BATCH.fullmatch(name) and name not in chained:
                raise CorruptRecord(
                    str(directory / name), "a batch file that is not on the run's chain"
                )

    def _current_version(self, directory: Path, flow_id: str) -> int:
        """Return the run's version: the end of its chain, read on from the remembered end."""
        with self._lock:
            version = self._ends.get(flow_id)
        if version is None:
            if not (directory / "run.json").exists():
                raise UnknownRun(flow_id, self.url)
            version = 0
        while True:
            entries = self._read_batch(directory / f"{version + 1:010d}.json", version + 1)
            if entries is None:
                break
            version += len(entries)
        with self._lock:
            self._ends[flow_id] = max(self._ends.get(flow_id, 0), version)
        return version

    # -- writing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, directory: Path, flow_id: str) -> Iterator[None]:
        if not (directory / "run.json").exists():
            raise UnknownRun(flow_id, self.url)
        with locked(directory):
            yield

    def _run_dir(self, flow_id: str) -> Path:
        name = quote(flow_id, safe="").replace(".", "%2E")
        if not name or len(name) > 200:
            raise UsageError(f"run {flow_id!r}: a dir:// store needs a flow id of 1 to 200 bytes")
        return self._runs / name

    def _prepare(self, create: bool, initialise: bool) -> None:
        if not self.root.exists():
            if not create:
                raise StoreNotFound(self.url, f"the directory {self.root.resolve()} does not exist")
            self.root.mkdir(parents=True, exist_ok=True)
        marker = self.root / MARKER
        if not marker.exists():
            others = sorted(
                name
                for name in os.listdir(self.root)
                if name not in ("runs", MARKER) and not name.startswith(".tmp-")
            )  # the marker itself: made meanwhile by a concurrent opener
            if others and not (initialise and create):
                raise ForeignStore(str(self.root), [f"file {name}" for name in others])
            if not create:
                raise StoreNotFound(self.url, f"the directory holds no {MARKER}")
            document = dumps({"format": FORMAT, "schema_version": SCHEMA_VERSION})
            create_durably(marker, document)  # a concurrent opener may have won: same content
        data = loads(marker.read_bytes(), str(marker))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CorruptRecord(str(marker), f"not a provenflow store marker (format {FORMAT!r})")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise CorruptRecord(str(marker), f"schema_version {version!r} is not a version")
        if version > SCHEMA_VERSION:
            raise NewerSchema(str(marker), version, SCHEMA_VERSION)
        if not self._read_only:
            self._runs.mkdir(exist_ok=True)

    def _check_writable(self, action: str) -> None:
        if self._read_only:
            raise UsageError(
                f"{self.url} was opened read-only: cannot {action}; open it without "
                "read_only=True to write"
            )

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn an operating-system error into `StorageUnavailable` naming the store."""
        try:
            yield
        except OSError as error:
            raise StorageUnavailable(self.url, f"cannot {action}: {error}") from error


def _entry(transition: Transition) -> dict[str, Any]:
    """Return a transition (already checked) as the JSON object a batch file holds."""
    failure, history = transition.failure, transition.history
    return {
        "atom": transition.atom,
        "lifecycle": str(transition.lifecycle),
        "old_state": str(transition.old_state),
        "event": str(transition.event),
        "new_state": str(transition.new_state),
        "attempt": transition.attempt,
        "at": float(transition.at),
        "result": transition.result,
        "failure": None if failure is None else failure.to_dict(),
        "history": None if history is None else list(history),
    }
