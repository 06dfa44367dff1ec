"""Pick torch's CPU thread count for training by timing a few steps with each candidate.

A model this small gains little from a second thread on an idle machine (0.17 against
0.25 s per step, measured on 2 cores), and on a busy one two threads spend most of
their time waiting for each other: the demo's first run took 1,533 s with two threads
on a machine with a load of 5, and one thread was several times faster there. Which
is faster depends on the load at the moment, so the trainer measures it.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["fastest_thread_count", "thread_candidates"]

TIMED_STEPS = 3


def thread_candidates():
    """``[1]`` and torch's current thread count, without repeats, fewest first."""
    import torch

    return sorted({1, torch.get_num_threads()})


def fastest_thread_count(make_trial, candidates, *, timed_steps=TIMED_STEPS, clock=time.perf_counter):
    """The thread count under which ``make_trial()``'s steps run fastest.

    Parameters
    ----------
    make_trial : callable
        ``make_trial()`` returns a fresh ``step()`` callable (one training step on
        a throwaway copy of the model, so timing changes nothing that is trained).
    candidates : sequence of int
        Thread counts to try, in order; a tie goes to the earlier (fewer threads).
    timed_steps : int, default=3
        Steps timed per candidate, after one untimed warm-up step.
    clock : callable, default=time.perf_counter
        Returns the time in seconds (a test passes a fake one).

    Returns
    -------
    threads : int
        The fastest candidate.
    seconds_per_step : dict of int to float
        Median wall-clock seconds per step of each candidate.
    """
    import torch

    if not candidates:
        raise ValueError("fastest_thread_count needs at least one candidate thread count.")
    before = torch.get_num_threads()
    seconds_per_step = {}
    try:
        for threads in candidates:
            torch.set_num_threads(int(threads))
            step = make_trial()
            step()  # warm-up: allocations and first-call costs
            durations = []
            for _ in range(timed_steps):
                started = clock()
                step()
                durations.append(clock() - started)
            seconds_per_step[int(threads)] = float(np.median(durations))
    finally:
        torch.set_num_threads(before)
    fastest = min(seconds_per_step, key=seconds_per_step.__getitem__)
    return fastest, seconds_per_step
