"""Everything a run needs, checked before its first SKU starts.

:func:`prepare_run` (a nightly run) and :func:`prepare_rerun` (chosen SKUs of an existing run)
load the pipeline config and the market, build every engine (a missing model fails here, not
per SKU at 3 a.m.), check the clean options and the deadline, read and validate the catalog
once, and decide which SKUs to process. The CLI calls them before starting Prefect and hands
the plan to the flow; a deployment's flow calls them itself. Raises ``ConfigError``,
``CatalogError``, ``EngineLoadError``, :class:`RerunError` or ``ValueError`` (a bad deadline)
with a message naming what is wrong.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

from catloc import storage
from catloc.cache import stable_hash
from catloc.config import MarketProfile, PipelineConfig, load_market, load_pipeline_config, parse_cluster
from catloc.engines import load_all
from catloc.history import PickHistory, history_root
from catloc.records import STAGES, CatalogItem, SkuRecord
from catloc.runfolder import RunFolder
from catloc.schedule import NightBudget
from catloc.tasks.clean.options import CleanOptions
from catloc.tasks.ingest import read_catalog
from catloc.flows.runners import require_real_server
from catloc.tasks.mix import RunMix
from catloc.tasks.review.attempts import marked_for_regeneration, mix_with_new_attempts, run_mix

RERUN_STAGES = STAGES[1:-1]  # a rerun may recompute from clean, analyse, localize or qc


class RerunError(ValueError):
    """The rerun cannot start (no such run, unknown SKUs or stage)."""


@dataclass(frozen=True)
class RunSettings:
    """What every SKU of a run is processed with (small: it travels with each SKU's task)."""

    config: PipelineConfig
    market: MarketProfile
    folder: RunFolder
    n_candidates: int
    clean: CleanOptions
    force_from: str | None = None      # recompute from this stage on, even where stored outputs are valid
    mix: RunMix = field(default_factory=RunMix)  # which scenes, framings and attempts each SKU's candidates use

    def forces(self, stage: str) -> bool:
        return self.force_from is not None and STAGES.index(stage) >= STAGES.index(self.force_from)


class RunPlan:
    """A prepared run: its settings, the SKUs to process (most urgent first) and what is left out.

    Not a dataclass on purpose: Prefect cannot encode it, so a plan handed to a flow is recorded
    as ``<RunPlan>`` in the flow run's parameters instead of copying the whole catalog there.
    """

    __slots__ = ("settings", "budget", "todo", "keys", "kept", "rejected", "over_limit", "info", "workers", "cluster")

    def __init__(self, settings: RunSettings, budget: NightBudget, todo: list[CatalogItem], keys: dict[str, str],
                 rejected: list[SkuRecord], info: dict[str, Any], workers: int, kept: int = 0,
                 over_limit: list[CatalogItem] | None = None, cluster: str | None = None):
        self.settings, self.budget, self.todo, self.keys = settings, budget, todo, keys
        self.rejected, self.info, self.workers, self.kept = rejected, info, workers, kept
        self.over_limit = over_limit or []
        self.cluster = cluster  # None: threads in the flow's process; "local:N" or a Dask scheduler address

    @property
    def folder(self) -> RunFolder:
        return self.settings.folder


def default_run_id(market: str) -> str:
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{market}"


def input_key(item: CatalogItem, cfg: PipelineConfig, market: MarketProfile, n_candidates: int) -> str:
    """What a finished SKU record depends on: its catalog row (not its priority) and the config."""
    payload = {"sku": item.sku, "images": item.images, "title": item.title, "category": item.category,
               "cfg": {"engines": cfg.engines, "ingest": cfg.ingest, "clean": cfg.clean, "qc": cfg.qc},
               "market": market.localization(), "n": n_candidates}
    return stable_hash(payload)


def by_priority(items: list[CatalogItem]) -> list[CatalogItem]:
    """Most urgent first (priority 1 before 3), catalog order within a priority."""
    return sorted(items, key=lambda it: (it.priority, it.row))


def choose_cluster(option: str | None, cfg: PipelineConfig) -> str | None:
    """Where the SKU tasks run: ``option`` (``--cluster``, a flow parameter), else ``$CATLOC_CLUSTER``, else
    pipeline.yaml's ``cluster.address``; checked, and refused on Prefect's temporary server."""
    if option is not None:
        cluster = parse_cluster(option, "--cluster")
    elif os.environ.get("CATLOC_CLUSTER"):
        cluster = parse_cluster(os.environ["CATLOC_CLUSTER"], "$CATLOC_CLUSTER")
    else:
        cluster = cfg.cluster.address
    require_real_server(cluster)
    return cluster


def load_setup(config: str | None, market: str,
               cluster: str | None = None) -> tuple[PipelineConfig, MarketProfile, CleanOptions, str | None]:
    """The pipeline config, the market, the clean options and the cluster (:func:`choose_cluster`).
    Without a cluster, every engine is built here (after the cheap checks, so a bad setting fails at
    once); on a cluster, the workers build the engines of their stages as the run starts (a model
    on a GPU host need not fit on the host of the flow), and a missing one fails the run there."""
    cfg = load_pipeline_config(config)
    mkt = load_market(market, cfg)
    where = choose_cluster(cluster, cfg)
    storage.configure(cfg.storage_options)
    clean = CleanOptions.for_market(cfg.clean, mkt)
    if where is None:
        load_all(cfg.engines)
    return cfg, mkt, clean, where


def prepare_run(catalog: str, market: str, out: str = "review_exports", run_id: str | None = None,
                limit: int | None = None, candidates: int | None = None, config: str | None = None,
                deadline: str | None = None, tz: str | None = None, workers: int | None = None,
                cluster: str | None = None) -> RunPlan:
    """A nightly run of ``catalog`` for ``market``. SKUs the run folder already has done from the
    same catalog row and config (a resumed run) are not processed again."""
    cfg, mkt, clean, where = load_setup(config, market, cluster)
    budget = NightBudget.from_config(cfg.run, deadline, tz)
    items, rejected = read_catalog(str(catalog))
    folder = RunFolder(str(out), run_id or default_run_id(mkt.code))
    n = int(candidates or cfg.candidates_per_sku)
    ordered = by_priority(items)
    todo, over_limit = (ordered, []) if limit is None else (ordered[:limit], ordered[limit:])
    keys = {it.sku: input_key(it, cfg, mkt, n) for it in todo}
    resumable = {it.sku for it in todo if folder.is_done(it.sku, keys[it.sku])}
    mix = run_mix(folder, PickHistory(history_root(out, cfg.review), mkt.code), mkt, [it.sku for it in todo])
    info = {"run_id": folder.run_id, "catalog": str(catalog), "market": mkt.code, "out": str(out), "limit": limit,
            "candidates": n, "config": cfg.path, "deadline": deadline, "tz": tz,
            "started": dt.datetime.now().isoformat(timespec="seconds"), "mix": mix.to_dict()}
    return RunPlan(RunSettings(cfg, mkt, folder, n, clean, mix=mix), budget,
                   [it for it in todo if it.sku not in resumable], keys,
                   rejected, info, workers or cfg.max_workers, kept=len(resumable), over_limit=over_limit, cluster=where)


def select_skus(items: list[CatalogItem], records: list[SkuRecord], *, failed: bool, deferred: bool,
                skus: list[str] | None) -> list[CatalogItem]:
    """The catalog items to rerun: named ``skus``, else failed and/or deferred ones (default both),
    plus catalog SKUs the run has no record of."""
    if skus:
        wanted = set(skus)
        unknown = sorted(wanted - {it.sku for it in items})
        if unknown:
            raise RerunError(f"not in the catalog: {', '.join(unknown)}")
        return [it for it in items if it.sku in wanted]
    by_sku = {r.sku: r for r in records}
    statuses = ({"failed"} if failed else set()) | ({"deferred"} if deferred else set()) or {"failed", "deferred"}
    return [it for it in items if it.sku not in by_sku or by_sku[it.sku].status in statuses]


def prepare_rerun(run_id: str, out: str = "review_exports", failed: bool = False, deferred: bool = False,
                  skus: list[str] | None = None, stage: str | None = None, deadline: str | None = None,
                  tz: str | None = None, workers: int | None = None, rejected: bool = False,
                  cluster: str | None = None) -> RunPlan:
    """The chosen SKUs of run ``run_id`` again, with the run's own catalog, market, config and
    candidate mix; ``rejected``: a new attempt for the SKUs reviewers marked "regenerate"."""
    folder = RunFolder(str(out), run_id)
    if stage is not None and stage not in RERUN_STAGES:
        raise RerunError(f"--stage must be one of {', '.join(RERUN_STAGES)}, got {stage!r}")
    if not folder.exists():
        raise RerunError(f"no run {run_id!r} under {out} (missing run.json)")
    info = folder.read_info()
    cfg, mkt, clean, where = load_setup(info.get("config"), info["market"], cluster)
    budget = NightBudget.from_config(cfg.run, deadline, tz)
    n = int(info.get("candidates") or cfg.candidates_per_sku)
    items, bad_rows = read_catalog(info["catalog"])
    records, mix = folder.records(), RunMix.from_dict(info.get("mix"))
    chosen = select_skus(items, records, failed=failed, deferred=deferred, skus=skus) \
        if failed or deferred or skus or not rejected else []
    if rejected:
        marked = marked_for_regeneration(folder.read_applied(), records)
        if not marked:
            raise RerunError(f"no SKU of run {run_id!r} is marked 'regenerate' (apply the review page's picks.csv "
                             "first: catloc picks apply)")
        mix = mix_with_new_attempts(mix, records, marked)
        chosen += [it for it in items if it.sku in marked and it not in chosen]
        info = {**info, "mix": mix.to_dict()}
    keys = {it.sku: input_key(it, cfg, mkt, n) for it in chosen}
    return RunPlan(RunSettings(cfg, mkt, folder, n, clean, force_from=stage, mix=mix), budget, by_priority(chosen),
                   keys, bad_rows, info, workers or cfg.max_workers, cluster=where)
