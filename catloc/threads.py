"""How many threads this process's image libraries (OpenCV, ONNX Runtime, torch) may use.

By default every library sizes its own thread pool to the machine's cores. A Dask worker that
declares ``CPU=k`` (``dask worker --resources CPU=k``, catloc's ``local:N`` workers: ``CPU=1``) is one
of several sharing the host: its libraries get ``k`` threads (:func:`set_library_threads`, called by
the engine warm-up when the worker joins), so N one-CPU workers on N cores do not run N x N threads.
``CATLOC_THREADS=k`` in a process's environment sets the same by hand and wins over the resource.
"""
from __future__ import annotations

import os
import sys

ENV = "CATLOC_THREADS"


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
