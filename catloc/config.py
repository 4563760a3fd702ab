"""Pipeline and market configuration (``configs/pipeline.yaml``, ``configs/markets/<code>.yaml``)."""
from __future__ import annotations

import copy
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent   # the checkout, for an editable install
_PACKAGED = Path(__file__).resolve().parent / "configs"  # a wheel carries configs/ inside the package
DEFAULT_CONFIG = (_PACKAGED if _PACKAGED.is_dir() else REPO_ROOT / "configs") / "pipeline.yaml"
DASK_SETTINGS = DEFAULT_CONFIG.parent / "dask.yaml"  # what catloc's Dask worker processes start with


REQUIRED_ENGINES = ("ocr", "inpaint", "segment", "generate")
OPTIONAL_ENGINES = ("parse", "pose")  # may be absent, or named `none`: then the kind is left out of `engines`
LANGUAGES = ("zh", "ja", "ko", "ar", "ru", "th", "en")  # strip_languages codes: told apart by script


class ConfigError(ValueError):
    """A configuration file is missing or invalid. The message names the file and key."""


@dataclass(frozen=True)
class EngineSpec:
    """Which engine of one kind to use, and the options for its loader."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


PLACED_STAGES = ("ingest", "clean", "analyse", "localize", "qc")  # the stages a cluster places by resource
_LOCAL = re.compile(r"local:(\d+)")
_ADDRESS = re.compile(r"(?:(?:tcp|tls|inproc|ucx|ws|wss)://)?[\w.\-\[\]:]+:\d+")


def parse_cluster(value: Any, where: str = "--cluster") -> str | None:
    """A cluster setting as given (``None`` = threads in this process).

    Accepts ``local:N`` (N >= 1 worker processes started here) and a Dask scheduler address
    (``tcp://HOST:PORT``, ``tls://HOST:PORT`` or ``HOST:PORT``); raises :class:`ConfigError` naming
    ``where`` for anything else.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null", "threads")):
        return None
    text = str(value).strip()
    local = _LOCAL.fullmatch(text)
    if local and int(local.group(1)) >= 1:
        return text
    if not local and _ADDRESS.fullmatch(text):
        return text
    raise ConfigError(f"{where}: expected local:N (N >= 1 worker processes on this machine) or a Dask scheduler "
                      f"address such as tcp://10.0.0.5:8786, got {value!r}")


@dataclass(frozen=True)
class ClusterConfig:
    """``cluster:`` in pipeline.yaml: where SKU tasks run and how they are cut."""

    address: str | None = None      # None: threads in this process; "local:N"; "tcp://HOST:PORT"
    skus_per_task: int = 8          # at most this many SKUs per task (fewer as the queue runs out)
    batches_per_thread: int = 2     # on a cluster: batches in flight per worker thread
    wait_for_workers_s: float = 120.0  # on a cluster: how long to wait for the first worker at start
@dataclass(frozen=True)
class ReviewOptions:
    """``review:`` of pipeline.yaml: the review page's thumbnails and where pick history lives."""

    thumb_side: int = 320               # longer side of a thumbnail (px)
    thumb_format: str = "webp"          # webp | jpg
    thumb_quality: int = 70             # 1-100
    history: str | None = None          # pick history root; None: <out>/_history
    public_url: str | None = None       # http(s) URL <out> is served at (the Prefect link artifact uses it)


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
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    resources: dict[str, dict[str, float]] = field(default_factory=dict)  # stage (or "default") -> Dask resources
    review: ReviewOptions = field(default_factory=ReviewOptions)
    pose_templates: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # category -> keypoint -> [u, v]

    def engine(self, kind: str) -> EngineSpec:
        try:
            return self.engines[kind]
        except KeyError:
            raise ConfigError(f"{self.path}: engines.{kind} is not configured") from None


@dataclass(frozen=True)
class PublishProfile:
    """``publish:`` of a market: how winners are written to the shop (``catloc picks apply``)."""

    format: str = "jpg"                 # jpg | webp | png
    max_side: int = 1600                # longer side at most (px); never upscaled
    quality: int = 90                   # jpg/webp quality 1-100
    max_picks: int = 3                  # winners per SKU at most


@dataclass(frozen=True)
class LearningBounds:
    """``learning:`` of a market: how far pick rates may move the next runs' candidate mix."""

    min_share: float = 0.05             # every scene keeps at least this share of the mix
    prior: float = 4.0                  # pseudo-shows at the category's mean pick rate (smoothing)


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
    scene_prompts: list[dict[str, Any]] = field(default_factory=list)   # scenes for generative recipes
    candidate_mix: dict[str, int] = field(default_factory=dict)         # recipe kind -> candidates per SKU
    negative_prompt: str = ""                                           # added to every generative candidate
    language: str = "en"
    publish: PublishProfile = field(default_factory=PublishProfile)
    learning: LearningBounds = field(default_factory=LearningBounds)

    def localization(self) -> dict[str, Any]:
        """The profile without its review settings (``publish``, ``learning``): what a SKU's
        candidates depend on, so changing how winners are published never recomputes a run."""
        data = asdict(self)
        del data["publish"], data["learning"]
        return data


# the generative keys of a market profile (see the README, "Generative localization")
PERSONA_KEYS = ("id", "prompt", "negative_prompt", "gender", "hijab")
SCENE_PROMPT_KEYS = ("id", "prompt", "negative_prompt")
MODESTY_RULES = ("cover_arms", "cover_legs", "high_neckline")    # true: the terms go into the prompts
MODESTY_KEYS = MODESTY_RULES + ("hijab", "prompt", "negative_prompt")
HIJAB_CHOICES = ("required", "optional", "none")


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


# allowed values of each key: a tuple of choices, or (type, low, high) with None for an open end
REVIEW_RULES = {"thumb_side": (int, 64, 1024), "thumb_format": ("webp", "jpg"), "thumb_quality": (int, 1, 100),
                "history": (str, None, None), "public_url": (str, None, None)}
PUBLISH_RULES = {"format": ("jpg", "webp", "png"), "max_side": (int, 64, 10000), "quality": (int, 1, 100),
                 "max_picks": (int, 1, 16)}
LEARNING_RULES = {"min_share": (float, 0.0, 0.5), "prior": (float, 0.0, 1000.0)}


def _section(cls: type, data: Any, where: str, rules: dict[str, tuple]) -> Any:
    """``cls`` built from a YAML mapping whose every key is checked against ``rules``; a missing
    section or key takes the dataclass default. Raises ConfigError naming the file and key."""
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(rules))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(rules)})")
    return cls(**{key: _checked(value, rules[key], f"{where}.{key}") for key, value in data.items()
                  if value is not None})


def _checked(value: Any, rule: tuple, where: str) -> Any:
    if all(isinstance(r, str) for r in rule):
        if value not in rule:
            raise ConfigError(f"{where} must be one of {', '.join(rule)}, got {value!r}")
        return value
    kind, low, high = rule
    if kind is str:
        return str(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise ConfigError(f"{where} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{where} must be between {low} and {high}, got {value!r}")
    return kind(value)


def _is_path_option(key: str) -> bool:
    """Whether an engine option names a file or folder: ``*_dir``, ``*_path`` or ``checkpoint``."""
    return key.endswith("_dir") or key.endswith("_path") or key == "checkpoint"


def _resolve_path(value: str, base: Path) -> str:
    expanded = os.path.expandvars(os.path.expanduser(value))
    return str(Path(expanded) if Path(expanded).is_absolute() else (base / expanded).resolve())


def _resolve_paths(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """Options that name a file or folder (:func:`_is_path_option`) are made absolute against
    ``base``, and so are the values of a mapping whose key ends in ``_dirs``
    (e.g. ``controlnet_dirs: {openpose: DIR}``)."""
    out = copy.deepcopy(options)
    for key, value in out.items():
        if isinstance(value, str) and _is_path_option(key):
            out[key] = _resolve_path(value, base)
        elif isinstance(value, dict) and key.endswith("_dirs"):
            out[key] = {k: _resolve_path(v, base) if isinstance(v, str) else v for k, v in value.items()}
    return out


def load_pipeline_config(path: str | os.PathLike | None = None) -> PipelineConfig:
    """Load ``pipeline.yaml`` (default: ``$CATLOC_CONFIG`` or ``configs/pipeline.yaml``)."""
    cfg_path = Path(path or os.environ.get("CATLOC_CONFIG") or DEFAULT_CONFIG).resolve()
    data = _read_yaml(cfg_path)
    engines: dict[str, EngineSpec] = {}
    for kind, spec in (data.get("engines") or {}).items():
        if not isinstance(spec, dict) or not spec.get("name"):
            raise ConfigError(f"{cfg_path}: engines.{kind} needs a 'name'")
        if spec["name"] == "none":
            if kind not in OPTIONAL_ENGINES:
                raise ConfigError(f"{cfg_path}: engines.{kind} cannot be 'none' (only {', '.join(OPTIONAL_ENGINES)} can)")
            continue
        engines[kind] = EngineSpec(spec["name"], _resolve_paths(spec.get("options") or {}, cfg_path.parent))
    for kind in REQUIRED_ENGINES:
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
        cluster=load_cluster(data.get("cluster"), cfg_path),
        resources=load_resources(data.get("resources"), cfg_path),
        review=_section(ReviewOptions, data.get("review"), f"{cfg_path}: review", REVIEW_RULES),
        pose_templates=_pose_templates(data, cfg_path),
    )


def _pose_templates(data: dict[str, Any], path: Path) -> dict[str, dict[str, list[float]]]:
    """``pose_templates``: garment category -> keypoint name -> [u, v] (see :func:`catloc.pose.fit_template`)."""
    from catloc.pose import check_template

    templates = data.get("pose_templates") or {}
    if not isinstance(templates, dict):
        raise ConfigError(f"{path}: pose_templates must map garment categories to templates")
    problems = [p for name, template in templates.items() for p in check_template(str(name), template)]
    if problems:
        raise ConfigError(f"{path}: {'; '.join(problems)}")
    return {str(name): {k: [float(c) for c in v] for k, v in t.items()} for name, t in templates.items()}
def _number(section: dict[str, Any], key: str, default: float, minimum: float, kind: type, where: Path | str) -> Any:
    """``section[key]`` (or ``default``) as ``kind``, at least ``minimum``; else a ConfigError naming it."""
    value = section.get(key, default)
    try:
        number = None if isinstance(value, bool) else kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum or (kind is int and number != value):
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{where}: cluster.{key} must be {what} >= {minimum:g}, got {value!r}")
    return number


def load_cluster(section: Any, where: Path | str) -> ClusterConfig:
    """``cluster:`` of pipeline.yaml, checked (unknown keys and bad values are errors naming the file)."""
    if section is None:
        return ClusterConfig()
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: cluster must be a mapping (address, skus_per_task, ...)")
    known = set(ClusterConfig.__dataclass_fields__)
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in cluster: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    defaults = ClusterConfig()
    return ClusterConfig(
        address=parse_cluster(section.get("address"), f"{where}: cluster.address"),
        skus_per_task=_number(section, "skus_per_task", defaults.skus_per_task, 1, int, where),
        batches_per_thread=_number(section, "batches_per_thread", defaults.batches_per_thread, 1, int, where),
        wait_for_workers_s=_number(section, "wait_for_workers_s", defaults.wait_for_workers_s, 0, float, where))


def load_resources(section: Any, where: Path | str) -> dict[str, dict[str, float]]:
    """``resources:`` of pipeline.yaml: per stage (or ``default``) the Dask worker resources its task holds,
    e.g. ``{default: {CPU: 1}, localize: {GPU: 1}}``; every amount a positive number."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: resources must map a stage to resources, e.g. {{localize: {{GPU: 1}}}}")
    known = ("default",) + PLACED_STAGES
    resources: dict[str, dict[str, float]] = {}
    for stage, wanted in section.items():
        if stage not in known:
            raise ConfigError(f"{where}: resources.{stage}: not a stage (known: {', '.join(known)})")
        if not isinstance(wanted, dict):
            raise ConfigError(f"{where}: resources.{stage} must map resource names to amounts, e.g. {{GPU: 1}}")
        resources[stage] = {}
        for name, amount in (wanted or {}).items():
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0:
                raise ConfigError(f"{where}: resources.{stage}.{name} must be a positive number, got {amount!r}")
            resources[stage][str(name)] = float(amount)
    return resources


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
    generative = _generative_keys(data, path)
    strip, promo = _clean_settings(data, path)
    return MarketProfile(
        **generative,
        code=data.get("code", code),
        name=data.get("name", code),
        scenes=scenes,
        framing=dict(data.get("framing") or {}),
        clean_policy=policy,
        strip_languages=strip,
        clean_promo=promo,
        language=data.get("language", "en"),
        publish=_section(PublishProfile, data.get("publish"), f"{path}: publish", PUBLISH_RULES),
        learning=_section(LearningBounds, data.get("learning"), f"{path}: learning", LEARNING_RULES),
    )


def _entries(data: dict[str, Any], key: str, known: tuple[str, ...], path: Path) -> list[dict[str, Any]]:
    """The list ``data[key]`` of mappings with a unique string ``id`` and only ``known`` keys."""
    entries = data.get(key) or []
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: {key} must be a list")
    seen = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
            raise ConfigError(f"{path}: {key}[{i}] needs an 'id'")
        unknown = sorted(set(entry) - set(known))
        if unknown:
            raise ConfigError(f"{path}: {key}[{i}] ({entry['id']}): unknown key(s) {unknown} (known: {', '.join(known)})")
        for text in ("prompt", "negative_prompt"):
            if not isinstance(entry.get(text, ""), str):
                raise ConfigError(f"{path}: {key}[{i}] ({entry['id']}): {text} must be a string")
        if entry["id"] in seen:
            raise ConfigError(f"{path}: {key}: id {entry['id']!r} is used twice")
        seen.add(entry["id"])
    return [dict(e) for e in entries]


def _modesty(data: dict[str, Any], personas: list[dict[str, Any]], path: Path) -> dict[str, Any]:
    """The ``modesty`` rules, checked: known keys, booleans, a hijab choice every female persona
    follows when it is ``required``."""
    modesty = data.get("modesty") or {}
    if not isinstance(modesty, dict):
        raise ConfigError(f"{path}: modesty must be a mapping")
    unknown = sorted(set(modesty) - set(MODESTY_KEYS))
    if unknown:
        raise ConfigError(f"{path}: modesty: unknown key(s) {unknown} (known: {', '.join(MODESTY_KEYS)})")
    for rule in MODESTY_RULES:
        if not isinstance(modesty.get(rule, False), bool):
            raise ConfigError(f"{path}: modesty.{rule} must be true or false")
    hijab = modesty.get("hijab", "none")
    if hijab not in HIJAB_CHOICES:
        raise ConfigError(f"{path}: modesty.hijab must be one of {', '.join(HIJAB_CHOICES)}, got {hijab!r}")
    for persona in personas:
        if hijab == "required" and persona.get("gender") == "female" and not persona.get("hijab"):
            raise ConfigError(f"{path}: modesty.hijab is required but persona {persona['id']!r} "
                              "(gender: female) has no 'hijab: true'")
    return dict(modesty)


def _candidate_mix(data: dict[str, Any], path: Path) -> dict[str, int]:
    """``candidate_mix``: recipe kind -> candidates per SKU (non-negative integers, 16 at most in all)."""
    from catloc.engines.base import RECIPE_KINDS

    mix = data.get("candidate_mix") or {}
    if not isinstance(mix, dict):
        raise ConfigError(f"{path}: candidate_mix must map recipe kinds to counts")
    for kind, count in mix.items():
        if kind not in RECIPE_KINDS:
            raise ConfigError(f"{path}: candidate_mix: unknown recipe kind {kind!r} (known: {', '.join(RECIPE_KINDS)})")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ConfigError(f"{path}: candidate_mix.{kind} must be a whole number >= 0, got {count!r}")
    if mix and not 1 <= sum(mix.values()) <= 16:
        raise ConfigError(f"{path}: candidate_mix must add up to 1..16 candidates, got {sum(mix.values())}")
    return {kind: int(count) for kind, count in mix.items()}


def _generative_keys(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The market's personas, modesty, scene prompts, candidate mix and negative prompt, checked
    against each other: a mix asking for people needs personas, one asking for scenes needs scene prompts."""
    personas = _entries(data, "personas", PERSONA_KEYS, path)
    scene_prompts = _entries(data, "scene_prompts", SCENE_PROMPT_KEYS, path)
    mix = _candidate_mix(data, path)
    if (mix.get("model_swap") or mix.get("mannequin_to_model")) and not personas:
        raise ConfigError(f"{path}: candidate_mix asks for model_swap/mannequin_to_model but 'personas' is empty")
    if any(mix.get(k) for k in ("scene_swap", "model_swap", "mannequin_to_model")) and not scene_prompts:
        raise ConfigError(f"{path}: candidate_mix asks for generative candidates but 'scene_prompts' is empty")
    negative = data.get("negative_prompt", "")
    if not isinstance(negative, str):
        raise ConfigError(f"{path}: negative_prompt must be a string")
    return {"personas": personas, "modesty": _modesty(data, personas, path), "scene_prompts": scene_prompts,
            "candidate_mix": mix, "negative_prompt": negative}
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
