"""Map and reduce: mappers in an unordered flow feed a reducer that requires all their outputs.

The provenflow counterpart of TaskFlow's `simple_map_reduce.py` and `calculate_in_parallel.py`.
The store holds the input split into chunks. One mapper per chunk squares and sums its chunk;
the mappers sit in an `UnorderedFlow`, so they may run in parallel (they do, on the "threads"
executor). A `LinearFlow` puts the reducer after them; the reducer requires every mapper's
output, which it takes through `**kwargs` with `rebind` naming each symbol.
"""

from __future__ import annotations

import provenflow as pf

NUMBERS = list(range(1, 13))
CHUNKS = 4


class SumOfSquaresMapper(pf.Task):
    """Squares each number of its chunk and returns their sum."""

    def execute(self, chunk: list[int]) -> int:
        return sum(number * number for number in chunk)


class SumReducer(pf.Task):
    """Adds up every partial sum it is given; which ones is decided by `rebind`."""

    def execute(self, **partial_sums: int) -> int:
        for name in sorted(partial_sums):
            print(f"  {name} = {partial_sums[name]}")
        return sum(partial_sums.values())


def split(numbers: list[int], parts: int) -> dict[str, list[int]]:
    """Return the store: `numbers` dealt into `parts` chunks, named chunk_0, chunk_1, ..."""
    return {f"chunk_{i}": numbers[i::parts] for i in range(parts)}


def build(parts: int) -> pf.LinearFlow:
    mappers = pf.UnorderedFlow("map").add(
        *(
            SumOfSquaresMapper(
                name=f"mapper_{i}", rebind={"chunk": f"chunk_{i}"}, provides=f"sum_{i}"
            )
            for i in range(parts)
        )
    )
    partial_sums = {f"sum_{i}": f"sum_{i}" for i in range(parts)}
    reducer = SumReducer(name="reducer", rebind=partial_sums, provides="total")
    return pf.LinearFlow("map-reduce").add(mappers, reducer)


def main() -> None:
    store = split(NUMBERS, CHUNKS)
    for name, chunk in store.items():
        print(f"{name}: {chunk}")
    print("reducer got:")
    results = pf.run(build(CHUNKS), store=store, executor="threads")
    print(f"sum of squares of {NUMBERS[0]}..{NUMBERS[-1]}: {results['total']}")
    assert results["total"] == sum(number * number for number in NUMBERS)


if __name__ == "__main__":
    main()
