"""Stage 4, localize: 6-8 candidates per SKU from recipes drawn from the market profile.

A recipe fixes the scene (backdrop), framing (fill, placement, aspect) and a seed derived
from market + SKU + candidate number, so the same catalog gives the same candidates every
night: merchants get repeatable results, not a lottery.

Candidate ``c01`` is always the ``original`` recipe: the cleaned photo in its own framing, padded
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


def recipe_seed(market: str, sku: str, index: int) -> int:
    return int(hashlib.sha256(f"{market}\x00{sku}\x00{index}".encode()).hexdigest()[:8], 16)


ORIGINAL = EngineSpec("original")   # the engine of the original recipe (no configuration)


def original_recipe(market: MarketProfile, sku: str) -> Recipe:
    """Recipe ``c01``: the cleaned photo in its own framing, padded to the market's aspect."""
    aspect = tuple(int(a) for a in (market.framing.get("aspect") or [1, 1]))
    return Recipe(candidate_id="c01", scene={"id": "original"}, fill=1.0, placement="original", aspect=aspect,
                  margin_min=0.0, seed=recipe_seed(market.code, sku, 0), kind="original")


def plan_recipes(market: MarketProfile, sku: str, n: int) -> list[Recipe]:
    """``n`` recipes: the original first (:func:`original_recipe`), then studio cut-outs with the
    scenes in the market's order and the framings (fill x placement) rotating."""
    framing = market.framing
    fills = [float(f) for f in (framing.get("fill") or [0.8])]
    placements = list(framing.get("placement") or ["center"])
    combos = [(f, p) for p in placements for f in fills]
    aspect = tuple(int(a) for a in (framing.get("aspect") or [1, 1]))
    recipes = [original_recipe(market, sku)]
    for i in range(1, n):
        j = i - 1                                       # the cut-outs' own count: scenes start at the first
        scene = market.scenes[j % len(market.scenes)]
        fill, placement = combos[(j + j // len(market.scenes)) % len(combos)]
        persona = market.personas[j % len(market.personas)] if market.personas else None
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


def store_candidate(folder: SkuFolder, recipe: Recipe, generated: Generated, engine: str) -> Candidate:
    """Save one generated image as ``candidates/<id>.png``; its record for ``candidates.json``."""
    uri = storage.save_image(folder.file("candidates", f"{recipe.candidate_id}.png"), generated.image)
    framing = f"padded to {recipe.aspect[0]}:{recipe.aspect[1]}" if not recipe.cuts_out else \
        f"{recipe.placement} fill={recipe.fill:.2f}"
    return Candidate(candidate_id=recipe.candidate_id, image=uri, recipe=recipe.label, kind=recipe.kind,
                     scene=recipe.scene["id"], framing=framing, seed=recipe.seed,
                     engine=engine if recipe.cuts_out else ORIGINAL.name,
                     offset=list(generated.offset), scale=generated.scale,
                     width=int(generated.image.shape[1]), height=int(generated.image.shape[0]))


def make_candidates(cleaned: Cleaned, analysis: Analysis, sku: str, folder: SkuFolder, market: MarketProfile,
                    n: int, engines: dict[str, EngineSpec], force: bool = False,
                    min_mask_confidence: float = 0.0) -> list[Candidate]:
    """Generate and store the SKU's candidates (``n`` recipes, less the cut-outs when the mask's
    confidence is below ``min_mask_confidence``) and ``candidates.json``."""
    recipes, _ = gate_cutouts(plan_recipes(market, sku, n), analysis, min_mask_confidence)

    def run() -> list[Candidate]:
        generator = load_engine("generate", engines["generate"])
        pairs = generate_all(storage.load_rgb(cleaned.image), storage.load_mask(analysis.product_mask),
                             recipes, generator)
        candidates = [store_candidate(folder, recipe, generated, generator.name) for recipe, generated in pairs]
        storage.write_json(folder.file("candidates.json"), [c.to_dict() for c in candidates])
        return candidates

    key = stage_key("localize", [cleaned.image, analysis.product_mask],
                    {"recipes": recipes, "generate": engines["generate"]})
    return reuse_or_run(folder.manifest("localize"), key, run, list_of(Candidate), force)
