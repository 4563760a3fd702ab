"""Stage 4, localize: 6-8 candidates per SKU from recipes drawn from the market profile.

A recipe fixes the scene (backdrop), framing (fill, placement, aspect) and a seed derived
from market + SKU + candidate number, so the same catalog gives the same candidates every
night: merchants get repeatable results, not a lottery.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from catloc import storage
from catloc.cache import reuse_or_run, stage_key
from catloc.config import EngineSpec, MarketProfile
from catloc.engines import load_engine
from catloc.engines.base import Generated, Generator, Recipe


def recipe_seed(market: str, sku: str, index: int) -> int:
    return int(hashlib.sha256(f"{market}\x00{sku}\x00{index}".encode()).hexdigest()[:8], 16)


def plan_recipes(market: MarketProfile, sku: str, n: int) -> list[Recipe]:
    """``n`` recipes: scenes in the market's order, framings (fill x placement) rotating."""
    framing = market.framing
    fills = [float(f) for f in (framing.get("fill") or [0.8])]
    placements = list(framing.get("placement") or ["center"])
    combos = [(f, p) for p in placements for f in fills]
    aspect = tuple(int(a) for a in (framing.get("aspect") or [1, 1]))
    recipes = []
    for i in range(n):
        scene = market.scenes[i % len(market.scenes)]
        fill, placement = combos[(i + i // len(market.scenes)) % len(combos)]
        persona = market.personas[i % len(market.personas)] if market.personas else None
        recipes.append(Recipe(candidate_id=f"c{i + 1:02d}", scene=scene, fill=fill, placement=placement,
                              aspect=aspect, margin_min=float(framing.get("margin_min", 0.03)),
                              seed=recipe_seed(market.code, sku, i), persona=persona))
    return recipes


def make_candidates(image: np.ndarray, mask: np.ndarray, recipes: list[Recipe],
                    generator: Generator) -> list[tuple[Recipe, Generated]]:
    return [(recipe, generator.generate(image, mask, recipe)) for recipe in recipes]


@task(name="localize", cache_policy=NO_CACHE)
def localize_task(cleaned_uri: str, mask_uri: str, sku: str, sku_dir: str, market: MarketProfile, n: int,
                  engines: dict[str, EngineSpec], force: bool = False) -> list[dict[str, Any]]:
    """Generate and store the candidates; return one metadata dict per candidate."""
    recipes = plan_recipes(market, sku, n)

    def run() -> list[dict[str, Any]]:
        generator = load_engine("generate", engines["generate"])
        pairs = make_candidates(storage.load_rgb(cleaned_uri), storage.load_mask(mask_uri), recipes, generator)
        out = []
        for recipe, cand in pairs:
            uri = storage.save_image(storage.join(sku_dir, "candidates", f"{recipe.candidate_id}.png"), cand.image)
            out.append({"candidate_id": recipe.candidate_id, "image": uri, "recipe": recipe.label,
                        "scene": recipe.scene["id"], "framing": f"{recipe.placement} fill={recipe.fill:.2f}",
                        "seed": recipe.seed, "engine": generator.name, "offset": list(cand.offset),
                        "scale": cand.scale, "width": int(cand.image.shape[1]), "height": int(cand.image.shape[0])})
        storage.write_json(storage.join(sku_dir, "candidates.json"), out)
        return out

    key = stage_key("localize", [cleaned_uri, mask_uri], {"recipes": recipes, "generate": engines["generate"]})
    return reuse_or_run(sku_dir, "localize", key, run, force)
