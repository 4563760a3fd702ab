"""A production-like stack on one machine: ``catloc stack up`` / ``down`` / ``status`` / ``env``.

::

    PostgreSQL ◀── Prefect server (API + UI) ◀── Prefect worker (work pool "catloc", process type)
                          ▲                            │ runs the prefect.yaml deployments' flows
                          │                            ▼
                          └──────── Dask workers ◀── Dask scheduler
                            (cpu-N: --resources CPU=1, gpu-N: --resources GPU=1)

Every service is a process of its own, started detached, logging to ``<folder>/logs/<name>.log``;
``<folder>/stack.json`` records their process ids, ports and URLs, so ``down`` stops exactly what
``up`` started (and ``up`` stops what it started if a later service fails). Ports are free ones
chosen at start; ``catloc stack env`` prints the ``export`` lines that point a shell at the stack
(``PREFECT_API_URL``, ``CATLOC_CLUSTER``). PostgreSQL's server refuses to run as root: as root, its
commands run as the ``postgres`` user (``runuser``), whose data folder is ``<folder>/postgres``.

This module starts programs (``python -m prefect ...``, ``python -m distributed.cli...``, PostgreSQL's
``initdb``/``pg_ctl``); it imports neither Prefect nor Dask.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from catloc.config import DASK_SETTINGS, REPO_ROOT

PY = sys.executable


class StackError(RuntimeError):
    """A service of the stack could not start (the message names it and quotes its log)."""


@dataclass
class Service:
    """One started process of the stack."""

    name: str                 # postgres, prefect-server, dask-scheduler, cpu-0, gpu-0, prefect-worker
    pid: int
    log: str
    port: int | None = None
    marker: str = ""          # a string of its command line: a reused pid is never taken for it


@dataclass
class StackState:
    """``stack.json``: what runs, and the settings that point a client at it."""

    services: list[Service] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)     # PREFECT_API_URL, CATLOC_CLUSTER
    postgres_data: str = ""

    @classmethod
    def load(cls, folder: Path) -> "StackState":
        path = folder / "stack.json"
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls([Service(**s) for s in data.get("services", [])], data.get("env", {}), data.get("postgres_data", ""))

    def save(self, folder: Path) -> None:
        tmp = folder / ".stack.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        tmp.replace(folder / "stack.json")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_running(service: Service) -> bool:
    """Whether ``service``'s process is alive (not a zombie) and still the one the stack started
    (its command line holds the marker; a process still starting has none yet)."""
    proc = Path(f"/proc/{service.pid}")
    try:
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and (service.marker in cmdline or not cmdline)


def log_tail(path: str | Path, lines: int = 25) -> str:
    try:
        return "\n".join(Path(path).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def spawn(folder: Path, name: str, argv: list[str], env: dict[str, str], marker: str, port: int | None = None,
          cwd: str | Path | None = None) -> Service:
    """Start ``argv`` detached (its own session), logging to ``logs/<name>.log``; ``marker``: a part of
    its command line that tells it from other processes."""
    log = folder / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=cwd, start_new_session=True)
    return Service(name, proc.pid, str(log), port, marker)


def wait_until(check, service: Service, what: str, timeout_s: float) -> None:
    """Poll ``check()`` until true; a service that dies or a timeout is a :class:`StackError` with its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if not is_running(service):
            raise StackError(f"{service.name} exited before {what}; its log ({service.log}):\n{log_tail(service.log)}")
        time.sleep(0.5)
    raise StackError(f"{service.name}: no {what} within {timeout_s:.0f} s; its log ({service.log}):\n"
                     f"{log_tail(service.log)}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def log_says(service: Service, text: str) -> bool:
    return text in log_tail(service.log, 400)


def stop(service: Service, timeout_s: float = 20.0) -> None:
    """SIGTERM ``service``'s process group, then SIGKILL what is left after ``timeout_s``."""
    if not is_running(service):
        return
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(service.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and is_running(service):
            time.sleep(0.2)
            try:
                os.waitpid(service.pid, os.WNOHANG)  # reap it if this process started it
            except ChildProcessError:
                pass
        if not is_running(service):
            return


# --------------------------------------------------------------------------- PostgreSQL

def postgres_bin() -> Path:
    """The folder of PostgreSQL's server programs (``initdb``, ``pg_ctl``): ``$CATLOC_PG_BIN``, else
    Debian's ``/usr/lib/postgresql/<version>/bin`` (newest), else ``PATH``."""
    candidates = [os.environ.get("CATLOC_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    candidates.append(str(Path(shutil.which("initdb") or "/nonexistent").parent))
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise StackError("PostgreSQL server programs (initdb, pg_ctl) not found: install Debian's postgresql "
                     "(`make setup` does, as root or with sudo) or set CATLOC_PG_BIN to their folder")


def as_postgres_user(argv: list[str]) -> list[str]:
    """``argv`` run as the ``postgres`` user when this process is root (the server refuses root)."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def start_postgres(folder: Path, host: str, port: int) -> tuple[Service, str, str]:
    """initdb (once) and start a PostgreSQL server on ``host:port`` with a ``prefect`` database.

    Returns the service, its data folder and the SQLAlchemy URL Prefect connects with.
    """
    pg, home = postgres_bin(), folder / "postgres"
    data, log = home / "data", home / "server.log"
    home.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
        if subprocess.run(as_postgres_user(["test", "-w", str(home)])).returncode != 0:
            raise StackError(f"the postgres user cannot write to {home}: put the stack folder where it can reach "
                             "(every parent folder must be traversable, e.g. chmod 755)")
    if not (data / "PG_VERSION").is_file():
        run_checked(as_postgres_user([str(pg / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                      "-E", "UTF8", "--no-locale"]), "initdb")
    options = f"-c listen_addresses={host} -p {port} -c unix_socket_directories=''"
    run_checked(as_postgres_user([str(pg / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "120",
                                  "-o", options, "start"]), "pg_ctl start", log)
    pid = int((data / "postmaster.pid").read_text().split()[0])
    created = subprocess.run([str(pg / "psql"), "-h", host, "-p", str(port), "-U", "postgres", "-tAc",
                              "SELECT 1 FROM pg_database WHERE datname = 'prefect'"], capture_output=True, text=True)
    if created.stdout.strip() != "1":
        run_checked([str(pg / "createdb"), "-h", host, "-p", str(port), "-U", "postgres", "prefect"], "createdb")
    return (Service("postgres", pid, str(log), port, "postgres"), str(data),
            f"postgresql+asyncpg://postgres@{host}:{port}/prefect")


def stop_postgres(data: str) -> None:
    if data and (Path(data) / "postmaster.pid").is_file():
        subprocess.run(as_postgres_user([str(postgres_bin() / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]),
                       capture_output=True)


def run_checked(argv: list[str], what: str, log: Path | None = None, env: dict[str, str] | None = None,
                cwd: str | Path | None = None) -> str:
    """Run ``argv`` to its end; a non-zero exit is a :class:`StackError` quoting its output."""
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    if proc.returncode != 0:
        detail = (proc.stdout + proc.stderr).strip()[-2000:] + (f"\n{log_tail(log)}" if log else "")
        raise StackError(f"{what} failed (exit {proc.returncode}):\n{detail}")
    return proc.stdout


# --------------------------------------------------------------------------- Prefect and Dask

def service_env(folder: Path, api_url: str | None = None, **extra: str) -> dict[str, str]:
    """This process's environment with the stack's Prefect home (and API, when given), catloc's Dask
    settings (configs/dask.yaml) and INFO logging: a service's log is where the stack reads that it
    started ("Scheduler at:", "Registered to:"), whatever quieter level the calling process set."""
    env = {**os.environ, "PREFECT_HOME": str(folder / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DASK_CONFIG": str(DASK_SETTINGS), "DASK_LOGGING__DISTRIBUTED": "info", "PREFECT_LOGGING_LEVEL": "INFO"}
    env.pop("PREFECT_API_URL", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return {**env, **extra}


def start_prefect_server(folder: Path, host: str, port: int, database_url: str | None, ui: bool) -> tuple[Service, str]:
    """``prefect server start`` on ``host:port`` (PostgreSQL at ``database_url``, else SQLite in the
    stack's Prefect home). Returns it and its API URL (wait for it with :func:`wait_healthy`)."""
    env = service_env(folder)
    if database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    argv = [PY, "-m", "prefect", "server", "start", "--host", host, "--port", str(port), *([] if ui else ["--no-ui"])]
    return spawn(folder, "prefect-server", argv, env, marker=f"--port {port}", port=port), f"http://{host}:{port}/api"


def wait_healthy(server: Service, api_url: str, timeout_s: float = 300) -> None:
    """Until the server answers on ``/api/health`` (a first start on a fresh database migrates it: minutes
    on a small machine)."""
    wait_until(lambda: http_ok(f"{api_url}/health"), server, "answer on /api/health", timeout_s)


def deploy(folder: Path, api_url: str, home: Path, pool: str) -> str:
    """Create the process work pool ``pool`` and every deployment of ``home``/prefect.yaml in it."""
    env = service_env(folder, api_url, CATLOC_HOME=str(home))
    run_checked([PY, "-m", "prefect", "work-pool", "create", pool, "--type", "process", "--overwrite"],
                f"prefect work-pool create {pool}", env=env)
    return run_checked([PY, "-m", "prefect", "--no-prompt", "deploy", "--all"], "prefect deploy --all", env=env,
                       cwd=home)


def start_scheduler(folder: Path, host: str, port: int) -> tuple[Service, str]:
    """A Dask scheduler on ``host:port`` (its dashboard on any free port); returns it and its address."""
    argv = [PY, "-m", "distributed.cli.dask_scheduler", "--host", host, "--port", str(port), "--dashboard-address", ":0"]
    scheduler = spawn(folder, "dask-scheduler", argv, service_env(folder), marker=f"--port {port}", port=port)
    return scheduler, f"tcp://{host}:{port}"


def start_dask_worker(folder: Path, name: str, scheduler: str, resources: dict[str, float], api_url: str,
                      **extra_env: str) -> Service:
    """A one-thread ``dask worker`` named ``name`` declaring ``resources``, reporting to Prefect at ``api_url``."""
    declared = " ".join(f"{k}={v:g}" for k, v in resources.items())
    argv = [PY, "-m", "distributed.cli.dask_worker", scheduler, "--name", name, "--nthreads", "1",
            "--resources", declared, "--no-dashboard", "--local-directory", str(folder / "dask" / name)]
    return spawn(folder, name, argv, service_env(folder, api_url, **extra_env), marker=f"--name {name}")


def wait_logged(service: Service, text: str, what: str, timeout_s: float = 180) -> None:
    """Until ``service``'s log says ``text`` (``what``: the event, for the error)."""
    wait_until(lambda: log_says(service, text), service, what, timeout_s)


def start_prefect_worker(folder: Path, api_url: str, pool: str, home: Path, cluster: str | None,
                         poll_s: float = 10) -> Service:
    """``prefect worker start`` on ``pool``: runs the deployments' flows from ``home``, on ``cluster``."""
    extra = {"CATLOC_HOME": str(home), "PREFECT_WORKER_QUERY_SECONDS": f"{poll_s:g}"}
    if cluster:
        extra["CATLOC_CLUSTER"] = cluster
    argv = [PY, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process", "--name", f"catloc-{pool}"]
    return spawn(folder, "prefect-worker", argv, service_env(folder, api_url, **extra), marker=f"--name catloc-{pool}",
                 cwd=home)


# --------------------------------------------------------------------------- the stack

@dataclass(frozen=True)
class StackOptions:
    """What ``catloc stack up`` starts."""

    host: str = "127.0.0.1"       # the interface every service listens on
    postgres: bool = True         # PostgreSQL for Prefect's database (else SQLite in the stack folder)
    cpu_workers: int = 2          # Dask workers declaring CPU=1 (with gpu_workers: none -> no Dask at all)
    gpu_workers: int = 0          # Dask workers declaring GPU=1 (CUDA_VISIBLE_DEVICES=i each)
    deployments: bool = True      # create the work pool and deploy prefect.yaml from ``home``
    prefect_worker: bool = True   # a Prefect worker on the pool
    pool: str = "catloc"
    home: Path = REPO_ROOT        # the checkout with prefect.yaml the worker runs flows from
    ui: bool = True
    worker_poll_s: float = 10     # how often the Prefect worker asks for scheduled runs


def up(folder: Path, options: StackOptions = StackOptions()) -> StackState:
    """Start the stack from ``folder`` (see the module docstring); on a failure, stop what started."""
    folder.mkdir(parents=True, exist_ok=True)
    running = [s.name for s in StackState.load(folder).services if is_running(s)]
    if running:
        raise StackError(f"a stack already runs from {folder} ({', '.join(running)}): `catloc stack down` first")
    state = StackState()
    try:
        start_services(folder, options, state)
    except BaseException:
        down(folder)
        raise
    return state


def start_services(folder: Path, o: StackOptions, state: StackState) -> None:
    """Start each service of ``o`` in order, recording it in ``state`` (saved) before waiting for it."""
    def started(service: Service) -> Service:
        state.services.append(service)
        state.save(folder)
        return service

    database_url = None
    if o.postgres:
        state.postgres_data = str(folder / "postgres" / "data")  # known before start: `down` stops a half start
        service, _, database_url = start_postgres(folder, o.host, free_port(o.host))
        started(service)
    server, api = start_prefect_server(folder, o.host, free_port(o.host), database_url, o.ui)
    state.env["PREFECT_API_URL"] = api
    wait_healthy(started(server), api)
    cluster = None
    if o.cpu_workers or o.gpu_workers:
        scheduler, cluster = start_scheduler(folder, o.host, free_port(o.host))
        state.env["CATLOC_CLUSTER"] = cluster
        wait_logged(started(scheduler), "Scheduler at:", "scheduler start")
        workers = [started(start_dask_worker(folder, f"cpu-{i}", cluster, {"CPU": 1}, api)) for i in range(o.cpu_workers)]
        workers += [started(start_dask_worker(folder, f"gpu-{i}", cluster, {"GPU": 1}, api, CUDA_VISIBLE_DEVICES=str(i)))
                    for i in range(o.gpu_workers)]
        for worker in workers:
            wait_logged(worker, "Registered to:", "registration with the scheduler")
    if o.deployments:
        deploy(folder, api, o.home, o.pool)
    if o.prefect_worker:
        wait_logged(started(start_prefect_worker(folder, api, o.pool, o.home, cluster, o.worker_poll_s)), "started!",
                    "worker start")


def down(folder: Path, purge: bool = False) -> list[str]:
    """Stop every service the stack in ``folder`` started, last started first (PostgreSQL last, with
    ``pg_ctl stop``); ``purge``: then delete the folder (Prefect's database with it). Returns the names
    of the services that were running."""
    state = StackState.load(folder)
    stopped = []
    for service in reversed(state.services):
        if is_running(service):
            stopped.append(service.name)
            if service.name != "postgres":
                stop(service)
    stop_postgres(state.postgres_data)
    if folder.is_dir():
        StackState(env=state.env, postgres_data=state.postgres_data).save(folder)
        if purge:
            shutil.rmtree(folder)
    return stopped


def status(folder: Path) -> list[tuple[Service, bool]]:
    """Every service of the stack and whether it runs."""
    return [(service, is_running(service)) for service in StackState.load(folder).services]


def env_lines(folder: Path) -> list[str]:
    """``export`` lines pointing a shell at the running stack (``eval "$(catloc stack env)"``)."""
    return [f"export {key}={value}" for key, value in StackState.load(folder).env.items()]
