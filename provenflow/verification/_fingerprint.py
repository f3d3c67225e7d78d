"""64-bit fingerprints of state keys: what a search stores of each state it has seen.

A search remembers every state it reached (`Search.seen`, `passed`, `resumes`) and the large
parts its keys are made of (`_state_key.KeyBook`). Kept whole, those keys cost about 2 KB per
state; so by default a search keeps only a 64-bit fingerprint of each, as TLC does: an int,
about 100 bytes per state with the set or dict that holds it.

`fingerprint(key)` is Python's own `hash` of the key. Equal keys always have equal
fingerprints (`hash` agrees with `==`), so a fingerprint never keeps apart two states a full
key would merge. Two different keys may have the same fingerprint (a collision): the search
then takes one state for the other and does not explore the second's future. Treating `hash`
as a random function into its 2^64 values (strs are hashed with SipHash, keyed afresh in every
process; tuples and frozensets mix their items' hashes over 64 bits; the ints a key holds are
counts and numbers, never negative, and distinct ones of those hash apart: Python hashes -1
like -2, which is why the loop search's keys, holding attempt differences that can be
negative, are kept whole), the probability that any two of n distinct keys collide is at most
n(n - 1) / 2^65: about 3 * 10^-8 for a million states, 3 * 10^-6 for ten million. Part
numbers are themselves fingerprints of their parts (hashed again inside the key, as ints below
2^61 - 1 hash to themselves), so over every key and part stored the bound is about
m^2 / 2^62 for m things fingerprinted: 2 * 10^-7 for m = 10^6. The report states the bound
for the search it made (`collision_bound`).

Where that probability is not acceptable, `check(..., _fingerprints=False)` stores keys whole
(and the differential tests compare the two). A value that cannot be captured by value keys as
an `Uncaptured` marker equal only to itself; its hash comes from a serial number, never from
an id that a freed object could pass on, so its fingerprint stays apart from every other with
the same probability.
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["collision_bound", "fingerprint"]


def fingerprint(key: Hashable) -> int:
    """Return the 64-bit fingerprint of `key` (see the module docstring); raises `TypeError`
    when `key` holds something unhashable (a key never does)."""
    return hash(key)


def collision_bound(stored: int) -> float:
    """Return an upper bound on the probability that any two of `stored` fingerprints of
    different keys and parts collide (see the module docstring): stored^2 / 2^62."""
    return float(stored) ** 2 / 2.0**62
