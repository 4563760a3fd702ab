"""Picks teach the next night: pick rates, the bounded shares, and the candidate mix they give;
new attempts for rejected SKUs show what the SKU has not shown."""
from collections import Counter

import pandas as pd
import pytest

from catloc.config import LearningBounds
from catloc.history import PickHistory
from catloc.outputs import Candidate
from catloc.pickrates import Counts, Option, option_shares, pick_rate_table, scene_shares
from catloc.records import PICK_HISTORY_COLUMNS
from catloc.tasks.localize import plan_recipes
from catloc.tasks.mix import CandidateMix, RunMix, mix_from_history, systematic_counts

BOUNDS = LearningBounds(min_share=0.05, prior=4)


def _history(picks: dict[str, tuple[int, int]], category: str = "flatlay", run_id: str = "r1") -> pd.DataFrame:
    """History rows: per scene (shown, picked), one SKU per show."""
    rows = []
    for scene, (shown, picked) in picks.items():
        for k in range(shown):
            rows.append({"market": "sa", "run_id": run_id, "sku": f"{scene}-{k}", "category": category, "attempt": 0,
                         "candidate_id": "c01", "recipe": "studio", "persona": "", "scene": scene,
                         "framing": "center fill=0.82", "seed": k, "picked": k < picked, "regenerate": False,
                         "applied_at": "2026-11-23T08:00:00+00:00"})
    return pd.DataFrame(rows, columns=PICK_HISTORY_COLUMNS)


def test_without_history_every_option_gets_the_same_share():
    options = [Option("studio", "", s) for s in "abcd"]
    assert option_shares({}, options, BOUNDS) == {o: 0.25 for o in options}


def test_shares_lean_to_picked_options_but_never_below_the_floor():
    a, b, c = (Option("studio", "", s) for s in "abc")
    counts = {a: Counts(shown=100, picked=80), b: Counts(shown=100, picked=10), c: Counts(shown=100, picked=0)}
    shares = option_shares(counts, [a, b, c], LearningBounds(min_share=0.1, prior=4))
    assert shares[a] > shares[b] > shares[c] >= 0.1 - 1e-12
    assert sum(shares.values()) == pytest.approx(1.0)
    # an option never shown gets the mean rate: it is tried, not starved
    d = Option("studio", "", "d")
    with_new = option_shares(counts, [a, b, c, d], LearningBounds(min_share=0.1, prior=4))
    assert with_new[b] < with_new[d] < with_new[a]


def test_small_counts_are_smoothed_towards_the_mean():
    a, b = Option("studio", "", "a"), Option("studio", "", "b")
    one_lucky_pick = option_shares({a: Counts(1, 1), b: Counts(1, 0)}, [a, b], LearningBounds(0.05, prior=4))
    many_picks = option_shares({a: Counts(100, 100), b: Counts(100, 0)}, [a, b], LearningBounds(0.05, prior=4))
    assert 0.5 < one_lucky_pick[a] < 0.65 < many_picks[a]
    assert 0.05 <= many_picks[b] < 0.07  # near the floor, never under it, however clear the evidence


def test_systematic_counts_are_proportional():
    assert systematic_counts([0.5, 0.25, 0.25], 8, 0.3) == [4, 2, 2]
    assert systematic_counts([1 / 8] * 8, 7, 0.5).count(1) == 7  # equal shares: 7 different scenes
    totals = Counter()
    for k in range(400):  # averaged over SKUs, a scene gets n x share candidates
        for s, n in enumerate(systematic_counts([0.6, 0.3, 0.1], 7, (k + 0.5) / 400)):
            totals[s] += n
    assert [totals[s] / 400 for s in range(3)] == pytest.approx([4.2, 2.1, 0.7], abs=0.02)


def test_without_a_mix_the_recipes_are_what_they_always_were(market):
    scenes, combos = market.scenes, [(f, p) for p in market.framing["placement"] for f in market.framing["fill"]]
    for i, recipe in enumerate(plan_recipes(market, "SKU-1", 16)):
        fill, placement = combos[(i + i // len(scenes)) % len(combos)]
        assert (recipe.candidate_id, recipe.scene["id"], recipe.fill, recipe.placement) == \
            (f"c{i + 1:02d}", scenes[i % len(scenes)]["id"], fill, placement)


def test_pick_history_moves_the_mix_of_the_next_run(market):
    ids = [s["id"] for s in market.scenes]
    history = _history({ids[0]: (40, 2), ids[3]: (40, 30), **{s: (40, 4) for s in ids[1:3] + ids[4:]}})
    shares = scene_shares(history, "flatlay", ids, market.learning)
    assert max(shares, key=shares.get) == ids[3] and min(shares.values()) >= market.learning.min_share
    mix = mix_from_history(history, history.iloc[:0], market)
    assert mix.for_sku("X", "flatlay").scene_shares == shares
    assert mix.for_sku("X", "new_category").scene_shares == mix.scene_shares["*"]  # all categories pooled
    used = Counter(r.scene["id"] for k in range(200) for r in plan_recipes(market, f"SKU-{k}", 7,
                                                                           mix.for_sku(f"SKU-{k}", "flatlay")))
    assert used[ids[3]] == max(used.values()) and used[ids[3]] / 1400 == pytest.approx(shares[ids[3]], abs=0.01)
    assert all(used[s] / 1400 >= 0.9 * market.learning.min_share for s in ids)  # every scene still tried
    first = plan_recipes(market, "SKU-1", 7, mix.for_sku("SKU-1", "flatlay"))
    assert first[0].scene["id"] == ids[3] and [r.candidate_id for r in first] == [f"c{i:02d}" for i in range(1, 8)]
    assert first == plan_recipes(market, "SKU-1", 7, mix.for_sku("SKU-1", "flatlay"))  # repeatable


def test_a_new_attempt_shows_new_seeds_then_unshown_scenes_and_framings(market):
    first = plan_recipes(market, "SKU-1", 7)
    shown = [Candidate(candidate_id=r.candidate_id, image="", scene=r.scene["id"],
                       framing=f"{r.placement} fill={r.fill:.2f}") for r in first]
    mix = RunMix().with_new_attempt("SKU-1", shown)
    again = mix.for_sku("SKU-1", "flatlay")
    assert (again.attempt, again.first_index) == (1, 7)
    second = plan_recipes(market, "SKU-1", 7, again)
    assert [r.candidate_id for r in second] == [f"c{i:02d}" for i in range(8, 15)]
    assert not {r.seed for r in second} & {r.seed for r in first}
    unshown = {s["id"] for s in market.scenes} - {c.scene for c in shown}
    assert second[0].scene["id"] in unshown
    pairs = {(r.scene["id"], f"{r.placement} fill={r.fill:.2f}") for r in second}
    assert len(pairs) == 7 and not pairs & {(c.scene, c.framing) for c in shown}
    # a third attempt avoids both earlier ones
    third = plan_recipes(market, "SKU-1", 7, mix.with_new_attempt("SKU-1", [
        Candidate(candidate_id=r.candidate_id, image="", scene=r.scene["id"], attempt=1,
                  framing=f"{r.placement} fill={r.fill:.2f}") for r in second]).for_sku("SKU-1", "flatlay"))
    assert third[0].candidate_id == "c15"
    assert not {(r.scene["id"], f"{r.placement} fill={r.fill:.2f}") for r in third} & (pairs | {
        (c.scene, c.framing) for c in shown})


def test_the_run_mix_survives_run_json():
    mix = RunMix({"*": {"a": 0.7, "b": 0.3}}).with_new_attempt(
        "S", [Candidate(candidate_id="c03", image="", scene="a", framing="center fill=0.80")])
    again = RunMix.from_dict(mix.to_dict())
    assert again.for_sku("S", "x") == mix.for_sku("S", "x") == CandidateMix(
        {"a": 0.7, "b": 0.3}, attempt=1, first_index=3, shown=(("a", "center fill=0.80"),))


def test_history_replaces_a_reapplied_sku_and_finds_skus_to_regenerate(tmp_path):
    history = PickHistory(str(tmp_path), "sa")
    rows = _history({"a": (3, 1)})
    assert history.record(rows) == 3 and history.record(rows) == 3  # applying twice does not count twice
    regen = rows.iloc[[0]].assign(sku="R", regenerate=True, picked=False)
    history.record(regen)
    assert list(history.to_regenerate()["sku"]) == ["R"]
    history.record(regen.assign(attempt=1, candidate_id="c08", regenerate=False, picked=True,
                                applied_at="2026-11-24T08:00:00+00:00"))
    assert history.to_regenerate().empty  # decided on its next attempt
    table = pick_rate_table(history.read(), ["a", "b"], BOUNDS)
    a = table[(table["scene"] == "a")].iloc[0]
    assert (a["shown"], a["picked"], a["pick_rate"]) == (5, 2, 0.4)
    assert table["next_share"].sum() == pytest.approx(1.0)


def test_a_nightly_run_takes_its_mix_from_the_history_and_keeps_it_when_resumed(small_catalog, tmp_path, market):
    from catloc.flows.prepare import prepare_run
    from catloc.runfolder import RunFolder
    out, ids = tmp_path / "out", [s["id"] for s in market.scenes]
    history = PickHistory(str(out / "_history"), "sa")
    shown = _history({ids[2]: (20, 15), ids[0]: (20, 1)})
    rejected = shown.iloc[:7].assign(sku="SHIRT-1", run_id="old", regenerate=True, picked=False,
                                     candidate_id=[f"c{i:02d}" for i in range(1, 8)], scene=ids[:7])
    history.record(pd.concat([shown, rejected]))
    plan = prepare_run(str(small_catalog), "sa", out=str(out), run_id="n1")
    mix = plan.settings.mix
    shirt, plain = mix.for_sku("SHIRT-1", "flatlay"), mix.for_sku("PLAIN-2", "flatlay")
    assert (shirt.attempt, shirt.first_index, plain.attempt) == (1, 7, 0)
    assert {scene for scene, _ in shirt.shown} == set(ids[:7])
    assert max(plain.scene_shares, key=plain.scene_shares.get) == ids[2]
    assert plan.info["mix"] == mix.to_dict()
    RunFolder(str(out), "n1").write_info(plan.info)   # the run started; then more picks are applied
    history.record(_history({ids[5]: (50, 50)}, run_id="r2"))
    assert prepare_run(str(small_catalog), "sa", out=str(out), run_id="n1").settings.mix == mix
    assert prepare_run(str(small_catalog), "sa", out=str(out), run_id="n2").settings.mix != mix
