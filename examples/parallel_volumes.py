"""Creating many fake volumes at once: an unordered flow on the "threads" executor.

The provenflow counterpart of TaskFlow's `create_parallel_volume.py`. The members of an
`UnorderedFlow` depend on nothing from each other, so the engine may run them all at the same
time; the "threads" executor runs up to `max_workers` of them in parallel.

Give each task a stable, unique name (here from its volume number): the engine records every
transition by atom name, and a resumed run matches what it finds by that name.

To show that the creations really overlap, without depending on timing, each one waits at a
`threading.Barrier` until all of them are in progress (on the "serial" executor, the first
would wait in vain and fail with `BrokenBarrierError`). Threads finish in no fixed order, so
the results are sorted before they are printed.
"""

from __future__ import annotations

import threading

import provenflow as pf

VOLUMES = 8


class VolumeCreator(pf.Task):
    """Creates one fake volume of `size_gb` and provides its description."""

    def __init__(self, number: int, all_in_progress: threading.Barrier) -> None:
        self.all_in_progress = all_in_progress
        super().__init__(f"volume-{number}", provides=f"volume-{number}")

    def execute(self, size_gb: int) -> str:
        # Stands for the slow call to a storage service; returns once all VOLUMES are underway.
        self.all_in_progress.wait()
        return f"{self.name}: {size_gb} GB"


def build() -> pf.UnorderedFlow:
    all_in_progress = threading.Barrier(VOLUMES, timeout=30)
    return pf.UnorderedFlow("create-volumes").add(
        *(VolumeCreator(number, all_in_progress) for number in range(VOLUMES))
    )


def main() -> None:
    threads_before = threading.active_count()
    results = pf.run(build(), store={"size_gb": 10}, executor="threads", max_workers=VOLUMES)
    for name in sorted(results):
        print(results[name])
    print(f"{len(results)} volumes created, all {VOLUMES} at the same time")
    # The engine shut down the thread pool it made for the run.
    print(f"threads left behind: {threading.active_count() - threads_before}")


if __name__ == "__main__":
    main()
