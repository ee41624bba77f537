"""Forked workers: a worker that dies is reported, never waited for."""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal

import pytest

from models.speech.workers import BrokenProcessPool, fork_pool, one_process_each


def _square_or_crash(n: int) -> tuple[int, int]:
    if n == 3:
        faulthandler.disable()  # pytest's traceback dump, inherited by the fork, would only add noise
        os.kill(os.getpid(), signal.SIGSEGV)  # what a crash in native code does to the process
    return n * n, os.getpid()


def test_a_task_whose_process_dies_raises_and_the_other_tasks_still_finish():
    finished = {}
    for task, future in one_process_each(_square_or_crash, range(6), workers=2):
        try:
            finished[task] = future.result()
        except BrokenProcessPool:
            finished[task] = "died"
    assert finished.pop(3) == "died"
    assert {n: square for n, (square, _) in finished.items()} == {0: 0, 1: 1, 2: 4, 4: 16, 5: 25}
    pids = [pid for _, pid in finished.values()]
    assert len(set(pids)) == len(pids) and os.getpid() not in pids  # a fresh process for every task


def test_a_pool_whose_worker_dies_raises_instead_of_hanging():
    with fork_pool(2) as pool:
        assert [square for square, _ in pool.map(_square_or_crash, [1, 2])] == [1, 4]
    with pytest.raises(BrokenProcessPool), fork_pool(2) as pool:
        list(pool.map(_square_or_crash, range(6)))


def test_stopping_early_ends_the_processes_still_running():
    tasks = one_process_each(_square_or_crash, [0, 1, 2], workers=2)
    task, future = next(tasks)
    assert future.result()[0] == task * task
    tasks.close()  # the caller stops reading: nothing is left running
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]
