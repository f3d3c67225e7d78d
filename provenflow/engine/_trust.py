"""The trust rule: which factory may be imported to rebuild a recorded run's flow.

A run records the factory it was started with (`Engine.from_factory`, `provenflow run`), but
that record is provenance only: whoever can write to a store could change it, and importing a
module runs its code. So the store never names code to run. A factory is imported to resume a
run only when

1. the user names it (`provenflow resume ID --factory SPEC`; `Engine.resume(..., factory=...)`;
   or, without any factory, a flow passed to `Engine.load`), or
2. the recorded factory matches a pattern the user trusts: in the environment variable
   `PROVENFLOW_TRUSTED_FACTORIES` (patterns separated by commas), or in
   `trusted-factories = [...]` under `[tool.provenflow]` in the working directory's
   `pyproject.toml`.

Patterns are shell-style (`fnmatch`, case-sensitive; `*` also matches `/`). A spec naming a file
(`path/flows.py:make_flow`) is compared in its canonical form: the file's absolute path with
`..` and symbolic links resolved (relative paths, in a pattern or in the record, are taken
from the working directory), so `/srv/flows/../../tmp/evil.py:f` does not pass for
`/srv/flows/*.py:*`, and what is imported is exactly the spec that matched. A module spec
(`mypackage.flows:make_flow`) is compared as written. `resume_factory` applies the rule and
is what every driver that rebuilds a flow from a record calls (the command, `Engine.resume`,
and job conductors). Reading the environment and the file is this module's only effect.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from provenflow.errors import UntrustedFactory, UsageError
from provenflow.persistence import RunInfo

__all__ = [
    "TRUST_SETTING",
    "TRUST_VARIABLE",
    "canonical_spec",
    "is_trusted",
    "resume_factory",
    "trusted_patterns",
]

TRUST_VARIABLE = "PROVENFLOW_TRUSTED_FACTORIES"
"""The environment variable listing trusted factory patterns, separated by commas."""

TRUST_SETTING = "trusted-factories"
"""The key under `[tool.provenflow]` in `pyproject.toml` listing trusted factory patterns."""


def resume_factory(
    info: RunInfo,
    url: str,
    named: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    directory: Path | None = None,
) -> str:
    """Return the spec of the factory to import to rebuild the flow of the run `info`.

    `named` is the factory the user named, if any: it is returned as it is. Otherwise the
    recorded factory, in its canonical form, when it is trusted (`is_trusted`). `url` is the
    store's, for messages; `environ` and `directory` default to the process's environment and
    working directory. Raises `UsageError` when the run recorded no factory and none is named,
    or when `pyproject.toml` cannot be read; `UntrustedFactory` when the recorded factory is
    not trusted. Nothing is imported here.
    """
    if named is not None:
        return named
    if info.factory is None:
        raise UsageError(
            f"run {info.flow_id!r} in {url} was not started from a factory; name one "
            f"(provenflow resume {info.flow_id} --factory SPEC), or rebuild its flow and call "
            "Engine.load(flow, backend, flow_id)"
        )
    directory = Path.cwd() if directory is None else directory
    if not is_trusted(info.factory, environ=environ, directory=directory):
        raise UntrustedFactory(info.flow_id, url, info.factory)
    return canonical_spec(info.factory, directory)


def is_trusted(
    spec: str, *, environ: Mapping[str, str] | None = None, directory: Path | None = None
) -> bool:
    """Return whether the factory `spec` matches a trusted pattern (see the module docstring).

    Raises `UsageError` when `pyproject.toml` in `directory` cannot be read or its setting is
    not a list of strings.
    """
    directory = Path.cwd() if directory is None else directory
    canonical = canonical_spec(spec, directory)
    patterns = trusted_patterns(environ=environ, directory=directory)
    return any(fnmatch.fnmatchcase(canonical, pattern) for pattern in patterns)


def trusted_patterns(
    *, environ: Mapping[str, str] | None = None, directory: Path | None = None
) -> tuple[str, ...]:
    """Return the trusted factory patterns, canonical: the environment's, then the file's.

    Raises `UsageError` naming the file when `pyproject.toml` in `directory` (default: the
    working directory) cannot be read, or its setting is not a list of strings.
    """
    environ = os.environ if environ is None else environ
    directory = Path.cwd() if directory is None else directory
    listed = [part.strip() for part in environ.get(TRUST_VARIABLE, "").split(",")]
    listed.extend(_from_pyproject(directory / "pyproject.toml"))
    return tuple(canonical_spec(pattern, directory) for pattern in listed if pattern)


def canonical_spec(spec: str, directory: Path) -> str:
    """Return `spec` with the file it names made absolute and resolved from `directory`.

    A module spec, or anything without a `:`, is returned unchanged.
    """
    location, separator, name = spec.rpartition(":")
    if not separator or not _names_a_file(location, directory):
        return spec
    return f"{(directory / location).resolve()}:{name}"


def _names_a_file(location: str, directory: Path) -> bool:
    """Whether `load_factory` would import `location` as a file (not as a module)."""
    return location.endswith(".py") or "/" in location or (directory / location).is_file()


def _from_pyproject(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read the trusted factories: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path}: cannot read the trusted factories: {error}") from None
    tool = data.get("tool")
    settings = tool.get("provenflow") if isinstance(tool, dict) else None
    if not isinstance(settings, dict) or TRUST_SETTING not in settings:
        return []
    listed = settings[TRUST_SETTING]
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise UsageError(
            f"{path}: [tool.provenflow] {TRUST_SETTING} must be a list of factory specs or "
            f"patterns (strings), got {listed!r}"
        )
    return list(listed)
