"""Pins the public names of provenflow.

Other code and the docs rely on these names. When you add or remove a public name on purpose,
update the list here in the same change; a name that appears or vanishes by accident fails.
The lists are in `sorted()` order, whatever order `__all__` itself keeps.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

import provenflow
import provenflow.diagrams
import provenflow.engine
import provenflow.errors
import provenflow.flows
import provenflow.fsm
import provenflow.jobs
import provenflow.locks
import provenflow.persistence
import provenflow.verification

PUBLIC_NAMES: dict[str, list[str]] = {
    "provenflow": [
        "AlwaysRevert",
        "AlwaysRevertAll",
        "CaptureListener",
        "Decision",
        "Depth",
        "Engine",
        "EngineStopped",
        "Failure",
        "Flow",
        "FlowDefinitionError",
        "ForEach",
        "GraphFlow",
        "History",
        "IllegalTransition",
        "InternalError",
        "Interrupted",
        "LeaseLost",
        "LifecycleDefinitionError",
        "LinearFlow",
        "LoggingListener",
        "MultipleFailures",
        "ParameterizedForEach",
        "PrintingListener",
        "ProvenflowError",
        "RecordError",
        "RecordedFailure",
        "Retry",
        "RunOwned",
        "StaleVersion",
        "StorageError",
        "Task",
        "Times",
        "TimingListener",
        "UnknownRun",
        "UnorderedFlow",
        "UsageError",
        "__version__",
        "diagrams",
        "fsm",
        "run",
        "task",
        "verification",
    ],
    "provenflow.errors": [
        "AlreadyAdded",
        "AmbiguousProvider",
        "AtomDefinitionError",
        "BadDecision",
        "BadLink",
        "BadResult",
        "BoardNotFound",
        "ClaimLost",
        "CorruptRecord",
        "DependencyCycle",
        "DuplicateName",
        "EngineStopped",
        "FlowDefinitionError",
        "FlowMismatch",
        "ForeignStore",
        "IllegalTransition",
        "InternalError",
        "Interrupted",
        "InvalidMember",
        "JobClaimed",
        "LeaseLost",
        "LifecycleDefinitionError",
        "LockHeld",
        "LockLost",
        "MissingInput",
        "MissingValue",
        "MultipleFailures",
        "NewerSchema",
        "NoValuesLeft",
        "ProvenflowError",
        "RecordError",
        "RecordFieldError",
        "RenderUnavailable",
        "RetryUsedAsTask",
        "RunExists",
        "RunOwned",
        "StaleVersion",
        "StorageError",
        "StorageUnavailable",
        "StoreNotFound",
        "UnknownJob",
        "UnknownRun",
        "UnorderedDependency",
        "UnrecordableTransition",
        "UnstorableValue",
        "UntrustedFactory",
        "UsageError",
    ],
    "provenflow.diagrams": [
        "flow",
        "lifecycle",
        "lifecycle_docs",
        "render",
        "trace",
        "trace_path",
    ],
    "provenflow.fsm": [
        "CHECKS",
        "Check",
        "EntityState",
        "LIFECYCLES",
        "Lifecycle",
        "build_lifecycle",
        "engine",
        "flow",
        "job",
        "retry",
        "task",
        "to_machine",
    ],
    "provenflow.engine": [
        "AtomRecord",
        "CaptureListener",
        "Core",
        "Engine",
        "Listener",
        "LoggingListener",
        "PrintingListener",
        "TRUST_SETTING",
        "TRUST_VARIABLE",
        "TimingListener",
        "Work",
        "canonical_spec",
        "check_flow",
        "factory_spec",
        "flow_differences",
        "is_trusted",
        "load_factory",
        "load_object",
        "perform",
        "printing_durations",
        "records_from",
        "resume_factory",
        "run",
        "trusted_patterns",
    ],
    "provenflow.flows": [
        "AlwaysRevert",
        "AlwaysRevertAll",
        "Atom",
        "Attempt",
        "Binding",
        "CompiledFlow",
        "Decider",
        "Decision",
        "Depth",
        "Flow",
        "ForEach",
        "FunctionTask",
        "GraphFlow",
        "History",
        "LinearFlow",
        "Link",
        "Node",
        "ParameterizedForEach",
        "Retry",
        "Task",
        "Times",
        "UnorderedFlow",
        "compile_flow",
        "reporting_progress",
        "task",
    ],
    "provenflow.jobs": [
        "BOARD_SCHEMES",
        "Board",
        "Claim",
        "Conductor",
        "CorruptJob",
        "Dispatch",
        "Job",
        "JobListing",
        "JobStep",
        "MemoryBoard",
        "Owner",
        "RedisBoard",
        "SqlBoard",
        "check_factory",
        "job_run_id",
        "new_owner",
        "open_board",
    ],
    "provenflow.locks": [
        "HeldLock",
        "Lease",
        "LockHeld",
        "LockLost",
        "LockService",
        "MAX_NAME_BYTES",
        "MemoryLocks",
        "Owner",
        "new_owner",
        "open_locks",
    ],
    "provenflow.persistence": [
        "AtomInfo",
        "CorruptRun",
        "DirStorage",
        "Grant",
        "Lease",
        "MemoryStorage",
        "Owner",
        "RunInfo",
        "RunListing",
        "SqlStorage",
        "Storage",
        "Transition",
        "open_storage",
    ],
    "provenflow.verification": [
        "Behaviour",
        "BoardReport",
        "BoardViolation",
        "FlowPlan",
        "FuzzReport",
        "InjectedFailure",
        "Journal",
        "LifecycleReport",
        "LinkPlan",
        "Loop",
        "OwnersReport",
        "OwnersViolation",
        "ProcessCrash",
        "Report",
        "RetryPlan",
        "TaskPlan",
        "TransitionCoverage",
        "TransitionRecorder",
        "UNREACHABLE",
        "Violation",
        "assert_sound",
        "behaviours",
        "check",
        "check_board",
        "check_owners",
        "flows",
        "fuzz",
        "replay",
        "verify_lifecycles",
    ],
}


def test_pinned_lists_are_sorted() -> None:
    for names in PUBLIC_NAMES.values():
        assert names == sorted(names)


@pytest.mark.parametrize("module_name", sorted(PUBLIC_NAMES))
def test_all_is_exactly_the_pinned_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported: list[str] = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{module_name}.__all__ lists a name twice"
    assert sorted(exported) == PUBLIC_NAMES[module_name], (
        f"{module_name}.__all__ changed; if on purpose, update PUBLIC_NAMES in this test"
    )


@pytest.mark.parametrize("module_name", sorted(PUBLIC_NAMES))
def test_every_pinned_name_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in PUBLIC_NAMES[module_name]:
        assert hasattr(module, name), f"{module_name}.{name} is in __all__ but does not exist"
    namespace: dict[str, object] = {}
    exec(f"from {module_name} import *", namespace)
    assert set(PUBLIC_NAMES[module_name]) <= set(namespace)


def _exceptions_defined_in(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    }


def test_every_exception_is_exported() -> None:
    assert _exceptions_defined_in(provenflow.errors) == set(provenflow.errors.__all__)


def test_re_exported_names_are_the_same_objects() -> None:
    for name in set(provenflow.__all__) & set(provenflow.errors.__all__):
        assert getattr(provenflow, name) is getattr(provenflow.errors, name)


def test_the_pinned_lifecycle_names() -> None:
    assert set(provenflow.fsm.LIFECYCLES) == {"task", "retry", "flow", "engine", "job"}
