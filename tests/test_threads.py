"""catloc.threads: a worker declaring CPU=k gives its image libraries k threads."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import cv2

from catloc.threads import ENV, library_threads, set_library_threads


def test_library_threads_follow_the_setting(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert library_threads() == 0
    monkeypatch.setenv(ENV, "nonsense")
    assert library_threads() == 0
    before = cv2.getNumThreads()
    try:
        set_library_threads(1)
        assert library_threads() == 1 and cv2.getNumThreads() == 1
        set_library_threads(0)                      # < 1: left as it is
        assert library_threads() == 1
    finally:
        cv2.setNumThreads(before)


def test_a_worker_declaring_one_cpu_gets_one_library_thread(monkeypatch):
    from catloc.flows.runners import EngineWarmup
    monkeypatch.delenv(ENV, raising=False)
    before = cv2.getNumThreads()
    worker = SimpleNamespace(state=SimpleNamespace(total_resources={"CPU": 1.0}))
    try:
        asyncio.run(EngineWarmup([], {}).setup(worker))
        assert library_threads() == 1 and cv2.getNumThreads() == 1
        monkeypatch.setenv(ENV, "2")                # set by hand: wins over the resource
        asyncio.run(EngineWarmup([], {}).setup(worker))
        assert library_threads() == 2
    finally:
        cv2.setNumThreads(before)


def test_thread_map_gives_the_plain_loop_s_results_on_the_photo_s_threads(monkeypatch):
    """Results in order, the loop's exception, work spread over threads with 2 allowed, none with 1, and
    no nesting: a call made from a pool thread is the plain loop (a pool thread waiting on the pool could
    wait for ever)."""
    import threading
    import time

    import pytest

    from catloc.threads import image_threads, run_beside, thread_map

    monkeypatch.setenv(ENV, "2")
    assert image_threads() == 2
    seen = set()

    def slow_square(x):
        seen.add(threading.current_thread().name)
        time.sleep(0.02)
        return x * x

    assert thread_map(slow_square, range(8)) == [x * x for x in range(8)]
    assert len(seen) == 2 and all(name.startswith("catloc-image") for name in seen)
    here = threading.current_thread().name
    assert run_beside(lambda: threading.current_thread().name, lambda: "b") == [here, "b"]  # first: the caller's
    with pytest.raises(ValueError, match="first"):
        run_beside(lambda: (_ for _ in ()).throw(ValueError("first")), lambda: "b")
    nested = thread_map(lambda x: (threading.current_thread().name,
                                   {threading.current_thread().name for _ in thread_map(slow_square, range(3))}),
                        range(2))
    assert all(inner == {outer} for outer, inner in nested)  # the inner map ran on the outer item's thread

    def fails_on_three(x):
        if x == 3:
            raise ValueError("three")
        return x

    with pytest.raises(ValueError, match="three"):
        thread_map(fails_on_three, range(6))
    monkeypatch.setenv(ENV, "1")
    seen.clear()
    assert thread_map(slow_square, range(4)) == [0, 1, 4, 9]
    assert seen == {threading.current_thread().name}
