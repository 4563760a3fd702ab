"""Stage 4, localize: 6-8 candidates per SKU from recipes drawn from the market profile.

A recipe fixes the scene (backdrop), framing (fill, placement, aspect) and a seed derived
from market + SKU + candidate number, so the same catalog gives the same candidates every
night: merchants get repeatable results, not a lottery.

On a SKU's first attempt, candidate ``c01`` is the ``original`` recipe: the cleaned photo in its own framing, padded
to the market's aspect (``catloc.engines.generate_original``). The others cut the product out along
its mask (``studio`` today); they are made only when the analysis trusts the mask
(``Analysis.mask_confidence`` at least ``qc.min_mask_confidence``), else they are skipped and the SKU
keeps its ``original`` (the reason is in the analysis, the status sheet and the original's QC
reasons).
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from catloc import storage
from catloc.cache import reuse_or_run, stage_key
from catloc.config import EngineSpec, MarketProfile
from catloc.engines import load_engine
from catloc.engines.base import Generated, Generator, Recipe
from catloc.outputs import Analysis, Candidate, Cleaned, list_of
from catloc.runfolder import SkuFolder
from catloc.tasks.mix import CandidateMix


def recipe_seed(market: str, sku: str, index: int) -> int:
    return int(hashlib.sha256(f"{market}\x00{sku}\x00{index}".encode()).hexdigest()[:8], 16)


def framing_label(placement: str, fill: float) -> str:
    return f"{placement} fill={fill:.2f}"


ORIGINAL = EngineSpec("original")   # the engine of the original recipe (no configuration)


def original_recipe(market: MarketProfile, sku: str, index: int = 0) -> Recipe:
    """The cleaned photo in its own framing, padded to the market's aspect (``c01`` on a first attempt)."""
    aspect = tuple(int(a) for a in (market.framing.get("aspect") or [1, 1]))
    return Recipe(candidate_id=f"c{index + 1:02d}", scene={"id": "original"}, fill=1.0, placement="original",
                  aspect=aspect, margin_min=0.0, seed=recipe_seed(market.code, sku, index), kind="original")


def plan_recipes(market: MarketProfile, sku: str, n: int, mix: CandidateMix | None = None) -> list[Recipe]:
    """``n`` recipes. On a SKU's first attempt ``c01`` is the original (:func:`original_recipe`);
    a regeneration makes only cut-outs (the original never changes and was rejected). Cut-outs:
    scenes in the market's order, framings (fill x placement) rotating; or as ``mix`` chooses
    them (pick rates, a new attempt: :mod:`catloc.tasks.mix`)."""
    mix = mix or CandidateMix()
    framing = market.framing
    fills = [float(f) for f in (framing.get("fill") or [0.8])]
    placements = list(framing.get("placement") or ["center"])
    combos = [(f, p) for p in placements for f in fills]
    aspect = tuple(int(a) for a in (framing.get("aspect") or [1, 1]))
    recipes = [original_recipe(market, sku, mix.first_index)] if mix.attempt == 0 else []
    slots = mix.slots([s["id"] for s in market.scenes], [framing_label(p, f) for f, p in combos],
                      n - len(recipes), salt=f"{market.code}\x00{sku}")
    for i, (scene_at, combo_at) in enumerate(slots, start=mix.first_index + len(recipes)):
        scene = market.scenes[scene_at]
        fill, placement = combos[combo_at]
        persona = market.personas[i % len(market.personas)] if market.personas else None
        recipes.append(Recipe(candidate_id=f"c{i + 1:02d}", scene=scene, fill=fill, placement=placement,
                              aspect=aspect, margin_min=float(framing.get("margin_min", 0.03)),
                              seed=recipe_seed(market.code, sku, i), persona=persona))
    return recipes


def gate_cutouts(recipes: list[Recipe], analysis: Analysis, min_confidence: float) -> tuple[list[Recipe], str]:
    """The recipes to make, and why the cut-outs were skipped ("" when they were not): below
    ``min_confidence`` (or with no product mask at all) only the recipes that do not cut the product
    out are kept."""
    if analysis.mask_confidence >= min_confidence and analysis.product_share > 0:
        return recipes, ""
    why = "; ".join(analysis.mask_reasons) or "no reason given"
    reason = f"cut-outs skipped: mask confidence {analysis.mask_confidence:.2f} < {min_confidence:.2f} ({why})"
    return [r for r in recipes if not r.cuts_out], reason


def generate_all(image: np.ndarray, mask: np.ndarray, recipes: list[Recipe],
                 generator: Generator) -> list[tuple[Recipe, Generated]]:
    """Each recipe's image: the original recipe by the ``original`` engine, the rest by ``generator``."""
    original = load_engine("generate", ORIGINAL)
    return [(recipe, (generator if recipe.cuts_out else original).generate(image, mask, recipe))
            for recipe in recipes]


def store_candidate(folder: SkuFolder, recipe: Recipe, generated: Generated, engine: str,
                    attempt: int = 0) -> Candidate:
    """Save one generated image as ``candidates/<id>.png``; its record for ``candidates.json``."""
    uri = storage.save_image(folder.file("candidates", f"{recipe.candidate_id}.png"), generated.image)
    framing = framing_label(recipe.placement, recipe.fill) if recipe.cuts_out else \
        f"padded to {recipe.aspect[0]}:{recipe.aspect[1]}"
    return Candidate(candidate_id=recipe.candidate_id, image=uri, recipe=recipe.label, kind=recipe.kind,
                     scene=recipe.scene["id"], framing=framing, seed=recipe.seed,
                     engine=engine if recipe.cuts_out else ORIGINAL.name,
                     offset=list(generated.offset), scale=generated.scale,
                     width=int(generated.image.shape[1]), height=int(generated.image.shape[0]), attempt=attempt,
                     meta=generated.meta)


def make_candidates(cleaned: Cleaned, analysis: Analysis, sku: str, folder: SkuFolder, market: MarketProfile,
                    n: int, engines: dict[str, EngineSpec], force: bool = False,
                    mix: CandidateMix | None = None, min_mask_confidence: float = 0.0) -> list[Candidate]:
    """Generate and store the SKU's candidates (``n`` recipes chosen by ``mix``, less the cut-outs
    when the mask's confidence is below ``min_mask_confidence``) and ``candidates.json``. A
    regeneration whose cut-outs are all gated makes the original again, so the SKU has a candidate."""
    mix = mix or CandidateMix()
    recipes, _ = gate_cutouts(plan_recipes(market, sku, n, mix), analysis, min_mask_confidence)
    recipes = recipes or [original_recipe(market, sku, mix.first_index)]

    def run() -> list[Candidate]:
        generator = load_engine("generate", engines["generate"])
        pairs = generate_all(storage.load_rgb(cleaned.image), storage.load_mask(analysis.product_mask),
                             recipes, generator)
        candidates = [store_candidate(folder, recipe, generated, generator.name, mix.attempt)
                      for recipe, generated in pairs]
        storage.write_json(folder.file("candidates.json"), [c.to_dict() for c in candidates])
        return candidates

    key = stage_key("localize", [cleaned.image, analysis.product_mask],
                    {"recipes": recipes, "generate": engines["generate"]})
    return reuse_or_run(folder.manifest("localize"), key, run, list_of(Candidate), force)
