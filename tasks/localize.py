"""Stage 4, localize: 6-8 candidates per SKU from recipes drawn from the market profile.

A recipe fixes the scene (backdrop), framing (fill, placement, aspect) and a seed derived
from market + SKU + candidate number, so the same catalog gives the same candidates every
night: merchants get repeatable results, not a lottery.
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


def plan_recipes(market: MarketProfile, sku: str, n: int, mix: CandidateMix | None = None) -> list[Recipe]:
    """``n`` recipes: scenes in the market's order, framings (fill x placement) rotating; or as
    ``mix`` chooses them (pick rates, a new attempt: :mod:`catloc.tasks.mix`)."""
    mix = mix or CandidateMix()
    framing = market.framing
    fills = [float(f) for f in (framing.get("fill") or [0.8])]
    placements = list(framing.get("placement") or ["center"])
    combos = [(f, p) for p in placements for f in fills]
    aspect = tuple(int(a) for a in (framing.get("aspect") or [1, 1]))
    slots = mix.slots([s["id"] for s in market.scenes], [framing_label(p, f) for f, p in combos], n,
                      salt=f"{market.code}\x00{sku}")
    recipes = []
    for i, (scene_at, combo_at) in enumerate(slots, start=mix.first_index):
        scene = market.scenes[scene_at]
        fill, placement = combos[combo_at]
        persona = market.personas[i % len(market.personas)] if market.personas else None
        recipes.append(Recipe(candidate_id=f"c{i + 1:02d}", scene=scene, fill=fill, placement=placement,
                              aspect=aspect, margin_min=float(framing.get("margin_min", 0.03)),
                              seed=recipe_seed(market.code, sku, i), persona=persona))
    return recipes


def generate_all(image: np.ndarray, mask: np.ndarray, recipes: list[Recipe],
                 generator: Generator) -> list[tuple[Recipe, Generated]]:
    return [(recipe, generator.generate(image, mask, recipe)) for recipe in recipes]


def store_candidate(folder: SkuFolder, recipe: Recipe, generated: Generated, engine: str,
                    attempt: int = 0) -> Candidate:
    """Save one generated image as ``candidates/<id>.png``; its record for ``candidates.json``."""
    uri = storage.save_image(folder.file("candidates", f"{recipe.candidate_id}.png"), generated.image)
    return Candidate(candidate_id=recipe.candidate_id, image=uri, recipe=recipe.label, scene=recipe.scene["id"],
                     framing=framing_label(recipe.placement, recipe.fill), seed=recipe.seed, engine=engine,
                     offset=list(generated.offset), scale=generated.scale,
                     width=int(generated.image.shape[1]), height=int(generated.image.shape[0]), attempt=attempt)


def make_candidates(cleaned: Cleaned, analysis: Analysis, sku: str, folder: SkuFolder, market: MarketProfile,
                    n: int, engines: dict[str, EngineSpec], force: bool = False,
                    mix: CandidateMix | None = None) -> list[Candidate]:
    """Generate and store the SKU's ``n`` candidates (chosen by ``mix``) and ``candidates.json``."""
    recipes = plan_recipes(market, sku, n, mix)
    attempt = mix.attempt if mix else 0

    def run() -> list[Candidate]:
        generator = load_engine("generate", engines["generate"])
        pairs = generate_all(storage.load_rgb(cleaned.image), storage.load_mask(analysis.product_mask),
                             recipes, generator)
        candidates = [store_candidate(folder, recipe, generated, generator.name, attempt)
                      for recipe, generated in pairs]
        storage.write_json(folder.file("candidates.json"), [c.to_dict() for c in candidates])
        return candidates

    key = stage_key("localize", [cleaned.image, analysis.product_mask],
                    {"recipes": recipes, "generate": engines["generate"]})
    return reuse_or_run(folder.manifest("localize"), key, run, list_of(Candidate), force)
