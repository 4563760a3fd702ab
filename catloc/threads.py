"""How many threads this process's image libraries (OpenCV, ONNX Runtime, torch) may use.

By default every library sizes its own thread pool to the machine's cores. A Dask worker that
declares ``CPU=k`` (``dask worker --resources CPU=k``, catloc's ``local:N`` workers: ``CPU=1``) is one
of several sharing the host: its libraries get ``k`` threads (:func:`set_library_threads`, called by
the engine warm-up when the worker joins), so N one-CPU workers on N cores do not run N x N threads.
``CATLOC_THREADS=k`` in a process's environment sets the same by hand and wins over the resource.

The same number bounds catloc's own threads for one photo (:func:`thread_map`, :func:`run_beside`): the
clean stage runs its independent pieces (the code detectors beside the OCR engine, a watermark's
reference tiles, the holes of an inpainting) side by side, so one photo uses the cores the process has;
a one-CPU worker runs them one after another.
"""
from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

ENV = "CATLOC_THREADS"
T = TypeVar("T")
R = TypeVar("R")


def library_threads() -> int:
    """Threads the image libraries may use in this process; 0: their own default (every core)."""
    try:
        return max(0, int(os.environ.get(ENV, "0") or 0))
    except ValueError:
        return 0


def set_library_threads(n: int) -> None:
    """Give this process's libraries ``n`` threads (``n`` < 1: leave them as they are): OpenCV and
    torch now, ONNX Runtime sessions built from now on (the engines read :func:`library_threads`)."""
    if n < 1:
        return
    os.environ[ENV] = str(int(n))
    apply_library_threads()


def apply_library_threads() -> None:
    """Apply :func:`library_threads` to OpenCV and (when imported) torch; engines call it once built."""
    n = library_threads()
    if not n:
        return
    import cv2
    cv2.setNumThreads(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


# ---------------------------------------------------------------- one photo's work on several cores

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()
_in_pool = threading.local()  # .busy: set in the pool's own threads


def image_threads() -> int:
    """Threads one photo's independent pieces of work may run on: :func:`library_threads`, else the cores."""
    return library_threads() or os.cpu_count() or 1


def thread_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``, computed on up to :func:`image_threads` threads (OpenCV and NumPy
    release the GIL in their heavy calls, so independent pieces of one photo's work share the cores).

    The results, their order and any exception are those of the plain loop, so ``fn`` must not depend
    on which thread runs it (OpenCV's RNG is per thread: seed it inside ``fn``) nor write what another
    call reads. With one thread, one item, or when called from one of the pool's own threads (no
    nesting: a pool thread waiting on the pool could wait for ever), it *is* the plain loop."""
    items = list(items)
    if len(items) < 2 or _sequential():
        return [fn(x) for x in items]
    return list(_shared_pool().map(fn, items))


def run_beside(first: Callable[[], R], *others: Callable[[], R]) -> list[R]:
    """``[first(), *(call() for call in others)]``: ``first`` on the calling thread (its own
    :func:`thread_map` calls still spread over the pool), ``others`` on the pool's threads meanwhile;
    the plain sequence, as :func:`thread_map` falls back to it. An exception is raised once every call
    has ended (``first``'s before the others')."""
    if not others or _sequential():
        return [call() for call in (first, *others)]
    futures = [_shared_pool().submit(call) for call in others]
    try:
        head = first()
    finally:
        wait(futures)
    return [head, *(future.result() for future in futures)]


def _sequential() -> bool:
    return image_threads() < 2 or getattr(_in_pool, "busy", False)


def _shared_pool() -> ThreadPoolExecutor:
    """The process's pool of :func:`image_threads` threads (made again, the old one let go, when that changes)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != image_threads():
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool_size = image_threads()
            _pool = ThreadPoolExecutor(max_workers=_pool_size, thread_name_prefix="catloc-image",
                                       initializer=_mark_pool_thread)
        return _pool


def _mark_pool_thread() -> None:
    _in_pool.busy = True
