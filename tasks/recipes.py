"""Recipe planning: which recipes a SKU's candidates follow. Pure (no images, no engines).

Two plans:

- :func:`plan_recipes` (the ``studio`` engine, or a market without ``candidate_mix``): ``c01`` the
  ``original`` on a first attempt, then studio cut-outs over the market's ``scenes`` and
  framings as :class:`~catloc.tasks.mix.CandidateMix` chooses them.
- :func:`plan_mix` (a generate engine that makes generative kinds, e.g. ``diffusers``): the
  SKU's candidates follow the market's ``candidate_mix`` by kind:

  1. ``original`` first (``c01``, first attempt only; a regeneration has none), whatever the mix
     says of it;
  2. the kinds that apply to the SKU (:func:`applicable_kinds`); the count of a kind that does not
     apply goes to the next applicable kind of :data:`KIND_ORDER` (wrapping round), so
     ``{model_swap: 4, scene_swap: 2, studio: 1}`` on a still life is 6 ``scene_swap`` + 1 ``studio``
     and on a mannequin 4 ``mannequin_to_model`` + 2 ``scene_swap`` + 1 ``studio``;
  3. the counts scaled to the candidates left (``n - 1`` on a first attempt, ``n`` on a
     regeneration) by largest remainder (:func:`scale_counts`): each kind gets the floor of its
     share, the candidates left over go to the largest fractions (ties in :data:`KIND_ORDER`);
  4. candidates numbered in :data:`KIND_ORDER`; generative ones take the market's
     ``scene_prompts`` in turn (on a regeneration the scenes the SKU has not shown first) and
     the ones drawing a person the ``personas`` in turn; each its prompt from
     :func:`catloc.generative.compose_prompt`; studio ones as in :func:`plan_recipes`.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from catloc.config import MarketProfile
from catloc.engines.base import Recipe
from catloc.generative import compose_prompt
from catloc.tasks.mix import CandidateMix

KIND_ORDER = ("model_swap", "mannequin_to_model", "scene_swap", "studio")
PERSON_KINDS = ("model_swap", "mannequin_to_model")     # kinds that draw a persona
ON_MODEL = ("model_swap", "scene_swap", "studio")
MANNEQUIN = ("mannequin_to_model", "scene_swap", "studio")
STILL = ("scene_swap", "studio")
# catalog category (lower case, spaces and dashes as underscores) -> the kinds that apply
CATEGORY_KINDS: dict[str, tuple[str, ...]] = {
    "on_model": ON_MODEL, "model": ON_MODEL, "mannequin": MANNEQUIN, "flatlay": STILL, "flat_lay": STILL,
    "flat": STILL, "still_life": STILL, "cloth": STILL,
}


def recipe_seed(market: str, sku: str, index: int) -> int:
    return int(hashlib.sha256(f"{market}\x00{sku}\x00{index}".encode()).hexdigest()[:8], 16)


def framing_label(placement: str, fill: float) -> str:
    return f"{placement} fill={fill:.2f}"


def market_aspect(market: MarketProfile) -> tuple[int, int]:
    return tuple(int(a) for a in (market.framing.get("aspect") or [1, 1]))  # type: ignore[return-value]


def original_recipe(market: MarketProfile, sku: str, index: int = 0) -> Recipe:
    """The cleaned photo in its own framing, padded to the market's aspect (``c01`` on a first attempt)."""
    return Recipe(candidate_id=f"c{index + 1:02d}", scene={"id": "original"}, fill=1.0, placement="original",
                  aspect=market_aspect(market), margin_min=0.0, seed=recipe_seed(market.code, sku, index),
                  kind="original")


def studio_recipes(market: MarketProfile, sku: str, start: int, count: int, mix: CandidateMix) -> list[Recipe]:
    """``count`` studio cut-outs numbered from ``start``: scenes and framings (fill x placement) as
    ``mix`` chooses them; personas in turn (the studio engine ignores them)."""
    framing = market.framing
    fills = [float(f) for f in (framing.get("fill") or [0.8])]
    combos = [(f, p) for p in list(framing.get("placement") or ["center"]) for f in fills]
    slots = mix.slots([s["id"] for s in market.scenes], [framing_label(p, f) for f, p in combos], count,
                      salt=f"{market.code}\x00{sku}")
    recipes = []
    for i, (scene_at, combo_at) in enumerate(slots, start=start):
        fill, placement = combos[combo_at]
        persona = market.personas[i % len(market.personas)] if market.personas else None
        recipes.append(Recipe(candidate_id=f"c{i + 1:02d}", scene=market.scenes[scene_at], fill=fill,
                              placement=placement, aspect=market_aspect(market),
                              margin_min=float(framing.get("margin_min", 0.03)),
                              seed=recipe_seed(market.code, sku, i), persona=persona))
    return recipes


def plan_recipes(market: MarketProfile, sku: str, n: int, mix: CandidateMix | None = None) -> list[Recipe]:
    """``n`` recipes. On a SKU's first attempt ``c01`` is the original (:func:`original_recipe`);
    a regeneration makes only cut-outs (the original never changes and was rejected). Cut-outs:
    scenes in the market's order, framings (fill x placement) rotating; or as ``mix`` chooses
    them (pick rates, a new attempt: :mod:`catloc.tasks.mix`)."""
    mix = mix or CandidateMix()
    recipes = [original_recipe(market, sku, mix.first_index)] if mix.attempt == 0 else []
    return recipes + studio_recipes(market, sku, mix.first_index + len(recipes), n - len(recipes), mix)


def category_key(category: str | None) -> str:
    """A catalog category as looked up in :data:`CATEGORY_KINDS` (``On-Model`` -> ``on_model``)."""
    return re.sub(r"[\s\-]+", "_", str(category or "").strip().lower())


@dataclass(frozen=True)
class SkuTraits:
    """What decides a SKU's recipe kinds: its catalog category and what human parsing saw in its
    cleaned photo (``None``: not parsed, no parse engine)."""

    category: str = ""
    person: bool | None = None     # skin or hair seen (a model, not a flat lay or a mannequin)
    garment: bool | None = None    # a garment seen inside the product mask
    pose_template: bool = True     # a pose template fits the garment (pipeline.yaml pose_templates)


def applicable_kinds(traits: SkuTraits) -> tuple[str, ...]:
    """The kinds that apply: by category (:data:`CATEGORY_KINDS`), or without a known category by
    the parsing (a person: as ``on_model``; none or not parsed: as ``still_life``). ``model_swap``
    needs a person in the parsing (it redraws skin and hair), ``mannequin_to_model`` a garment in
    it and a pose template (it keeps the garment only); without a parse engine neither applies."""
    kinds = CATEGORY_KINDS.get(category_key(traits.category)) or (ON_MODEL if traits.person else STILL)
    drop = set()
    if not traits.person:
        drop.add("model_swap")
    if not (traits.garment and traits.pose_template):
        drop.add("mannequin_to_model")
    return tuple(k for k in kinds if k not in drop)


def kind_counts(candidate_mix: dict[str, int], applicable: tuple[str, ...]) -> dict[str, int]:
    """The mix's counts (``original`` aside) on the ``applicable`` kinds, in :data:`KIND_ORDER`:
    a kind that does not apply gives its count to the next applicable kind (wrapping round)."""
    counts = {k: 0 for k in KIND_ORDER if k in applicable}
    for at, kind in enumerate(KIND_ORDER):
        if int(candidate_mix.get(kind, 0)) > 0 and counts:
            to = next(KIND_ORDER[(at + j) % len(KIND_ORDER)] for j in range(len(KIND_ORDER))
                      if KIND_ORDER[(at + j) % len(KIND_ORDER)] in counts)
            counts[to] += int(candidate_mix[kind])
    return counts


def scale_counts(counts: dict[str, int], n: int) -> dict[str, int]:
    """``counts`` scaled to add up to ``n`` by largest remainder (ties in the dict's order); all to
    ``studio`` when they add up to 0."""
    total = sum(counts.values())
    if total == 0:
        return {"studio": n} if n else {}
    quotas = {k: c * n / total for k, c in counts.items()}
    scaled = {k: int(q) for k, q in quotas.items()}
    order = sorted(counts, key=lambda k: -(quotas[k] - scaled[k]))   # stable: ties keep the dict's order
    for kind in order[:n - sum(scaled.values())]:
        scaled[kind] += 1
    return {k: c for k, c in scaled.items() if c}


def rotation(ids: list[str], shown: set[str], start: int) -> list[int]:
    """Positions of ``ids`` in the order they are used: those not in ``shown`` first, each group
    from position ``start`` round."""
    k = len(ids)
    return sorted(range(k), key=lambda s: (ids[s] in shown, (s - start) % k))


def generative_recipe(market: MarketProfile, sku: str, index: int, kind: str, scene: dict[str, Any],
                      persona: dict[str, Any] | None) -> Recipe:
    """Candidate ``index``'s recipe of a generative ``kind``: the photo's framing, the prompts
    composed from the scene, persona, the market's modesty and negative prompt."""
    prompt, negative = compose_prompt(kind, scene, persona, market.modesty, market.negative_prompt)
    return Recipe(candidate_id=f"c{index + 1:02d}", scene=scene, fill=1.0, placement="photo",
                  aspect=market_aspect(market), margin_min=0.0, seed=recipe_seed(market.code, sku, index),
                  persona=persona, kind=kind, prompt=prompt, negative_prompt=negative)


def plan_mix(market: MarketProfile, sku: str, n: int, traits: SkuTraits, mix: CandidateMix | None = None) -> list[Recipe]:
    """``n`` recipes following the market's ``candidate_mix`` (the module docstring's rule)."""
    mix = mix or CandidateMix()
    recipes = [original_recipe(market, sku, mix.first_index)] if mix.attempt == 0 else []
    counts = scale_counts(kind_counts(market.candidate_mix, applicable_kinds(traits)), n - len(recipes))
    scenes = market.scene_prompts or [{"id": "default"}]
    scene_order = rotation([s["id"] for s in scenes], {s for s, _ in mix.shown}, mix.first_index)
    personas = market.personas or [None]
    at, drawn, people = mix.first_index + len(recipes), 0, 0
    for kind in KIND_ORDER:
        if kind == "studio":
            recipes += studio_recipes(market, sku, at, counts.get(kind, 0), mix)
            continue
        for _ in range(counts.get(kind, 0)):
            persona = personas[(mix.first_index + people) % len(personas)] if kind in PERSON_KINDS else None
            people += kind in PERSON_KINDS
            scene = scenes[scene_order[drawn % len(scenes)]]
            recipes.append(generative_recipe(market, sku, at, kind, scene, persona))
            at, drawn = at + 1, drawn + 1
    return recipes
