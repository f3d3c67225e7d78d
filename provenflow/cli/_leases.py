"""What `provenflow runs` says of each run's engine: live, abandoned (resumable), or none.

A run whose lease is held and not expired has a live engine: resuming it is refused. A run that
has not ended and whose lease expired (its engine died, or is paused and will be refused at its
next write), or whose engine's process on this host is gone, is abandoned: `provenflow resume`
takes it over. A run that has not ended and that
no engine holds (suspended, or given back after an error) is resumable too.
"""

from __future__ import annotations

from typing import Any

from provenflow.persistence import Lease
from provenflow.persistence._lease import owner_gone

__all__ = ["ENDED", "engine_json", "engine_text", "taken_over_text"]

ENDED = frozenset({"SUCCESS", "REVERTED", "FAILURE"})


def _status(state: str, lease: Lease | None, now: float) -> str:
    if lease is not None and lease.live(now) and not owner_gone(lease.owner):
        return "live"
    if state in ENDED:
        return "ended"
    if lease is not None and lease.held:
        return "abandoned"
    return "resumable"


def engine_text(state: str, lease: Lease | None, now: float) -> str:
    """Return the `engine` column of `provenflow runs` for a run in `state` with `lease`."""
    status = _status(state, lease, now)
    if status == "live" and lease is not None:
        return f"live: {lease.owner}, lease {lease.expires_at - now:.0f} s left"
    if status == "abandoned" and lease is not None:
        why = "expired" if not lease.live(now) else "process gone"
        return f"abandoned (lease of {lease.owner} {why}): resumable"
    return "" if status == "ended" else status


def engine_json(state: str, lease: Lease | None, now: float) -> dict[str, Any]:
    """Return the `engine` object of `provenflow runs --json` for a run in `state`: its
    `status` (live, abandoned, resumable or ended) and its `lease` (null when none is held)."""
    held = None
    if lease is not None and lease.held:
        held = {
            "owner": lease.owner.id,
            "pid": lease.owner.pid,
            "host": lease.owner.host,
            "token": lease.token,
            "expires_at": lease.expires_at,
            "expires_in": lease.expires_at - now,
        }
    return {"status": _status(state, lease, now), "lease": held}


def taken_over_text(previous: dict[str, Any]) -> str:
    """Return the detail `provenflow history` shows for a `taken_over` step, from its result:
    whose lease was taken over, and the tokens before and after."""
    owner = str(previous.get("owner", "?"))[:8]
    return (
        f"lease of engine {owner} (pid {previous.get('pid', '?')} on "
        f"{previous.get('host', '?')}) taken over: token {previous.get('token', '?')} -> "
        f"{previous.get('new_token', '?')}"
    )
