"""A graph flow whose order comes from what its tasks require and provide.

The provenflow counterpart of TaskFlow's `graph_flow.py` and `build_a_car.py`. The members of
a `GraphFlow` are added in any order; a member that requires a symbol runs after the member
that provides it. A member can itself be a flow: here the windows are made by a nested
`LinearFlow`, which the graph places by what the subflow as a whole requires (`spec`, `frame`)
and provides (`windows_installed`).

The serial executor runs one task at a time, in the compiled (deterministic) order, so the
order printed is stable. On the "threads" executor the independent builds (frame, engine,
doors, windows) would run at the same time.
"""

from __future__ import annotations

import provenflow as pf

ran: list[str] = []
"""The names of the tasks, in the order they ran."""


@pf.task(provides="frame")
def build_frame(spec: str) -> str:
    ran.append("build_frame")
    return f"{spec} frame"


@pf.task(provides="engine")
def build_engine(spec: str) -> str:
    ran.append("build_engine")
    return f"{spec} engine"


@pf.task(provides="doors")
def build_doors(spec: str) -> str:
    ran.append("build_doors")
    return f"{spec} doors"


@pf.task(provides="windows")
def build_windows(spec: str) -> str:
    ran.append("build_windows")
    return f"{spec} windows"


@pf.task(provides="windows_installed")
def install_windows(frame: str, windows: str) -> bool:
    ran.append("install_windows")
    return True


@pf.task(provides="engine_installed")
def install_engine(frame: str, engine: str) -> bool:
    ran.append("install_engine")
    return True


@pf.task(provides="doors_installed")
def install_doors(frame: str, doors: str, windows_installed: bool) -> bool:
    """Doors go on once the windows are in: a requirement met by the nested subflow."""
    ran.append("install_doors")
    return True


@pf.task(provides="car")
def trial_run(engine: str, engine_installed: bool, doors_installed: bool) -> str:
    ran.append("trial_run")
    return f"a car with a {engine}"


def build() -> pf.GraphFlow:
    """Return the car's flow; its members are deliberately added in no useful order."""
    windows = pf.LinearFlow("make-windows").add(build_windows, install_windows)
    return pf.GraphFlow("make-car").add(
        trial_run,
        install_doors,
        windows,
        install_engine,
        build_doors,
        build_engine,
        build_frame,
    )


def main() -> None:
    results = pf.run(build(), store={"spec": "sports"}, executor="serial")
    print("order:")
    for position, name in enumerate(ran, start=1):
        print(f"  {position}. {name}")
    print(f"car: {results['car']}")


if __name__ == "__main__":
    main()
