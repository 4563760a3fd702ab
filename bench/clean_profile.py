"""Where the clean stage's time goes, for ``bench/clean.py --profile``.

:class:`StepClock` times one call of ``tasks.clean.remove_overlay_text`` step by step, without
changing it: while the call runs, the module-level functions of ``tasks.clean.pipeline`` that make
its steps are wrapped, and the engines it is given are wrapped in thin proxies. Each step gets its
wall time (``time.perf_counter``) and CPU time (``time.process_time``: every thread of the process,
so an ONNX Runtime session running on two cores counts twice). A step's time includes the engine
calls it makes; the ``inpaint`` step (5) is the inpainter's calls made outside every other step.
The engine rows say how much of the whole call each engine took, wherever it was called from
(the OCR engine in steps 1 and 6, the segmenter in step 2, the inpainter in steps 2, 5 and 6).

On a machine others share, wall time grows with the load (other processes get the cores) while
CPU time grows much less: compare steps by CPU time, and read wall times with the load average
that every case records.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Any

import numpy as np

from catloc.tasks.clean import pipeline

# (row, function of tasks.clean.pipeline): the steps of remove_overlay_text, in their order
STEPS = [("1 find", "find_text_and_codes"), ("2 place on product", "place_on_product"), ("3 decide", "decide"),
         ("4 mask", "watermark_layer"), ("4 mask", "removal_mask"), ("4 mask", "deblend"),
         ("6 verify", "kept_text"), ("6 verify", "verify_cleaned"), ("report", "clean_report")]
ROWS = ["1 find", "2 place on product", "3 decide", "4 mask", "5 inpaint", "6 verify", "report"]
ENGINE_METHODS = {"ocr": ("detect", "find", "read"), "segment": ("segment",), "inpaint": ("inpaint",)}


class _Proxy:
    """An engine whose ``methods`` are timed into ``clock`` under ``row``; everything else is the engine's."""

    def __init__(self, engine: Any, row: str, methods: tuple[str, ...], clock: "StepClock"):
        self._engine, self._row, self._methods, self._clock = engine, row, methods, clock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._engine, name)
        if name not in self._methods:
            return attr
        return self._clock.timed(attr, self._row, engine=True)


class StepClock:
    """Wall and CPU seconds per step and per engine of the clean calls made through it."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._depth = 0  # how many steps are running (a step's nested calls count in it only)

    def engines(self, ocr: Any, inpainter: Any, segmenter: Any) -> tuple[Any, Any, Any]:
        """The engines wrapped so that their calls are timed (rows ``engine ocr`` etc.)."""
        return (_Proxy(ocr, "engine ocr", ENGINE_METHODS["ocr"], self),
                _Proxy(inpainter, "engine inpaint", ENGINE_METHODS["inpaint"], self),
                _Proxy(segmenter, "engine segment", ENGINE_METHODS["segment"], self))

    def timed(self, fn: Any, row: str, engine: bool = False) -> Any:
        """``fn`` wrapped to add its wall and CPU time to ``row``; a step's row only where no other
        step runs, an engine's row always (and, outside every step, the inpainter's to ``5 inpaint``)."""
        def call(*args, **kwargs):
            top = self._depth == 0
            self._depth += not engine
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth -= not engine
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                rows = [row] if (engine or top) else []
                if engine and top and row == "engine inpaint":
                    rows.append("5 inpaint")
                for r in rows:
                    self.wall[r] = self.wall.get(r, 0.0) + wall
                    self.cpu[r] = self.cpu.get(r, 0.0) + cpu
        return call

    @contextmanager
    def steps(self):
        """While inside: the step functions of ``tasks.clean.pipeline`` are timed."""
        saved = {name: getattr(pipeline, name) for _, name in STEPS}
        try:
            for row, name in STEPS:
                setattr(pipeline, name, self.timed(saved[name], row))
            yield self
        finally:
            for name, fn in saved.items():
                setattr(pipeline, name, fn)

    def record(self, per_1024: float) -> dict:
        """Per row: ``[wall, cpu]`` seconds, and the same per 1024-px image (x ``per_1024``)."""
        return {row: {"wall": round(self.wall[row], 4), "cpu": round(self.cpu[row], 4),
                      "wall_1024": round(self.wall[row] * per_1024, 4), "cpu_1024": round(self.cpu[row] * per_1024, 4)}
                for row in ROWS + sorted(r for r in self.wall if r.startswith("engine")) if row in self.wall}


def load_average() -> float:
    """The 1-minute load average (processes wanting a core; this machine has ``os.cpu_count()``)."""
    return round(os.getloadavg()[0], 2)


def summarise_profile(cases: list[dict]) -> dict:
    """Per category (and ``all``): the mean CPU and wall seconds per 1024-px image of every row, the
    whole call's, and the mean load average the cases ran at."""
    categories = list(dict.fromkeys(c["category"] for c in cases))
    groups = {cat: [c for c in cases if c["category"] == cat] for cat in categories}
    if len(categories) > 1:
        groups["all"] = cases
    out = {}
    for cat, group in groups.items():
        rows = list(dict.fromkeys(r for c in group for r in c["profile"]))
        out[cat] = {row: {k: round(float(np.mean([c["profile"].get(row, {}).get(k, 0.0) for c in group])), 3)
                          for k in ("cpu_1024", "wall_1024")} for row in rows}
        out[cat]["whole call"] = {"cpu_1024": round(float(np.mean([c["cpu_seconds_1024"] for c in group])), 3),
                                  "wall_1024": round(float(np.mean([c["seconds_1024"] for c in group])), 3)}
        out[cat]["load"] = round(float(np.mean([c["load"] for c in group])), 2)
    return out


def print_profile(summary: dict) -> None:
    """The profile as a table: one row per step and engine, CPU / wall seconds per 1024-px image."""
    cats = list(summary)
    print(f"\nclean stage profile: CPU / wall seconds per 1024-px image (mean load average in the last row; "
          f"{os.cpu_count()} cores)")
    print(f"{'step':22s} " + " ".join(f"{c:>16s}" for c in cats))
    rows = list(dict.fromkeys(r for cat in cats for r in summary[cat] if r != "load"))
    for row in rows:
        cells = [summary[c].get(row) for c in cats]
        print(f"{row:22s} " + " ".join(f"{v['cpu_1024']:7.3f} /{v['wall_1024']:7.3f}" if v else f"{'-':>16s}"
                                       for v in cells))
    print(f"{'load average':22s} " + " ".join(f"{summary[c]['load']:>16.2f}" for c in cats))
