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
