"""Verification: the model checker for the engine and for users' own flows (to come).

It will drive the engine's pure core (`provenflow.engine.Core`) with a simulated executor and
store, explore every order of ready atoms, every outcome and every crash point followed by a
resume, and report the shortest trace to any violation of the invariants. Nothing is
implemented here yet; the table checks already run when each lifecycle is built
(`provenflow.fsm`).
"""

from __future__ import annotations

__all__: list[str] = []
