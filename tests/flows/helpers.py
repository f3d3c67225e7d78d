"""Shared helpers for the flows tests: tasks made from symbol names."""

from __future__ import annotations

from collections.abc import Iterable

from provenflow.flows import CompiledFlow, Task


class Needs(Task):
    """A task that requires the symbols it is rebound to (through **inputs)."""

    def execute(self, **inputs: object) -> object:
        return inputs


def needs(
    name: str, requires: Iterable[str] = (), provides: str | tuple[str, ...] | None = None
) -> Needs:
    """Return a task named `name` requiring `requires` and providing `provides`."""
    return Needs(name, rebind={symbol: symbol for symbol in requires}, provides=provides)


def provider_of(compiled: CompiledFlow, atom: str, arg: str) -> str | None:
    """Return where argument `arg` of `atom` comes from: a provider's name, "store", ..."""
    binding = compiled.nodes[atom].bindings[arg]
    return binding.provider if binding.kind == "atom" else binding.kind


def edges(compiled: CompiledFlow) -> set[tuple[str, str]]:
    """Return the edges of the compiled graph."""
    return set(compiled.graph.edges)
