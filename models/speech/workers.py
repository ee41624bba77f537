"""Forked worker processes that fail loudly.

`multiprocessing.Pool` waits forever for the result of a worker that died (a segmentation fault
in native code, the kernel's out-of-memory killer): a run that should report one broken voice
hangs instead. `concurrent.futures` notices the dead process and raises `BrokenProcessPool`, so
the pipeline steps fork their workers through here. Workers are forked, not spawned: they share
what the parent loaded (host modules, decoded background sounds) without pickling it.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

__all__ = ["BrokenProcessPool", "fork_pool", "one_process_each"]

_NO_TASK = object()


def fork_pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A pool of `workers` forked processes; a worker that dies raises `BrokenProcessPool`."""
    # Garbage is collected here, not in the children: a TensorFlow function that a test process left
    # in a reference cycle, collected in a forked child, crashed it (TensorFlow's runtime does not
    # survive a fork).
    gc.collect()
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"), initializer=initializer,
                               initargs=initargs)


def one_process_each(fn: Callable, tasks: Iterable, workers: int) -> Iterator[tuple[object, Future]]:
    """Run `fn(task)` for each task in a fresh forked process, at most `workers` at once, and yield
    (task, finished future) as each ends. A process per task keeps one task's state (caches, memory,
    threads) from reaching the next; a task whose process died has a future that raises
    `BrokenProcessPool`, and the others go on."""
    todo = iter(tasks)
    running: dict[Future, tuple[object, ProcessPoolExecutor]] = {}

    def start_next() -> None:
        task = next(todo, _NO_TASK)
        if task is not _NO_TASK:
            pool = fork_pool(1)
            running[pool.submit(fn, task)] = (task, pool)

    try:
        for _ in range(max(1, workers)):
            start_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task, pool = running.pop(future)
                pool.shutdown()
                start_next()
                yield task, future
    finally:  # the caller stopped early or failed: end what still runs
        for future, (_, pool) in running.items():
            future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
