"""Pipeline and market configuration (``configs/pipeline.yaml``, ``configs/markets/<code>.yaml``)."""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent   # the checkout, for an editable install
_PACKAGED = Path(__file__).resolve().parent / "configs"  # a wheel carries configs/ inside the package
DEFAULT_CONFIG = (_PACKAGED if _PACKAGED.is_dir() else REPO_ROOT / "configs") / "pipeline.yaml"


LANGUAGES = ("zh", "ja", "ko", "ar", "ru", "th", "en")  # strip_languages codes: told apart by script


class ConfigError(ValueError):
    """A configuration file is missing or invalid. The message names the file and key."""


@dataclass(frozen=True)
class EngineSpec:
    """Which engine of one kind to use, and the options for its loader."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineConfig:
    path: str
    candidates_per_sku: int
    max_workers: int
    storage_options: dict[str, Any]
    ingest: dict[str, Any]
    engines: dict[str, EngineSpec]
    clean: dict[str, Any]
    qc: dict[str, Any]
    run: dict[str, Any] = field(default_factory=dict)

    def engine(self, kind: str) -> EngineSpec:
        try:
            return self.engines[kind]
        except KeyError:
            raise ConfigError(f"{self.path}: engines.{kind} is not configured") from None


@dataclass
class MarketProfile:
    code: str
    name: str
    scenes: list[dict[str, Any]]
    framing: dict[str, Any]
    clean_policy: str = "keep_product_text"
    strip_languages: list[str] = field(default_factory=list)
    clean_promo: list[str] = field(default_factory=list)
    personas: list[dict[str, Any]] = field(default_factory=list)
    modesty: dict[str, Any] = field(default_factory=dict)
    language: str = "en"


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _resolve_paths(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """Options whose key ends in ``_dir`` or ``_path`` are made absolute against ``base``."""
    out = copy.deepcopy(options)
    for key, value in out.items():
        if isinstance(value, str) and (key.endswith("_dir") or key.endswith("_path")):
            expanded = os.path.expandvars(os.path.expanduser(value))
            out[key] = str(Path(expanded) if Path(expanded).is_absolute() else (base / expanded).resolve())
    return out


def load_pipeline_config(path: str | os.PathLike | None = None) -> PipelineConfig:
    """Load ``pipeline.yaml`` (default: ``$CATLOC_CONFIG`` or ``configs/pipeline.yaml``)."""
    cfg_path = Path(path or os.environ.get("CATLOC_CONFIG") or DEFAULT_CONFIG).resolve()
    data = _read_yaml(cfg_path)
    engines: dict[str, EngineSpec] = {}
    for kind, spec in (data.get("engines") or {}).items():
        if not isinstance(spec, dict) or not spec.get("name"):
            raise ConfigError(f"{cfg_path}: engines.{kind} needs a 'name'")
        engines[kind] = EngineSpec(spec["name"], _resolve_paths(spec.get("options") or {}, cfg_path.parent))
    for kind in ("ocr", "inpaint", "segment", "generate"):
        if kind not in engines:
            raise ConfigError(f"{cfg_path}: engines.{kind} is not configured")
    n = int(data.get("candidates_per_sku", 7))
    if not 1 <= n <= 16:
        raise ConfigError(f"{cfg_path}: candidates_per_sku must be 1..16, got {n}")
    return PipelineConfig(
        path=str(cfg_path),
        candidates_per_sku=n,
        max_workers=max(1, int(data.get("max_workers", 2))),
        storage_options=dict(data.get("storage_options") or {}),
        ingest=dict(data.get("ingest") or {}),
        engines=engines,
        clean=dict(data.get("clean") or {}),
        qc=dict(data.get("qc") or {}),
        run=dict(data.get("run") or {}),
    )


def markets_dir(config: PipelineConfig | None = None) -> Path:
    base = Path(config.path).parent if config else DEFAULT_CONFIG.parent
    return base / "markets"


def available_markets(config: PipelineConfig | None = None) -> list[str]:
    return sorted(p.stem for p in markets_dir(config).glob("*.yaml"))


def load_market(code: str, config: PipelineConfig | None = None) -> MarketProfile:
    """Load ``markets/<code>.yaml`` next to the pipeline config."""
    if not code or not code.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"invalid market code {code!r}")
    path = markets_dir(config) / f"{code}.yaml"
    if not path.is_file():
        known = ", ".join(available_markets(config)) or "none"
        raise ConfigError(f"unknown market {code!r}: no {path} (available: {known})")
    data = _read_yaml(path)
    scenes = data.get("scenes") or []
    if not scenes:
        raise ConfigError(f"{path}: 'scenes' must list at least one backdrop")
    for i, scene in enumerate(scenes):
        if not scene.get("id") or not scene.get("colors"):
            raise ConfigError(f"{path}: scenes[{i}] needs 'id' and 'colors'")
    policy = data.get("clean_policy", "keep_product_text")
    if policy not in ("keep_product_text", "remove_all"):
        raise ConfigError(f"{path}: clean_policy must be keep_product_text or remove_all")
    strip, promo = _clean_settings(data, path)
    return MarketProfile(
        code=data.get("code", code),
        name=data.get("name", code),
        scenes=scenes,
        framing=dict(data.get("framing") or {}),
        clean_policy=policy,
        strip_languages=strip,
        clean_promo=promo,
        personas=list(data.get("personas") or []),
        modesty=dict(data.get("modesty") or {}),
        language=data.get("language", "en"),
    )


def _clean_settings(data: dict[str, Any], path: Path) -> tuple[list[str], list[str]]:
    """A market file's ``strip_languages`` (codes of :data:`LANGUAGES`) and ``clean_promo`` (regular
    expressions), checked: anything else is a :class:`ConfigError` naming the file and the key."""
    strip = data.get("strip_languages") or []
    if not isinstance(strip, list) or not all(isinstance(c, str) for c in strip):
        raise ConfigError(f"{path}: strip_languages must be a list of language codes ({', '.join(LANGUAGES)})")
    unknown = sorted(set(strip) - set(LANGUAGES))
    if unknown:
        raise ConfigError(f"{path}: strip_languages: unknown language(s) {', '.join(unknown)} "
                          f"(known: {', '.join(LANGUAGES)}; told apart by script)")
    promo = data.get("clean_promo") or []
    if not isinstance(promo, list):
        raise ConfigError(f"{path}: clean_promo must be a list of regular expressions")
    for pattern in promo:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise ConfigError(f"{path}: clean_promo: invalid regular expression {pattern!r}: {exc}") from None
    return list(strip), [str(p) for p in promo]
