"""Stage 4, localize: 6-8 candidates per SKU from recipes drawn from the market profile.

A recipe fixes the kind, scene, framing (or persona and prompt) and a seed derived from market +
SKU + candidate number, so the same catalog gives the same candidates every night: merchants get
repeatable results, not a lottery. Which recipes: :mod:`catloc.tasks.recipes` (with the ``studio``
engine: the original and studio cut-outs; with a generate engine that makes generative kinds, e.g.
``diffusers``: the market's ``candidate_mix`` by the SKU's category, or by what the ``parse`` engine
sees when the catalog gives none).

On a SKU's first attempt, candidate ``c01`` is the ``original`` recipe: the cleaned photo in its own
framing, padded to the market's aspect (``catloc.engines.generate_original``). Every other kind keeps
the product by its mask (a studio cut-out, a scene swap around it, a model swap keeping the garment
inside it); they are made only when the analysis trusts the mask (``Analysis.mask_confidence`` at
least ``qc.min_mask_confidence``), else they are skipped and the SKU keeps its ``original`` (the
reason is in the analysis, the status sheet and the original's QC reasons).

A SKU's generative candidates go to the generator's ``generate_batch`` in one call (it batches them
on the GPU); each one's kept mask (source coordinates) is stored as ``kept/<id>.png`` for QC.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from catloc import storage
from catloc.cache import reuse_or_run, stage_key
from catloc.config import EngineSpec, MarketProfile
from catloc.engines import engine_class, load_engine, load_optional
from catloc.engines.base import GENERATIVE_KINDS, Generated, GenerationRequest, Generator, Parsing, Recipe
from catloc.generative import build_request, garment_keep, garment_template
from catloc.outputs import Analysis, Candidate, Cleaned, list_of
from catloc.runfolder import SkuFolder
from catloc.tasks.mix import CandidateMix
from catloc.tasks.recipes import SkuTraits, framing_label, original_recipe, plan_mix, plan_recipes

ORIGINAL = EngineSpec("original")   # the engine of the original recipe (no configuration)
STUDIO = EngineSpec("studio")       # studio cut-outs when the configured generator does not make them


def makes_generative(spec: EngineSpec) -> bool:
    """Whether the generate engine ``spec`` names makes generative kinds (its class's ``kinds``)."""
    return any(k in GENERATIVE_KINDS for k in getattr(engine_class("generate", spec.name), "kinds", ()))


def gate_cutouts(recipes: list[Recipe], analysis: Analysis, min_confidence: float) -> tuple[list[Recipe], str]:
    """The recipes to make, and why the cut-outs were skipped ("" when they were not): below
    ``min_confidence`` (or with no product mask at all) only the recipes that do not cut the product
    out are kept. Generative kinds count as cut-outs: they keep the product (or the garment inside
    it) by its mask."""
    if analysis.mask_trusted(min_confidence):
        return recipes, ""
    return [r for r in recipes if not r.cuts_out], analysis.cutouts_skipped(min_confidence)


def engine_for(recipe: Recipe, generator: Generator) -> Generator:
    """The engine making ``recipe``: ``original`` for the original, ``generator`` for its own
    ``kinds``, the studio engine for studio cut-outs a generative engine does not make."""
    if recipe.kind == "original":
        return load_engine("generate", ORIGINAL)
    if recipe.kind in getattr(generator, "kinds", ("studio",)):
        return generator
    if recipe.kind != "studio":
        raise ValueError(f"candidate {recipe.candidate_id}: the {generator.name} generate engine does not make "
                         f"{recipe.kind} candidates")
    return load_engine("generate", STUDIO)


def generate_all(image: np.ndarray, mask: np.ndarray, recipes: list[Recipe], generator: Generator,
                 requests: dict[str, GenerationRequest] | None = None) -> list[tuple[Recipe, Generated]]:
    """Each recipe's image (:func:`engine_for`); the generative ones in one ``generate_batch`` call,
    from ``requests`` (candidate id -> request; a scene swap of ``mask`` for a recipe without one)."""
    requests = requests or {}
    batch = [r for r in recipes if r.kind in GENERATIVE_KINDS]
    made: dict[str, Generated] = {}
    if batch:
        images = engine_for(batch[0], generator).generate_batch(
            image, [requests.get(r.candidate_id) or build_request(image, mask, r) for r in batch])
        made = {r.candidate_id: g for r, g in zip(batch, images)}
    return [(r, made.get(r.candidate_id) or engine_for(r, generator).generate(image, mask, r)) for r in recipes]


def store_candidate(folder: SkuFolder, recipe: Recipe, generated: Generated, engine: str,
                    attempt: int = 0, kept: np.ndarray | None = None) -> Candidate:
    """Save one generated image as ``candidates/<id>.png`` (and the source pixels it keeps, when
    given, as ``kept/<id>.png``); its record for ``candidates.json``."""
    uri = storage.save_image(folder.file("candidates", f"{recipe.candidate_id}.png"), generated.image)
    kept_uri = "" if kept is None else storage.save_image(folder.file("kept", f"{recipe.candidate_id}.png"),
                                                          kept.astype(np.uint8) * 255)
    if recipe.kind in GENERATIVE_KINDS:
        framing = "as photographed"
    elif recipe.cuts_out:
        framing = framing_label(recipe.placement, recipe.fill)
    else:
        framing = f"padded to {recipe.aspect[0]}:{recipe.aspect[1]}"
    return Candidate(candidate_id=recipe.candidate_id, image=uri, recipe=recipe.label, kind=recipe.kind,
                     scene=recipe.scene["id"], framing=framing, seed=recipe.seed, engine=engine,
                     offset=list(generated.offset), scale=generated.scale,
                     width=int(generated.image.shape[1]), height=int(generated.image.shape[0]), attempt=attempt,
                     meta=generated.meta, kept_mask=kept_uri,
                     persona=str((recipe.persona or {}).get("id", "")) if recipe.kind in GENERATIVE_KINDS else "")


@dataclass
class Photo:
    """The SKU's cleaned photo and what the generative recipes need of it: its product mask, and
    its human parsing when a parse engine is configured."""

    image: np.ndarray
    mask: np.ndarray
    parsing: Parsing | None = None

    @classmethod
    def read(cls, cleaned: Cleaned, analysis: Analysis, engines: dict[str, EngineSpec]) -> "Photo":
        """The photo, its mask and (when ``engines`` has a ``parse`` engine) its parsing."""
        image = storage.load_rgb(cleaned.image)
        parser = load_optional("parse", engines)
        return cls(image, storage.load_mask(analysis.product_mask), parser.parse(image) if parser else None)

    def traits(self, category: str, templates: dict[str, Any]) -> SkuTraits:
        """The facts :func:`catloc.tasks.recipes.applicable_kinds` decides by."""
        if self.parsing is None:
            return SkuTraits(category)
        keep = garment_keep(self.parsing, self.mask)
        return SkuTraits(category, person=self.parsing.has_person, garment=bool(keep.any()),
                         pose_template=garment_template(self.parsing, keep, templates) is not None)

    def requests(self, recipes: list[Recipe], engines: dict[str, EngineSpec],
                 templates: dict[str, Any]) -> dict[str, GenerationRequest]:
        """The generative recipes' requests (:func:`catloc.generative.build_request`); model swaps
        posed by the ``pose`` engine when one is configured and finds the person."""
        keypoints = None
        if any(r.kind == "model_swap" for r in recipes):
            estimator = load_optional("pose", engines)
            keypoints = estimator.keypoints(self.image) if estimator else None
        return {r.candidate_id: build_request(self.image, self.mask, r, self.parsing, templates, keypoints)
                for r in recipes if r.kind in GENERATIVE_KINDS}


def plan_for_sku(photo: Callable[[], Photo], market: MarketProfile, sku: str, n: int, mix: CandidateMix,
                 generative: bool, category: str, templates: dict[str, Any]) -> list[Recipe]:
    """The SKU's recipes: :func:`~catloc.tasks.recipes.plan_mix` by the market's mix (or all scene
    swaps when it has none) for a generative engine, else :func:`~catloc.tasks.recipes.plan_recipes`."""
    if not generative:
        return plan_recipes(market, sku, n, mix)
    if not market.candidate_mix:
        market = replace(market, candidate_mix={"scene_swap": 1})
    return plan_mix(market, sku, n, photo().traits(category, templates), mix)


def make_candidates(cleaned: Cleaned, analysis: Analysis, sku: str, folder: SkuFolder, market: MarketProfile,
                    n: int, engines: dict[str, EngineSpec], force: bool = False,
                    mix: CandidateMix | None = None, min_mask_confidence: float = 0.0, category: str = "",
                    pose_templates: dict[str, Any] | None = None) -> list[Candidate]:
    """Generate and store the SKU's candidates (``n`` recipes planned by :func:`plan_for_sku`, less
    the cut-outs when the mask's confidence is below ``min_mask_confidence``) and ``candidates.json``.
    A regeneration whose cut-outs are all gated makes the original again, so the SKU has a candidate."""
    mix, templates = mix or CandidateMix(), pose_templates or {}
    generative = makes_generative(engines["generate"])

    @functools.cache
    def read() -> Photo:                 # read (and parsed) once, only when planning or generating needs it
        return Photo.read(cleaned, analysis, engines if generative else {})

    def run() -> list[Candidate]:
        recipes, _ = gate_cutouts(plan_for_sku(read, market, sku, n, mix, generative, category, templates),
                                  analysis, min_mask_confidence)
        recipes = recipes or [original_recipe(market, sku, mix.first_index)]
        generator = load_engine("generate", engines["generate"])
        requests = read().requests(recipes, engines, templates) if generative else {}
        pairs = generate_all(read().image, read().mask, recipes, generator, requests)
        candidates = [store_candidate(folder, recipe, generated, engine_for(recipe, generator).name, mix.attempt,
                                      requests[recipe.candidate_id].keep if recipe.candidate_id in requests else None)
                      for recipe, generated in pairs]
        storage.write_json(folder.file("candidates.json"), [c.to_dict() for c in candidates])
        return candidates

    # Keyed on what the plan is made from, not on the plan: a reused stage output never parses the photo.
    plan_inputs = {"market": market, "sku": sku, "n": n, "mix": mix, "category": category,
                   "min_mask_confidence": min_mask_confidence, "mask": [analysis.mask_confidence, analysis.product_share]}
    extra = {"parse": engines.get("parse"), "pose": engines.get("pose"), "templates": templates} if generative else {}
    key = stage_key("localize", [cleaned.image, analysis.product_mask],
                    {"plan": plan_inputs, "generate": engines["generate"], **extra})
    return reuse_or_run(folder.manifest("localize"), key, run, list_of(Candidate), force)
