"""Recipe planning by the market's candidate_mix and the SKU's category (pure: no images)."""
from __future__ import annotations

from collections import Counter

import pytest

from catloc.config import load_market
from catloc.tasks.mix import CandidateMix
from catloc.tasks.recipes import (SkuTraits, applicable_kinds, kind_counts, plan_mix, plan_recipes, recipe_seed,
                                  scale_counts)

MODEL = SkuTraits("on_model", person=True, garment=True)
MANNEQUIN = SkuTraits("mannequin", person=False, garment=True)


@pytest.fixture(scope="module")
def sa():
    return load_market("sa")


@pytest.mark.parametrize("traits, kinds", [
    (MODEL, ("model_swap", "scene_swap", "studio")),
    (SkuTraits("On-Model", person=True, garment=True), ("model_swap", "scene_swap", "studio")),
    (MANNEQUIN, ("mannequin_to_model", "scene_swap", "studio")),
    (SkuTraits("mannequin", person=False, garment=True, pose_template=False), ("scene_swap", "studio")),
    (SkuTraits("flatlay"), ("scene_swap", "studio")),
    (SkuTraits("still_life", person=True, garment=True), ("scene_swap", "studio")),
    (SkuTraits("", person=True, garment=True), ("model_swap", "scene_swap", "studio")),   # no category: parsing
    (SkuTraits("", person=False, garment=True), ("scene_swap", "studio")),
    (SkuTraits("on_model"), ("scene_swap", "studio")),          # no parse engine: nobody to redraw
])
def test_applicable_kinds_by_category_or_parsing(traits, kinds):
    assert applicable_kinds(traits) == kinds


def test_kinds_that_do_not_apply_give_their_slots_to_the_next():
    mix = {"model_swap": 4, "scene_swap": 2, "studio": 1, "original": 1}
    assert kind_counts(mix, ("model_swap", "scene_swap", "studio")) == {"model_swap": 4, "scene_swap": 2, "studio": 1}
    assert kind_counts(mix, ("mannequin_to_model", "scene_swap", "studio")) == \
        {"mannequin_to_model": 4, "scene_swap": 2, "studio": 1}
    assert kind_counts(mix, ("scene_swap", "studio")) == {"scene_swap": 6, "studio": 1}
    assert kind_counts({"studio": 3, "mannequin_to_model": 1}, ("model_swap", "scene_swap", "studio")) == \
        {"model_swap": 0, "scene_swap": 1, "studio": 3}
    assert kind_counts({"scene_swap": 2}, ("model_swap", "studio")) == {"model_swap": 0, "studio": 2}
    assert kind_counts({"studio": 2}, ("model_swap", "scene_swap")) == {"model_swap": 2, "scene_swap": 0}  # wraps


def test_counts_scale_by_largest_remainder():
    counts = {"model_swap": 4, "scene_swap": 2, "studio": 1}
    assert scale_counts(counts, 7) == counts
    assert scale_counts(counts, 6) == {"model_swap": 3, "scene_swap": 2, "studio": 1}
    assert scale_counts(counts, 5) == {"model_swap": 3, "scene_swap": 1, "studio": 1}
    assert scale_counts(counts, 14) == {"model_swap": 8, "scene_swap": 4, "studio": 2}
    assert scale_counts({"model_swap": 1, "scene_swap": 1}, 3) == {"model_swap": 2, "scene_swap": 1}  # ties: order
    assert scale_counts({"scene_swap": 0}, 2) == {"studio": 2}
    for n in range(0, 17):
        assert sum(scale_counts(counts, n).values()) == n


def test_plan_follows_the_mix_per_category(sa):
    for traits, people in ((MODEL, "model_swap"), (MANNEQUIN, "mannequin_to_model")):
        recipes = plan_mix(sa, "SKU-1", 8, traits)
        assert [r.kind for r in recipes] == ["original"] + [people] * 4 + ["scene_swap"] * 2 + ["studio"]
        assert [r.candidate_id for r in recipes] == [f"c{i:02d}" for i in range(1, 9)]
        assert [r.seed for r in recipes] == [recipe_seed("sa", "SKU-1", i) for i in range(8)]
        drawn = recipes[1:5]
        assert [r.persona["id"] for r in drawn] == [p["id"] for p in sa.personas]   # personas in turn
        assert all(r.persona is None for r in recipes[5:7])
        assert [r.scene["id"] for r in recipes[1:7]] == [s["id"] for s in sa.scene_prompts] + \
            [s["id"] for s in sa.scene_prompts][:2]
        assert "hijab" in drawn[0].prompt and "hijab" not in drawn[2].prompt          # sa_f1 wears one, sa_m1 not
        assert "long sleeves" in drawn[0].prompt and sa.negative_prompt in drawn[0].negative_prompt
        assert recipes[-1].scene in sa.scenes                                         # a studio backdrop
    still = plan_mix(sa, "SKU-1", 8, SkuTraits("still_life"))
    assert Counter(r.kind for r in still) == {"original": 1, "scene_swap": 6, "studio": 1}
    assert plan_mix(sa, "SKU-1", 8, MODEL) == plan_mix(sa, "SKU-1", 8, MODEL)        # repeatable


def test_a_regeneration_has_no_original_continues_numbering_and_shows_new_scenes_first(sa):
    mix = CandidateMix(attempt=1, first_index=8, shown=(("riyadh_boutique", "as photographed"),
                                                        ("majlis", "as photographed")))
    recipes = plan_mix(sa, "SKU-1", 7, MODEL, mix)
    assert recipes[0].candidate_id == "c09" and "original" not in [r.kind for r in recipes]
    assert Counter(r.kind for r in recipes) == {"model_swap": 4, "scene_swap": 2, "studio": 1}
    assert [r.scene["id"] for r in recipes[:2]] == ["desert_dusk", "marble_lobby"]
    assert recipe_seed("sa", "SKU-1", 8) == recipes[0].seed


def test_the_studio_plan_is_unchanged(sa):
    recipes = plan_recipes(sa, "SKU-1", 7)
    assert [r.kind for r in recipes] == ["original"] + ["studio"] * 6
    assert [r.scene["id"] for r in recipes[1:]] == [s["id"] for s in sa.scenes[:6]]
