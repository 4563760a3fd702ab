"""The shape of the code itself: imports run one way, functions fit on a screen, the wheel
installs only ``catloc``."""
import ast
import os
import subprocess
import sys
from pathlib import Path

from catloc.config import REPO_ROOT

# layer of each source folder/module: a module may import its own layer or lower ones only
LAYERS = {"cli": 4, "flows": 3, "tasks": 2, "catloc": 1}
MAX_FUNCTION_LINES = 60
LONG_FUNCTIONS_ALLOWED = {"catalogs/make_sample.py"}  # drawing data: product outlines point by point


def _sources(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((REPO_ROOT / f).rglob("*.py"))]


def _layer_of_file(path: Path) -> int:
    rel = path.relative_to(REPO_ROOT).as_posix()
    if rel == "catloc/cli.py":
        return LAYERS["cli"]
    return LAYERS[rel.split("/")[0]]


def _layer_of_import(name: str) -> int | None:
    parts = name.split(".")
    if parts[0] != "catloc":
        return None
    if len(parts) > 1 and parts[1] in ("cli", "flows", "tasks"):
        return LAYERS[parts[1]]
    return LAYERS["catloc"]


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_imports_run_one_way_cli_flows_tasks_then_the_rest():
    upward = []
    for path in _sources("catloc", "flows", "tasks"):
        own = _layer_of_file(path)
        for name in _imports(path):
            layer = _layer_of_import(name)
            if layer is not None and layer > own:
                upward.append(f"{path.relative_to(REPO_ROOT)} imports {name}")
    assert not upward, "\n".join(upward)


def test_stage_logic_and_engines_do_not_import_prefect():
    offenders = [f"{p.relative_to(REPO_ROOT)}" for p in _sources("catloc", "tasks")
                 if p.name != "cli.py" and any(n.split(".")[0] == "prefect" for n in _imports(p))]
    assert not offenders, offenders


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in _sources("catloc", "flows", "tasks", "bench", "scripts", "catalogs"):
        if path.relative_to(REPO_ROOT).as_posix() in LONG_FUNCTIONS_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines >= MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}: {lines} lines")
    assert not long, "\n".join(long)


def test_the_wheel_installs_only_catloc_and_runs_from_any_folder(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO_ROOT),
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True)
    wheel, = (tmp_path / "dist").glob("catloc-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    assert sorted(p.name for p in site.iterdir() if p.name != "bin" and not p.name.endswith(".dist-info")) == ["catloc"]
    probe = ("import catloc, catloc.config as c, catloc.flows.nightly, catloc.tasks.clean, catloc.tasks.review.page as p; "
             "print(catloc.__file__); print(c.DEFAULT_CONFIG); c.load_market('sa', c.load_pipeline_config()); "
             "assert 'catloc-data' in p.render_page({'run_id': 'r', 'market': 'sa'})")  # the page's template ships
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("CATLOC_CONFIG", None)
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    module, config = out.stdout.split()
    assert module.startswith(str(site)) and config == str(site / "catloc" / "configs" / "pipeline.yaml")
