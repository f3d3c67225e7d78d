"""Verification: a model checker for the engine and for users' own flows.

`check(flow_or_factory)` explores every order of ready atoms, every injected failure and every
crash point of a flow's run (followed by a resume from what was persisted), driving the
engine's real core and resume path with the user's real code and a simulated store, and
reports the shortest trace to any broken invariant. `replay` plays one reported path again.
"""

from __future__ import annotations

from provenflow.verification._checker import Report, Violation, check, replay
from provenflow.verification._simulation import InjectedFailure

__all__ = ["InjectedFailure", "Report", "Violation", "check", "replay"]
