"""`provenflow locks list`: the locks a lock service holds, read and never changed.

Each lock held now is listed by name with its owner, its fencing token and the time its lease
has left in the service's own clock (an expired lease that nobody took over yet shows how long
ago it expired). The service is opened read-only: a missing SQLite file is refused, a missing
table holds no locks. Names and owners come from whoever took the locks, so they are printed
through `_output`, escaped; errors go through `_exits` (one line, exit 2).
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from provenflow.cli._exits import json_option
from provenflow.cli._group import main
from provenflow.cli._output import console, shown
from provenflow.locks import Lease, open_locks

__all__ = ["expires_text", "locks", "locks_list"]


@main.group(cls=click.Group)
def locks() -> None:
    """Named locks held through a lock service (`provenflow.locks`).

    \b
    Examples:
      provenflow locks list --locks redis://127.0.0.1:6379/0
    """


def expires_text(lease: Lease, now: float) -> str:
    """Return when `lease` expires, seen from the service's `now`: `in 12.5 s`, or
    `expired 3.0 s ago` for a lease nobody took over yet."""
    left = lease.expires_at - now
    return f"in {left:.1f} s" if left > 0 else f"expired {-left:.1f} s ago"


def _lock_json(name: str, lease: Lease, now: float) -> dict[str, Any]:
    return {
        "name": name,
        "owner": lease.owner.id,
        "pid": lease.owner.pid,
        "host": lease.owner.host,
        "token": lease.token,
        "expires_at": lease.expires_at,
        "expires_in": lease.expires_at - now,
    }


@locks.command("list")
@click.option(
    "--locks",
    "url",
    required=True,
    metavar="URL",
    help="The lock service: memory://, sqlite:///PATH, postgresql://..., redis://HOST:PORT/DB "
    "or zookeeper://HOST:PORT/PATH.",
)
@json_option("Print the locks as a JSON list.")
def locks_list(url: str, as_json: bool) -> None:
    """List the locks a lock service holds, by name: owner, fencing token, time left.

    A lease that expired and that nobody took over yet is still listed (its holder may still
    renew it); a released lock is not.

    \b
    Examples:
      provenflow locks list --locks sqlite:///locks.db
      provenflow locks list --locks postgresql://app@db/locks --json
    """
    service = open_locks(url, read_only=True)
    try:
        leases, now = service.leases()
    finally:
        service.close()
    held = {name: lease for name, lease in leases.items() if lease.held}
    names = sorted(held)
    if as_json:
        document = [_lock_json(name, held[name], now) for name in names]
        click.echo(json.dumps(document, indent=2))
        return
    table = Table(title=shown(f"locks in {service.url}"))
    for header in ("name", "owner", "token", "expires"):
        table.add_column(header, no_wrap=True)
    for name in names:
        lease = held[name]
        style = "" if lease.live(now) else "yellow"
        table.add_row(
            shown(name),
            shown(lease.owner),
            str(lease.token),
            shown(expires_text(lease, now), style),
        )
    console().print(table)
