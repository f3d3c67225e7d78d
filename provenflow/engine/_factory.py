"""Flow factories: `FILE_OR_MODULE:FACTORY` specs, as the command and resumption use them.

A factory is a function without arguments that returns a flow. Naming it by a spec lets a run be
started, resumed or checked from the command line: `examples/order.py:make_flow` (a file) or
`mypackage.flows:make_flow` (an importable module). A flow built by a factory can be rebuilt
after a crash by calling the factory again.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from provenflow.errors import ProvenflowError, UsageError
from provenflow.flows import Flow

__all__ = ["factory_spec", "load_factory", "load_object"]


_FILE_MODULES: dict[str, str] = {}
"""The file each module imported from a path was loaded from, as the spec named it."""

_FILE_IMPORT = threading.RLock()
"""Held while a file's module is looked up or imported: the module is in `sys.modules` before
its code has run (as Python's own imports do), so a second thread loading the same file at once
must wait for it rather than take it half made. Reentrant: a factory file may load another."""


def load_factory(spec: str) -> Callable[[], Flow]:
    """Return the factory named by `spec` (`path/to/file.py:name` or `package.module:name`).

    Raises `UsageError` naming the spec when the file or module cannot be imported (or its code
    raises), has no such name, or the name is not callable. Importing runs the module's code.
    The returned function raises `UsageError` when the factory raises (provenflow's own errors
    pass unchanged) or returns something other than a flow.
    """
    return _checked(load_object(spec, "factory"), spec)


def load_object(spec: str, what: str = "object") -> Callable[..., Any]:
    """Return the callable named by `spec` (`FILE_OR_MODULE:NAME`), e.g. an invariant.

    Raises `UsageError` naming the spec (as `what`) when it cannot be found, its module raises
    on import, or it is not callable.
    """
    location, separator, name = spec.rpartition(":")
    if not separator or not location or not name:
        raise UsageError(f"{what} {spec!r}: expected FILE_OR_MODULE:NAME, e.g. flows.py:make_flow")
    module = _import(location, spec)
    found = getattr(module, name, None)
    if found is None:
        raise UsageError(f"{what} {spec!r}: {location} has no attribute {name!r}")
    if not callable(found):
        raise UsageError(f"{what} {spec!r}: {name!r} is a {type(found).__name__}, not callable")
    return found  # type: ignore[no-any-return]


def _import(location: str, spec: str) -> object:
    if location.endswith(".py") or "/" in location or Path(location).is_file():
        path = Path(location)
        if not path.is_file():
            raise UsageError(f"factory {spec!r}: no such file {str(path)!r}")
        with _FILE_IMPORT:
            return _import_file(path, location, spec)
    try:
        return importlib.import_module(location)
    except ModuleNotFoundError as exc:
        raise UsageError(f"factory {spec!r}: no module named {exc.name!r}") from None
    except Exception as exc:
        _refuse_raised(exc, spec, f"importing {location!r}")


def _import_file(path: Path, location: str, spec: str) -> object:
    module_name = f"_provenflow_factory_{abs(hash(path.resolve()))}"
    _FILE_MODULES.setdefault(module_name, location)
    if module_name in sys.modules:
        return sys.modules[module_name]
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise UsageError(f"factory {spec!r}: cannot import {str(path)!r}")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[module_name]
        _refuse_raised(exc, spec, f"importing {str(path)!r}")
    return module


def _refuse_raised(exc: BaseException, spec: str, doing: str) -> NoReturn:
    """Re-raise `exc`, raised by user code while `doing`, as a `UsageError` naming the spec.

    provenflow's own errors and what is not an `Exception` (KeyboardInterrupt, SystemExit)
    pass unchanged; the original stays chained as the `UsageError`'s cause.
    """
    if isinstance(exc, ProvenflowError) or not isinstance(exc, Exception):
        raise exc
    raise UsageError(f"factory {spec!r}: {doing} raised {type(exc).__name__}: {exc}") from exc


def _checked(factory: Callable[[], object], spec: str) -> Callable[[], Flow]:
    def build() -> Flow:
        try:
            flow = factory()
        except Exception as exc:
            _refuse_raised(exc, spec, "calling it")
        if isinstance(flow, tuple) and flow and isinstance(flow[0], Flow):
            return flow[0]  # a (flow, context) pair, as the model checker's factories give
        if not isinstance(flow, Flow):
            raise UsageError(
                f"factory {spec!r} returned {type(flow).__name__!r}, not a flow "
                "(return a LinearFlow, UnorderedFlow or GraphFlow)"
            )
        return flow

    return build


def factory_spec(factory: Callable[[], Flow]) -> str | None:
    """Return `module:name` for an importable module-level factory, or None.

    A function loaded from a file by `load_object` gives that file's spec (`path.py:name`).
    Lambdas, nested functions and methods are not re-importable, so they give None.
    """
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", "")
    if not module or module == "__main__" or "." in qualname or "<" in qualname:
        return None
    return f"{_FILE_MODULES.get(module, module)}:{qualname}"
