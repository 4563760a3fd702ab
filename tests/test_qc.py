"""QC a reviewer would agree with, on drawn photos: broken cut-outs (hair only, a head cut in half,
a white garment without its white parts) fail and are not even made, the original is always
offered; duplicates, residue outside the product and product text made illegible are flagged."""
import cv2
import numpy as np
import pytest

from catloc.engines.base import PARTS, Parsing
from catloc.engines.generate_original import OriginalGenerator, padded_size
from catloc.engines.generate_studio import StudioGenerator
from catloc.outputs import Analysis, Candidate, ScoredCandidate
from catloc.synthetic import paint_banner
from catloc.tasks.analyse import analyse_product
from catloc.tasks.localize import gate_cutouts, plan_recipes
from catloc.tasks.qc import (Repaint, flag_duplicates, hidden_patch, product_texts, rank_candidates, repaint_findings,
                             repainted_share, score_candidate, texts_lost, thumbnail)
from tests.synth import model_photo, supplier_photo


class Fixed:
    """A segment engine that returns a given mask (what a broken segmenter might)."""

    name = "fixed"

    def __init__(self, mask):
        self.mask = mask

    def segment(self, image):
        return self.mask.copy()


def _head_cut(parts):
    cut = parts["person"].copy()
    cut[:, : cut.shape[1] // 2] &= ~(parts["hair"] | parts["face"])[:, : cut.shape[1] // 2]
    return cut


BROKEN = {
    "hair only": lambda parts: parts["hair"],
    "head cut": _head_cut,
    "white parts missing": lambda parts: parts["person"] & ~parts["garment"],
}


@pytest.fixture
def qc_cfg(cfg):
    return dict(cfg.qc, min_output_side=64)


def _candidate(recipe, generated) -> Candidate:
    return Candidate(recipe.candidate_id, f"{recipe.candidate_id}.png", kind=recipe.kind,
                     offset=list(generated.offset), scale=generated.scale)


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_broken_cutout_is_not_made_and_fails_qc_while_the_original_passes(broken, engines, market, qc_cfg):
    image, parts = model_photo(garment=(246, 246, 243) if broken == "white parts missing" else (30, 40, 90))
    mask = BROKEN[broken](parts)
    _, facts = analyse_product(image, Fixed(mask))
    analysis = Analysis("mask.png", **facts)
    assert analysis.mask_confidence < qc_cfg["min_mask_confidence"] and analysis.mask_reasons
    recipes = plan_recipes(market, "S", 4)
    made, reason = gate_cutouts(recipes, analysis, qc_cfg["min_mask_confidence"])
    assert [r.kind for r in made] == ["original"] and made[0].candidate_id == "c01"
    assert reason.startswith("cut-outs skipped: mask confidence")
    studio = recipes[1]                                  # made anyway (an old run, another engine): it fails
    cut = StudioGenerator().generate(image, mask, studio)
    scored = score_candidate(cut.image, _candidate(studio, cut), image, mask, analysis, engines["ocr"], qc_cfg,
                             "keep_product_text")
    assert not scored.qc_pass and "mask confidence" in scored.qc_reasons
    original = OriginalGenerator().generate(image, mask, made[0])
    kept = score_candidate(original.image, _candidate(made[0], original), image, mask, analysis, engines["ocr"],
                           qc_cfg, "keep_product_text")
    assert kept.qc_pass and kept.product_fidelity == 1.0 and "cut-outs skipped" in kept.qc_reasons


def test_a_true_cutout_passes_and_ranks_before_the_original(engines, market, qc_cfg):
    image, parts = model_photo()
    mask, facts = analyse_product(image, Fixed(parts["person"]))
    analysis = Analysis("mask.png", **facts)
    recipes, reason = gate_cutouts(plan_recipes(market, "S", 3), analysis, qc_cfg["min_mask_confidence"])
    assert reason == "" and [r.kind for r in recipes] == ["original", "studio", "studio"]
    scored = []
    for recipe in recipes:
        made = (OriginalGenerator() if recipe.kind == "original" else StudioGenerator()).generate(image, mask, recipe)
        scored.append(score_candidate(made.image, _candidate(recipe, made), image, mask, analysis, engines["ocr"],
                                      qc_cfg, "keep_product_text"))
    assert all(c.qc_pass for c in scored)
    assert [c.rank for c in rank_candidates(scored)] == [3, 1, 2]


def test_the_original_is_only_padded_to_the_markets_aspect():
    image = np.random.default_rng(0).integers(0, 255, (300, 200, 3)).astype(np.uint8)
    recipe = plan_recipes(type("M", (), {"framing": {"aspect": [4, 5]}, "scenes": [{"id": "s"}], "personas": [],
                                         "code": "xx"})(), "S", 1)[0]
    made = OriginalGenerator().generate(image, np.zeros((300, 200), bool), recipe)
    assert made.image.shape[:2] == (300, 240) == padded_size(200, 300, (4, 5))[::-1]
    x, y = made.offset
    assert np.array_equal(made.image[y:y + 300, x:x + 200], image) and made.scale == 1.0


def test_a_human_parsing_adds_the_whole_person_to_a_mask_that_takes_part_of_it():
    image, parts = model_photo()
    labels = np.zeros(parts["person"].shape, np.uint8)
    for part, name in (("legs", "pants"), ("garment", "upper_clothes"), ("face", "face"), ("hair", "hair")):
        labels[parts[part]] = PARTS.index(name)

    class Parser:
        name = "drawn"

        def parse(self, image):
            return Parsing(labels)

    mask, facts = analyse_product(image, Fixed(parts["person"] & ~parts["face"]), Parser())
    assert np.array_equal(mask, parts["person"]) and facts["mask_confidence"] >= 0.95


def test_near_identical_candidates_are_flagged_keeping_the_best():
    a = np.full((64, 64, 3), 200, np.uint8)
    b = a.copy()
    b[30:34, 30:34] = 190                                  # a speck of difference
    c = np.full((64, 64, 3), 120, np.uint8)
    scored = [ScoredCandidate(f"c0{i}", f"c0{i}.png", qc_pass=True, rank=i, product_fidelity=1.0) for i in (1, 2, 3)]
    flagged = flag_duplicates(scored, [thumbnail(x) for x in (a, b, c)], 1.5)
    assert [x.duplicate_of for x in flagged] == ["", "c01", ""]
    assert [x.qc_pass for x in flagged] == [True, False, True] and "duplicate of c01" in flagged[1].qc_reasons


def test_residue_left_on_the_backdrop_is_flagged(engines, qc_cfg):
    image, truth, _ = supplier_photo(384, overlay=False, qr=True, product_text=None)   # a QR code left over
    clean, truth, _ = supplier_photo(384, overlay=False, qr=False, product_text=None)
    plate = paint_banner(clean, (20, 300, 90, 340), (120, 120, 120), [], radius_px=6, gap_px=0).image  # a plate
    analysis = Analysis("mask.png", product_share=float(truth.mean()), mask_confidence=1.0)
    for photo, expected in ((image, "QR pattern"), (plate, "blob")):
        out = score_candidate(photo, Candidate("c01", "c01.png", kind="original"), photo, truth, analysis,
                              engines["ocr"], qc_cfg, "keep_product_text")
        assert not out.qc_pass and "residue outside the product" in out.qc_reasons
        assert any(expected in r for r in out.residue)
    ok = score_candidate(clean, Candidate("c01", "c01.png", kind="original"), clean, truth, analysis,
                         engines["ocr"], qc_cfg, "keep_product_text")
    assert ok.residue == [] and ok.qc_pass


def test_product_text_made_illegible_on_a_candidate_is_flagged(engines, market, qc_cfg):
    image, truth, info = supplier_photo(384, overlay=False, product_text="SUMMER")
    texts = product_texts(image, truth, engines["ocr"], qc_cfg["legible_score"])
    assert [t.text for t in texts] == ["SUMMER"]
    recipe = plan_recipes(market, "S", 2)[1]
    made = StudioGenerator().generate(image, truth, recipe)
    assert texts_lost(made.image, texts, made.offset, made.scale, engines["ocr"], qc_cfg["text_similarity"]) == []
    smudged = made.image.copy()
    x0, y0, x1, y1 = (int(v) for v in info["product_text_box"])
    ox, oy = made.offset
    smudged[y0 + oy:y1 + oy, x0 + ox:x1 + ox] = image[y1 + 4, x0]      # the print painted over with fabric
    analysis = Analysis("mask.png", product_share=float(truth.mean()), mask_confidence=1.0)
    out = score_candidate(smudged, _candidate(recipe, made), image, truth, analysis, engines["ocr"], qc_cfg,
                          "keep_product_text", texts)
    assert not out.qc_pass and "product text lost: 'SUMMER'" in out.qc_reasons and out.text_lost


def test_a_product_cut_by_the_photos_frame_is_set_flush_with_the_canvas_not_floating(market):
    image, parts = model_photo()                           # the legs run out of the bottom of the photo
    for recipe in plan_recipes(market, "S", 4)[1:]:
        made = StudioGenerator().generate(image, parts["person"], recipe)
        assert made.product_mask[-1].any()                 # the cut lies on the canvas's bottom edge
        assert not made.product_mask[0].any()              # with room above the head
        h, w = made.image.shape[:2]
        assert w / h == pytest.approx(recipe.aspect[0] / recipe.aspect[1], abs=0.01)


def test_a_product_repainted_by_the_clean_stage_warns_then_fails_every_candidate(engines, qc_cfg):
    image, truth, _ = supplier_photo(384, overlay=False, product_text=None)
    analysis = Analysis("mask.png", product_share=float(truth.mean()), mask_confidence=1.0)
    erased = np.zeros_like(truth)
    erased[180:240, 140:240] = True                        # a print inpainted away
    share = repainted_share(erased, truth)
    assert share > qc_cfg["max_repainted"]
    out = score_candidate(image, Candidate("c01", "c01.png", kind="original"), image, truth, analysis,
                          engines["ocr"], qc_cfg, "keep_product_text", repaint=Repaint(share))
    assert not out.qc_pass and "product repainted by the clean stage" in out.qc_reasons
    some = np.zeros_like(truth)
    some[180:200, 140:200] = True                          # a promo string crossing the garment, removed
    assert qc_cfg["warn_repainted"] < repainted_share(some, truth) < qc_cfg["max_repainted"]
    out = score_candidate(image, Candidate("c01", "c01.png", kind="original"), image, truth, analysis,
                          engines["ocr"], qc_cfg, "keep_product_text",
                          repaint=Repaint(repainted_share(some, truth)))
    assert out.qc_pass and "product repainted by the clean stage" in out.qc_reasons     # a warning to look at
    assert repainted_share(np.zeros_like(truth), truth) == 0.0


def test_a_product_hidden_under_a_card_fails_every_candidate_a_removed_string_does_not(engines, qc_cfg):
    """A QR card lay on the garment: the solid patch the clean stage repainted is a guess (the share
    of the product stays under max_repainted). A removed string is thin and only warns."""
    image, truth, _ = supplier_photo(384, overlay=False, product_text=None)
    analysis = Analysis("mask.png", product_share=float(truth.mean()), mask_confidence=1.0)
    ys, xs = np.nonzero(truth)
    card = np.zeros_like(truth)
    cy, cx = int(ys.mean()), int(xs.mean())
    card[cy - 35:cy + 35, cx - 35:cx + 35] = True          # a 70 px card on the garment
    assert repainted_share(card, truth) < qc_cfg["max_repainted"]
    assert hidden_patch(card, truth) > qc_cfg["max_hidden_patch"]
    out = score_candidate(image, Candidate("c02", "c02.png", kind="studio"), image, truth, analysis, engines["ocr"],
                          qc_cfg, "keep_product_text", repaint=Repaint(repainted_share(card, truth),
                                                                      hidden_patch(card, truth)))
    assert not out.qc_pass and "product hidden under an overlay" in out.qc_reasons
    string = np.zeros_like(truth)
    string[cy - 4:cy + 4, int(xs.min()):int(xs.max())] = True  # a promo string across the garment, removed
    assert hidden_patch(string, truth) < qc_cfg["max_hidden_patch"]
    assert hidden_patch(np.zeros_like(truth), truth) == 0.0


def test_a_smooth_fill_on_a_textured_backdrop_fails_the_original_not_the_cut_outs(qc_cfg):
    """Text removed from a brick-like texture and filled smooth is a smear a reviewer sees; the same
    fill on a plain backdrop is not."""
    rng = np.random.default_rng(0)
    textured = rng.integers(60, 200, (400, 400, 3), dtype=np.uint8)        # a coarse texture
    textured = cv2.resize(cv2.resize(textured, (100, 100)), (400, 400), interpolation=cv2.INTER_NEAREST)
    removed = np.zeros((400, 400), bool)
    removed[40:90, 200:360] = True                                        # where a promo string was
    product = np.zeros((400, 400), bool)
    product[200:380, 100:300] = True
    smeared = textured.copy()
    smeared[removed] = 128                                                # a smooth fill
    repaint = Repaint.measure(smeared, removed, product, product, qc_cfg)
    assert repaint.smooth_outside and not repaint.smooth_on_product
    assert repaint_findings(repaint, True, qc_cfg)[0] and not repaint_findings(repaint, False, qc_cfg)[0]
    plain = np.full((400, 400, 3), 240, np.uint8)
    assert Repaint.measure(plain, removed, product, product, qc_cfg) == Repaint()
    assert Repaint.measure(textured, removed, product, product, qc_cfg).smooth_outside == ()  # filled with texture
