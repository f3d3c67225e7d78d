"""`async def` tasks, run with `await engine.run_async()` inside an asyncio program.

provenflow runs coroutine tasks natively: a task whose `execute` (and `revert`) is `async def`
runs on the event loop of the program that awaits `engine.run_async()`, which does not block
that loop while the flow runs. Plain `def` tasks in the same flow run in the loop's default
thread pool. Here three downloads (simulated with `asyncio.sleep`) run concurrently in an
`UnorderedFlow`; a plain task then combines them.

Downloads finish in no fixed order, so what is printed from them is sorted.
"""

from __future__ import annotations

import asyncio

import provenflow as pf

PAGES = {"alpha": 0.03, "beta": 0.01, "gamma": 0.02}
"""Page name -> how long fetching it takes, in seconds."""


class InProgress:
    """The fetches in progress, and the most there were at once (one event loop: no lock)."""

    def __init__(self) -> None:
        self.pages: set[str] = set()
        self.most = 0

    def begin(self, page: str) -> None:
        self.pages.add(page)
        self.most = max(self.most, len(self.pages))

    def end(self, page: str) -> None:
        self.pages.discard(page)


in_progress = InProgress()


class Fetch(pf.Task):
    """Fetches one page without blocking the event loop."""

    async def execute(self, page: str) -> str:
        in_progress.begin(page)
        await asyncio.sleep(PAGES[page])
        in_progress.end(page)
        return f"<{page}>"


@pf.task(provides="site")
def combine(alpha: str, beta: str, gamma: str) -> str:
    """A plain function task: it runs in a worker thread, not on the event loop."""
    return "".join((alpha, beta, gamma))


def build() -> pf.LinearFlow:
    fetches = pf.UnorderedFlow("fetch").add(
        *(Fetch(name=f"fetch_{page}", inject={"page": page}, provides=page) for page in PAGES)
    )
    return pf.LinearFlow("crawl").add(fetches, combine)


async def heartbeat(stop: asyncio.Event) -> int:
    """Counts ticks while the flow runs: the event loop stays free for other work."""
    ticks = 0
    while not stop.is_set():
        ticks += 1
        await asyncio.sleep(0.001)
    return ticks


async def crawl() -> None:
    engine = pf.Engine(build())
    stop = asyncio.Event()
    ticking = asyncio.create_task(heartbeat(stop))
    results = await engine.run_async()
    stop.set()
    ticks = await ticking
    print(f"flow state: {engine.state}")
    for page in sorted(PAGES):
        print(f"{page} = {results[page]}")
    print(f"site = {results['site']}")
    print(f"fetches in progress at once, at most: {in_progress.most}")
    print(f"the event loop kept running meanwhile: {ticks > 1}")


def main() -> None:
    asyncio.run(crawl())


if __name__ == "__main__":
    main()
