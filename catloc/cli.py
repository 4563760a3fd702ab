"""The ``catloc`` command: ``run`` a catalog overnight, ask a run's ``status``."""
from __future__ import annotations

import io
import os
import sys
import threading
import time
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="catloc: localize supplier product catalogs overnight and export review sheets.")
console = Console(stderr=True)


def _quiet_prefect(verbose: bool) -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _progress(run_uri: str) -> dict:
    from catloc import storage
    try:
        return storage.read_json(storage.join(run_uri, "progress.json"))
    except Exception:
        return {}


def _run_with_progress(flow, run_uri: str, total: int, **params) -> dict:
    """Run ``flow(**params)`` in this thread while a bar follows the run's ``progress.json``."""
    done = threading.Event()
    started = time.time()

    def poll(progress: Progress, bar) -> None:
        while not done.wait(1.0):
            state = _progress(run_uri)
            if state and state.get("updated", "") and _is_fresh(state, started):
                progress.update(bar, total=state.get("total", total), completed=state.get("finished", 0))

    with Progress(TextColumn("[bold]SKUs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        bar = progress.add_task("skus", total=total)
        watcher = threading.Thread(target=poll, args=(progress, bar), daemon=True)
        watcher.start()
        try:
            result = flow(**params)
        finally:
            done.set()
            watcher.join()
        progress.update(bar, completed=progress.tasks[0].total)
    return result


def _is_fresh(state: dict, started: float) -> bool:
    import datetime as dt
    try:
        return dt.datetime.fromisoformat(state["updated"]).timestamp() >= started - 1
    except (KeyError, ValueError):
        return False


@app.command()
def run(
    catalog: str = typer.Argument(..., help="Catalog file: .csv, .parquet or .jsonl; a local path or s3:// URI."),
    market: str = typer.Option(..., "--market", "-m", help="Market code: a file configs/markets/<code>.yaml."),
    out: str = typer.Option("review_exports", "--out", "-o", help="Output root (local path or s3:// URI)."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Run folder name (default: <date>-<time>-<market>)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Process only the first N SKUs (by priority); the rest are 'deferred'."),
    candidates: Optional[int] = typer.Option(None, "--candidates", "-n", min=1, max=16, help="Candidates per SKU (default from pipeline.yaml, 7)."),
    config: Optional[str] = typer.Option(None, "--config", help="Pipeline config (default: $CATLOC_CONFIG or configs/pipeline.yaml)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="SKUs processed at once (default from pipeline.yaml)."),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="HH:MM: start no SKU that would not finish by then; the rest are 'deferred'."),
    tz: Optional[str] = typer.Option(None, "--tz", help="Time zone of --deadline (IANA name, e.g. Asia/Riyadh; default: this machine's)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's task logs."),
) -> None:
    """Run the nightly pipeline on CATALOG and write the review sheets (same --run-id again: resume)."""
    _quiet_prefect(verbose)
    from prefect.task_runners import ThreadPoolTaskRunner

    from catloc import storage
    from catloc.config import ConfigError, load_market, load_pipeline_config
    from catloc.engines import load_all
    from catloc.engines.base import EngineLoadError
    from catloc.schedule import parse_deadline
    from flows.nightly import default_run_id, nightly
    from tasks.clean import clean_options
    from tasks.ingest import CatalogError, read_catalog

    try:  # everything that can be wrong with the whole run is reported before it starts
        cfg = load_pipeline_config(config)
        mkt = load_market(market, cfg)
        storage.configure(cfg.storage_options)
        items, rejected = read_catalog(catalog)
        if deadline:
            parse_deadline(deadline, tz)
        load_all(cfg.engines)  # a missing model is one error now, not one per SKU at 3 a.m.
        clean_options(cfg.clean)
    except (ConfigError, CatalogError, EngineLoadError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    run_id = run_id or default_run_id(mkt.code)
    run_uri = storage.join(out, run_id)
    total = min(len(items), limit) if limit else len(items)
    console.print(f"catloc: {len(items) + len(rejected)} catalog rows, {total} SKUs to localize for "
                  f"{mkt.name} -> {run_uri}")

    flow = nightly.with_options(task_runner=ThreadPoolTaskRunner(max_workers=max(workers or cfg.max_workers, 1)))
    try:
        _run_with_progress(flow, run_uri, total, catalog=catalog, market=market, out=out, run_id=run_id,
                           limit=limit, candidates=candidates, config=config, deadline=deadline, tz=tz,
                           workers=workers)
    except (ConfigError, CatalogError, EngineLoadError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    _print_summary(run_uri)


@app.command()
def rerun(
    run_id: str = typer.Argument(..., help="The run to rerun SKUs of (its folder name under --out)."),
    out: str = typer.Option("review_exports", "--out", "-o", help="Output root the run was written to."),
    failed: bool = typer.Option(False, "--failed", help="Rerun the failed SKUs."),
    deferred: bool = typer.Option(False, "--deferred", help="Rerun the deferred SKUs (neither flag: both)."),
    skus: Optional[str] = typer.Option(None, "--skus", help="Comma-separated SKUs to rerun, whatever their status."),
    stage: Optional[str] = typer.Option(None, "--stage", help="Recompute from this stage on: clean, analyse, localize or qc."),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="HH:MM: start no SKU that would not finish by then."),
    tz: Optional[str] = typer.Option(None, "--tz", help="Time zone of --deadline (IANA name, default: this machine's)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="SKUs processed at once."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's task logs."),
) -> None:
    """Process chosen SKUs of a run again, reusing every still-valid stage output, and update its sheets."""
    _quiet_prefect(verbose)
    from prefect.task_runners import ThreadPoolTaskRunner

    from catloc import storage
    from catloc.config import ConfigError
    from flows.rerun import RerunError
    from flows.rerun import rerun as rerun_flow
    from tasks.ingest import CatalogError

    from catloc.records import STAGES
    if stage is not None and stage not in STAGES[1:-1]:
        console.print(f"[red]error:[/red] --stage must be one of {', '.join(STAGES[1:-1])}, got {stage!r}")
        raise typer.Exit(2)
    run_uri = storage.join(out, run_id)
    if not storage.exists(storage.join(run_uri, "run.json")):
        console.print(f"[red]error:[/red] no run {run_id!r} under {out}")
        raise typer.Exit(2)
    names = [s.strip() for s in skus.split(",") if s.strip()] if skus else None
    flow = rerun_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=max(workers or 2, 1)))
    try:
        result = _run_with_progress(flow, run_uri, len(names or []) or 1, run_id=run_id, out=out, failed=failed,
                                    deferred=deferred, skus=names, stage=stage, deadline=deadline, tz=tz,
                                    workers=workers)
    except (RerunError, ConfigError, CatalogError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    console.print(f"reran {len(result['rerun'])} SKUs")
    _print_summary(run_uri)


def _print_summary(run_uri: str) -> None:
    import pandas as pd

    from catloc import storage
    status = pd.read_parquet(io.BytesIO(storage.read_bytes(storage.join(run_uri, "status.parquet"))))
    counts = status["status"].value_counts().to_dict()
    console.print(f"\n[bold]run {status['run_id'].iloc[0] if len(status) else ''}[/bold]: "
                  f"[green]{counts.get('done', 0)} done[/green], [red]{counts.get('failed', 0)} failed[/red], "
                  f"[yellow]{counts.get('deferred', 0)} deferred[/yellow]")
    bad = status[status["status"] != "done"]
    if len(bad):
        table = Table("sku", "status", "stage", "error", show_lines=False)
        for row in bad.itertuples():
            table.add_row(str(row.sku), row.status, row.stage or "", row.error or "")
        console.print(table)
    console.print(f"review sheet: {storage.join(run_uri, 'review.parquet')} (and review.csv)")
    console.print(f"status:       {storage.join(run_uri, 'status.parquet')} (and status.csv)")
    sheets = storage.list_files(run_uri, "contact_sheet-*.jpg")
    if sheets:
        console.print(f"contact sheet: {sheets[0]}" + (f" (+{len(sheets) - 1} pages)" if len(sheets) > 1 else ""))


@app.command()
def status(
    run_id: str = typer.Argument(..., help="The run's id (its folder name under --out)."),
    out: str = typer.Option("review_exports", "--out", "-o", help="Output root the run was written to."),
) -> None:
    """Show a run's done/failed/deferred counts and every SKU that is not done."""
    from catloc import storage
    run_uri = storage.join(out, run_id)
    if storage.exists(storage.join(run_uri, "status.parquet")):
        _print_summary(run_uri)
        return
    if storage.exists(storage.join(run_uri, "run.json")):
        state = _progress(run_uri)
        console.print(f"run {run_id}: in progress or interrupted, {state.get('finished', 0)} of "
                      f"{state.get('total', '?')} SKUs finished, no review sheet yet")
        return
    console.print(f"[red]error:[/red] no run {run_id!r} under {out}")
    raise typer.Exit(2)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
