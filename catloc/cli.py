"""The ``catloc`` command: ``run`` a catalog overnight, ask a run's ``status``, ``rerun`` SKUs of it,
``picks apply`` / ``picks stats`` once reviewers have chosen the winners, and ``stack up``/``down``
a production-like stack on this machine."""
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
picks_app = typer.Typer(no_args_is_help=True, help="Apply reviewers' picks (publish the winners) and show pick rates.")
app.add_typer(picks_app, name="picks")


def _quiet_prefect(verbose: bool) -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's temporary server gets 30 s to start by default: a first start on a fresh database, or on
    # a busy 2-core host, takes longer (measured over a minute), and the run died with a timeout
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # the cluster's own INFO lines


USAGE_ERRORS: tuple[type[Exception], ...] = (ValueError,)  # ConfigError, CatalogError, RerunError are ValueErrors


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(2)


def _run_with_progress(flow, folder, total: int, **params) -> dict:
    """Run ``flow(**params)`` in this thread while a bar follows the run's ``progress.json``."""
    done = threading.Event()
    started = time.time()

    def poll(progress: Progress, bar) -> None:
        while not done.wait(1.0):
            state = folder.read_progress()
            if state and _is_fresh(state, started):
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


CLUSTER_HELP = ("Run the SKU tasks on Dask: local:N (N worker processes here) or a scheduler address "
                "tcp://HOST:8786; 'none': threads here (default: $CATLOC_CLUSTER, else cluster.address in "
                "pipeline.yaml). Needs PREFECT_API_URL (a real Prefect server).")


@app.command()
def run(
    catalog: str = typer.Argument(..., help="Catalog file: .csv, .parquet or .jsonl; a local path or s3:// URI."),
    market: str = typer.Option(..., "--market", "-m", help="Market code: a file configs/markets/<code>.yaml."),
    out: str = typer.Option("review_exports", "--out", "-o", help="Output root (local path or s3:// URI)."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Run folder name (default: <date>-<time>-<market>)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Process only the first N SKUs (by priority); the rest are 'deferred'."),
    candidates: Optional[int] = typer.Option(None, "--candidates", "-n", min=1, max=16, help="Candidates per SKU (default from pipeline.yaml, 7)."),
    config: Optional[str] = typer.Option(None, "--config", help="Pipeline config (default: $CATLOC_CONFIG or configs/pipeline.yaml)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Without a cluster: SKU tasks at once (default from pipeline.yaml)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help=CLUSTER_HELP),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="HH:MM: start no SKU that would not finish by then; the rest are 'deferred'."),
    tz: Optional[str] = typer.Option(None, "--tz", help="Time zone of --deadline (IANA name, e.g. Asia/Riyadh; default: this machine's)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's task logs."),
) -> None:
    """Run the nightly pipeline on CATALOG and write the review sheets (same --run-id again: resume)."""
    _quiet_prefect(verbose)
    from catloc.engines.base import EngineLoadError
    from catloc.flows.nightly import nightly
    from catloc.flows.prepare import prepare_run
    from catloc.flows.runners import ClusterError

    params = dict(catalog=catalog, market=market, out=out, run_id=run_id, limit=limit, candidates=candidates,
                  config=config, deadline=deadline, tz=tz, workers=workers, cluster=cluster)
    try:  # everything that can be wrong with the whole run is reported before it starts
        plan = prepare_run(**params)
    except (*USAGE_ERRORS, EngineLoadError) as exc:
        raise _fail(exc)
    total = len(plan.todo) + plan.kept
    console.print(f"catloc: {total + len(plan.over_limit) + len(plan.rejected)} catalog rows, {total} SKUs to "
                  f"localize for {plan.settings.market.name} -> {plan.folder.uri}")
    try:  # on a cluster, engines are built on the workers as the run starts
        _run_with_progress(nightly, plan.folder, total, **{**params, "run_id": plan.folder.run_id}, plan=plan)
    except (EngineLoadError, ClusterError) as exc:
        raise _fail(exc)
    _print_summary(plan.folder)


@app.command()
def rerun(
    run_id: str = typer.Argument(..., help="The run to rerun SKUs of (its folder name under --out)."),
    out: str = typer.Option("review_exports", "--out", "-o", help="Output root the run was written to."),
    failed: bool = typer.Option(False, "--failed", help="Rerun the failed SKUs."),
    deferred: bool = typer.Option(False, "--deferred", help="Rerun the deferred SKUs (neither flag: both)."),
    skus: Optional[str] = typer.Option(None, "--skus", help="Comma-separated SKUs to rerun, whatever their status."),
    stage: Optional[str] = typer.Option(None, "--stage", help="Recompute from this stage on: clean, analyse, localize or qc."),
    rejected: bool = typer.Option(False, "--rejected", help="New candidates for the SKUs reviewers marked 'regenerate' (applied picks)."),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="HH:MM: start no SKU that would not finish by then."),
    tz: Optional[str] = typer.Option(None, "--tz", help="Time zone of --deadline (IANA name, default: this machine's)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Without a cluster: SKU tasks at once."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help=CLUSTER_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's task logs."),
) -> None:
    """Process chosen SKUs of a run again, reusing every still-valid stage output, and update its sheets."""
    _quiet_prefect(verbose)
    from catloc.engines.base import EngineLoadError
    from catloc.flows.prepare import prepare_rerun
    from catloc.flows.rerun import rerun as rerun_flow
    from catloc.flows.runners import ClusterError

    names = [s.strip() for s in skus.split(",") if s.strip()] if skus else None
    params = dict(run_id=run_id, out=out, failed=failed, deferred=deferred, skus=names, stage=stage,
                  deadline=deadline, tz=tz, workers=workers, rejected=rejected, cluster=cluster)
    try:
        plan = prepare_rerun(**params)
    except (*USAGE_ERRORS, EngineLoadError) as exc:
        raise _fail(exc)
    try:
        result = _run_with_progress(rerun_flow, plan.folder, len(plan.todo) or 1, **params, plan=plan)
    except (EngineLoadError, ClusterError) as exc:
        raise _fail(exc)
    console.print(f"reran {len(result['rerun'])} SKUs")
    _print_summary(plan.folder)


def _print_summary(folder) -> None:
    import pandas as pd
    status = pd.read_parquet(io.BytesIO(folder.read_table_bytes("status")))
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
    console.print(f"review sheet: {folder.file('review.parquet')} (and review.csv)")
    console.print(f"status:       {folder.file('status.parquet')} (and status.csv)")
    from catloc import storage
    if storage.exists(folder.review_page):
        console.print(f"review page:  {folder.review_page}")


@app.command()
def status(
    run_id: str = typer.Argument(..., help="The run's id (its folder name under --out)."),
    out: str = typer.Option("review_exports", "--out", "-o", help="Output root the run was written to."),
) -> None:
    """Show a run's done/failed/deferred counts and every SKU that is not done."""
    from catloc.runfolder import RunFolder
    folder = RunFolder(out, run_id)
    if folder.has_sheets():
        _print_summary(folder)
        return
    if folder.exists():
        state = folder.read_progress()
        console.print(f"run {run_id}: in progress or interrupted, {state.get('finished', 0)} of "
                      f"{state.get('total', '?')} SKUs finished, no review sheet yet")
        return
    raise _fail(ValueError(f"no run {run_id!r} under {out}"))


stack_app = typer.Typer(no_args_is_help=True, help="A production-like stack on this machine: PostgreSQL, a Prefect "
                        "server, work pool, deployments and worker, a Dask scheduler with CPU and GPU workers.")
app.add_typer(stack_app, name="stack")
STACK_DIR_HELP = "The stack's folder: state, logs, databases (default: $CATLOC_STACK_DIR or ./.catloc-stack)."


def _stack_dir(folder: Optional[str]):
    from pathlib import Path
    return Path(folder or os.environ.get("CATLOC_STACK_DIR") or ".catloc-stack").resolve()


@stack_app.command("up")
def stack_up(
    folder: Optional[str] = typer.Option(None, "--dir", help=STACK_DIR_HELP),
    cpu_workers: int = typer.Option(2, "--cpu-workers", min=0, help="Dask workers declaring CPU=1."),
    gpu_workers: int = typer.Option(0, "--gpu-workers", min=0, help="Dask workers declaring GPU=1 (one per GPU)."),
    postgres: bool = typer.Option(True, "--postgres/--sqlite", help="Prefect's database: PostgreSQL (or SQLite)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface every service listens on."),
    pool: str = typer.Option("catloc", "--pool", help="The Prefect work pool (process type)."),
    deploy: bool = typer.Option(True, "--deploy/--no-deploy", help="Deploy prefect.yaml's deployments to the pool."),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Start a Prefect worker on the pool."),
) -> None:
    """Start the stack (every service in its own process) and print how to point a shell at it."""
    from catloc import stack
    options = stack.StackOptions(host=host, postgres=postgres, cpu_workers=cpu_workers, gpu_workers=gpu_workers,
                                 deployments=deploy, prefect_worker=worker, pool=pool)
    try:
        state = stack.up(_stack_dir(folder), options)
    except stack.StackError as exc:
        raise _fail(exc)
    for service in state.services:
        console.print(f"  {service.name:<15} pid {service.pid:<8} log {service.log}")
    console.print("point a shell at it:  eval \"$(catloc stack env)\"")
    print("\n".join(stack.env_lines(_stack_dir(folder))))


@stack_app.command("down")
def stack_down(folder: Optional[str] = typer.Option(None, "--dir", help=STACK_DIR_HELP),
               purge: bool = typer.Option(False, "--purge", help="Also delete the folder (databases, logs).")) -> None:
    """Stop every service of the stack, last started first."""
    from catloc import stack
    stopped = stack.down(_stack_dir(folder), purge=purge)
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@stack_app.command("status")
def stack_status(folder: Optional[str] = typer.Option(None, "--dir", help=STACK_DIR_HELP)) -> None:
    """Every service of the stack, whether it runs, and its log."""
    from catloc import stack
    rows = stack.status(_stack_dir(folder))
    for service, alive in rows:
        console.print(f"  {service.name:<15} {'running' if alive else '[red]stopped[/red]':<8} pid {service.pid:<8} "
                      f"log {service.log}")
    if not rows:
        console.print(f"no stack in {_stack_dir(folder)}")


@stack_app.command("env")
def stack_env(folder: Optional[str] = typer.Option(None, "--dir", help=STACK_DIR_HELP)) -> None:
    """Print the export lines for the stack (PREFECT_API_URL, CATLOC_CLUSTER): eval "$(catloc stack env)"."""
    from catloc import stack
    print("\n".join(stack.env_lines(_stack_dir(folder))))
@picks_app.command("apply")
def picks_apply(
    run_id: str = typer.Argument(..., help="The run the picks are for (its folder name under --out)."),
    picks: str = typer.Argument(..., help="The review page's picks.csv, or the run's review.csv with the pick column filled."),
    publish: str = typer.Option(..., "--publish", help="Where winners go: a folder or s3:// URI (<sku>/<market>_<n>.<ext>)."),
    out: str = typer.Option("review_exports", "--out", "-o", help="Output root the run was written to."),
    allow_failed: bool = typer.Option(False, "--allow-failed", help="Publish winners that failed QC too."),
) -> None:
    """Check PICKS against the run, publish the winners and record the picks (nothing is published if any check fails)."""
    from catloc.tasks.review.publish import apply_picks
    try:
        result = apply_picks(run_id, picks, publish, out, allow_failed)
    except ValueError as exc:  # PicksError lists every problem
        raise _fail(exc)
    console.print(f"run {run_id}: {result['skus']} SKUs decided, {result['picks']} winners; "
                  f"{result['written']} images written, {result['removed']} removed, "
                  f"{result['images'] - result['written']} already published")
    if result["regenerate"]:
        console.print(f"{len(result['regenerate'])} SKUs marked regenerate: catloc rerun {run_id} --rejected")
    console.print(f"published:    {result['publish']}\nmanifest:     {result['manifest']}")


@picks_app.command("stats")
def picks_stats(
    market: str = typer.Option(..., "--market", "-m", help="Market code."),
    out: str = typer.Option("review_exports", "--out", "-o", help="Output root (the pick history is <out>/_history)."),
    category: Optional[str] = typer.Option(None, "--category", help="Only this category."),
    config: Optional[str] = typer.Option(None, "--config", help="Pipeline config (for review.history)."),
) -> None:
    """Pick rates per category x recipe x persona x scene, and the share of the next run's candidates each gets."""
    from catloc.config import load_market, load_pipeline_config
    from catloc.history import PickHistory, history_root
    from catloc.pickrates import pick_rate_table
    try:
        cfg = load_pipeline_config(config)
        mkt = load_market(market, cfg)
    except ValueError as exc:
        raise _fail(exc)
    history = PickHistory(history_root(out, cfg.review), mkt.code)
    rates = pick_rate_table(history.read(), [s["id"] for s in mkt.scenes], mkt.learning)
    if category is not None:
        rates = rates[rates["category"] == category]
    if not len(rates):
        console.print(f"no picks applied yet for market {mkt.code} ({history.uri})")
        return
    table = Table(*rates.columns, title=f"pick rates, market {mkt.code} ({history.uri})")
    for row in rates.itertuples(index=False):
        table.add_row(*["" if v is None or v != v else str(v) for v in row])
    console.print(table)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
