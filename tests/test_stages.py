"""Stage logic on small drawn photos: clean, analyse, localize, qc, export."""
import numpy as np
import pandas as pd
import pytest

from catloc.engines import load_engine
from catloc.engines.base import EngineLoadError
from catloc.config import EngineSpec
from catloc.outputs import Analysis, Candidate, ScoredCandidate
from catloc.records import REVIEW_COLUMNS, STATUS_COLUMNS, SkuRecord
from catloc.runfolder import RunFolder
from catloc.tasks.analyse import analyse_product
from catloc.tasks.clean.options import CleanOptions
from catloc.tasks.clean.pipeline import remove_overlay_text
from catloc.tasks.export import export_sheets
from catloc.tasks.localize import generate_all, plan_recipes
from catloc.tasks.qc import rank_candidates, score_candidate
from tests.synth import supplier_photo


def _iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


@pytest.fixture(scope="module")
def cleaned_shirt(engines):
    image, truth, info = supplier_photo(384, qr=True)
    result = remove_overlay_text(image, engines["ocr"], engines["inpaint"], engines["segment"])
    return image, truth, info, result


def test_clean_removes_overlays_and_qr_keeps_product_text(cleaned_shirt, engines):
    image, truth, info, result = cleaned_shirt
    decisions = {d["text"]: d["decision"] for d in result.report["text"]}
    assert decisions.get("SUMMER") == "kept"
    assert decisions.get("厂家直销") == "removed"
    assert result.report["qr_removed"] == 1
    # nothing of the overlays is readable any more, the product text still is
    after = {r.text for r in engines["ocr"].detect(result.cleaned)}
    assert "SUMMER" in after and not any("厂家" in t or "39" in t for t in after)
    # the QR code's area is now backdrop-coloured
    x0, y0, x1, y1 = info["qr_box"]
    assert result.cleaned[y0:y1, x0:x1].std() < 12


def test_clean_never_touches_pixels_outside_the_mask(cleaned_shirt):
    image, truth, _, result = cleaned_shirt
    outside = ~result.removed_mask
    assert np.array_equal(result.cleaned[outside], image[outside])
    assert not (result.removed_mask & truth).sum() > 0.01 * truth.sum()  # product almost untouched


def test_remove_all_policy_removes_product_text_too(engines):
    image, _, _ = supplier_photo(384, overlay=False)
    result = remove_overlay_text(image, engines["ocr"], engines["inpaint"], engines["segment"],
                                 CleanOptions(policy="remove_all"))
    assert [d["decision"] for d in result.report["text"]] == ["removed"]
    with pytest.raises(ValueError, match="unknown clean policy"):
        CleanOptions(policy="nope")


def test_analyse_finds_the_product(cleaned_shirt, engines):
    _, truth, _, result = cleaned_shirt
    mask, facts = analyse_product(result.cleaned, engines["segment"])
    assert _iou(mask, truth) > 0.95
    assert facts["touches_edges"] == []


def test_analyse_fails_clearly_on_an_empty_photo(engines):
    from catloc.records import SkuError
    with pytest.raises(SkuError, match="no product found"):
        analyse_product(np.full((200, 200, 3), 240, np.uint8), engines["segment"])


def test_recipes_are_repeatable_and_varied(market):
    a, b = plan_recipes(market, "SKU-1", 7), plan_recipes(market, "SKU-1", 7)
    assert [r.seed for r in a] == [r.seed for r in b]
    assert len({r.scene["id"] for r in a}) == 7
    assert [r.seed for r in plan_recipes(market, "SKU-2", 7)] != [r.seed for r in a]


def test_candidates_carry_product_pixels_exactly(cleaned_shirt, engines, market):
    _, truth, _, result = cleaned_shirt
    mask, _ = analyse_product(result.cleaned, engines["segment"])
    pairs = generate_all(result.cleaned, mask, plan_recipes(market, "S", 6), engines["generate"])
    assert len(pairs) == 6
    images = [c.image for _, c in pairs]
    assert len({im.tobytes() for im in images}) == 6  # six different backdrops/framings
    assert [r.kind for r, _ in pairs] == ["original"] + ["studio"] * 5
    for recipe, cand in pairs:
        ys, xs = np.nonzero(mask)
        ox, oy = cand.offset
        assert np.array_equal(cand.image[ys + oy, xs + ox], result.cleaned[ys, xs])
        assert cand.product_mask.sum() == mask.sum()
        h, w = cand.image.shape[:2]
        assert w / h == pytest.approx(recipe.aspect[0] / recipe.aspect[1], abs=0.01)
        if not recipe.cuts_out:  # the original: the whole cleaned photo, only padded
            sh, sw = result.cleaned.shape[:2]
            assert np.array_equal(cand.image[oy:oy + sh, ox:ox + sw], result.cleaned)
            continue
        bw, bh = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        assert max(bw / w, bh / h) == pytest.approx(recipe.fill, abs=0.02)
    # the same recipe gives the same image
    again = generate_all(result.cleaned, mask, plan_recipes(market, "S", 1), engines["generate"])
    assert np.array_equal(again[0][1].image, images[0])


def test_qc_scores_fidelity_and_flags_changes(cleaned_shirt, engines, market, cfg):
    _, _, _, result = cleaned_shirt
    mask, facts = analyse_product(result.cleaned, engines["segment"])
    _, (_, cand) = generate_all(result.cleaned, mask, plan_recipes(market, "S", 2), engines["generate"])
    meta = Candidate("c02", "c02.png", offset=list(cand.offset))
    analysis = Analysis("mask.png", **facts)
    qc = dict(cfg.qc, min_output_side=64)
    good = score_candidate(cand.image, meta, result.cleaned, mask, analysis, engines["ocr"], qc, "keep_product_text")
    assert good.product_fidelity == 1.0 and good.qc_pass and good.residual_text == 0
    tampered = cand.image.copy()
    tampered[cand.product_mask] = 255 - tampered[cand.product_mask]  # "the strap changed"
    bad = score_candidate(tampered, meta, result.cleaned, mask, analysis, engines["ocr"], qc, "keep_product_text")
    assert not bad.qc_pass and "product changed" in bad.qc_reasons
    ranked = rank_candidates([bad, good])
    assert ranked[1].rank == 1 and ranked[0].rank == 2


def test_qc_counts_text_left_on_the_backdrop(engines, cfg):
    image, truth, _ = supplier_photo(384, product_text=None)  # overlays NOT cleaned
    out = score_candidate(image, Candidate("c01", "c01.png"), image, truth, Analysis("mask.png"), engines["ocr"],
                          dict(cfg.qc, min_output_side=64), "keep_product_text")
    assert out.residual_text >= 1 and not out.qc_pass and "residual text" in out.qc_reasons


def test_export_writes_contract_columns(tmp_path):
    folder = RunFolder(str(tmp_path), "run1")
    cand = ScoredCandidate("c01", folder.sku("A").file("c01.png"), rank=1, recipe="r", seed=5, qc_pass=True,
                           product_fidelity=1.0)
    from catloc import storage
    storage.save_image(cand.image, np.zeros((32, 32, 3), np.uint8))
    folder.write_record(SkuRecord(sku="A", status="done", row=2, candidates=[cand]))
    folder.save_rejected([SkuRecord(sku="B", status="failed", stage="ingest", error="broken image", row=3)])
    out = export_sheets(folder, "sa")
    tmp_path = tmp_path / "run1"
    review = pd.read_parquet(tmp_path / "review.parquet")
    status = pd.read_csv(tmp_path / "status.csv", keep_default_na=False)
    assert list(review.columns) == REVIEW_COLUMNS and list(status.columns) == STATUS_COLUMNS
    assert review.loc[0, "image"] == "skus/A/c01.png" and review.loc[0, "pick"] == ""
    assert list(status["status"]) == ["done", "failed"] and status.loc[1, "error"] == "broken image"
    assert out["counts"] == {"done": 1, "failed": 1} and review.loc[0, "attempt"] == 0
    assert not list(tmp_path.glob(".*tmp-*"))  # no temp files left behind


def test_unknown_engine_is_one_clear_error():
    with pytest.raises(EngineLoadError, match="unknown ocr engine 'nope'"):
        load_engine("ocr", EngineSpec("nope"))


def test_tiled_watermarks_are_grouped_by_repeats():
    from catloc.engines.base import TextRegion
    from catloc.tasks.clean.decisions import tiled_watermarks
    box = np.zeros((4, 2), np.float32)
    texts = [TextRegion(box, t, 0.9) for t in
             ("店铺水印", "十三行店铺水", "铺水印十三", "SUMMER 1988", "shop8888", "shop888")]
    insides = [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    assert tiled_watermarks(texts, insides) == {0, 1, 2}  # the one on the product goes too
    assert tiled_watermarks(texts, [1.0] * 6) == set()     # a print repeated only on the product stays
    assert 3 not in tiled_watermarks(texts + [TextRegion(box, "shop8888 x", 0.9)], insides + [0.0])


def test_an_unsure_reading_over_the_product_never_erases_it(engines):
    """OCR sometimes 'reads' a plain garment as a character with a box over all of it."""
    from catloc.engines.base import TextRegion
    image, truth, _ = supplier_photo(320, overlay=False, product_text=None, garment=(150, 40, 60))
    ys, xs = np.nonzero(truth)
    box = np.array([[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.max(), ys.max()], [xs.min(), ys.max()]],
                   np.float32)

    class Hallucinating:
        name = "fake"

        def detect(self, img):
            return [TextRegion(box, "1", 0.55)]

    result = remove_overlay_text(image, Hallucinating(), engines["inpaint"], engines["segment"],
                                 CleanOptions(verify=False))
    assert result.report["text"][0]["decision"] == "kept"
    assert np.array_equal(result.cleaned, image)


def test_a_banner_across_the_hem_is_removed_though_its_text_sits_on_the_product(engines):
    """A size banner laid across the garment's hem: its text box is on the product, its plate
    runs onto the backdrop, so it is an overlay (a print never leaves the garment)."""
    from PIL import Image, ImageDraw
    from tests.synth import font
    image, truth, _ = supplier_photo(512, overlay=False, product_text=None, background=(250, 250, 250),
                                     garment=(235, 235, 238))
    im = Image.fromarray(image)
    d = ImageDraw.Draw(im)
    ys, xs = np.nonzero(truth)
    top = int(ys.max()) - 22
    d.rectangle([int(xs.min()) - 40, top, int(xs.max()) - 60, top + 34], fill=(35, 35, 35))
    d.text((int(xs.min()) + 60, top + 3), "S M L XL", font=font(24), fill=(255, 255, 255))
    image = np.asarray(im)
    result = remove_overlay_text(image, engines["ocr"], engines["inpaint"], engines["segment"])
    banner = [t for t in result.report["text"] if "XL" in t["text"]]
    assert banner and banner[0]["decision"] == "removed", result.report["text"]
    assert banner[0]["why"] == "size run (the sizes on offer) reaching onto the backdrop", banner[0]  # rule 4b
    assert not any("XL" in r.text for r in engines["ocr"].detect(result.cleaned))


def test_rapidocr_find_then_read_equals_detect(engines):
    image, _, _ = supplier_photo(1024, qr=False)
    ocr = engines["ocr"]
    regions = ocr.detect(image)
    boxes = ocr.find(image)
    assert len(boxes) >= len(regions) >= 3
    assert [(r.text, round(r.score, 3)) for r in ocr.read(image, boxes)] == \
        [(r.text, round(r.score, 3)) for r in regions]
    assert any("SUMMER" in r.text for r in regions)   # read from the full-size crop
    small, _, _ = supplier_photo(300, qr=False)       # below det_side: RapidOCR's own path
    assert [r.text for r in ocr.read(small, ocr.find(small))] == [r.text for r in ocr.detect(small)]


def test_rapidocr_sessions_are_tuned_and_give_the_packaged_sessions_results(engines):
    """The engine's ONNX Runtime sessions (threads, no spinning, arena) are its own, made once at
    load; detection boxes and readings equal those of RapidOCR's own sessions."""
    import os

    from rapidocr_onnxruntime import RapidOCR

    from catloc.engines.ocr_rapidocr import RapidOCRDetector
    ocr = engines["ocr"]._ocr
    for session in (ocr.text_det.infer.session, ocr.text_cls.infer.session, ocr.text_rec.session.session):
        options = session.get_session_options()
        assert options.intra_op_num_threads == os.cpu_count() and options.enable_cpu_mem_arena
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    plain = RapidOCR(det_limit_type="max", print_verbose=False)
    image, _, _ = supplier_photo(640, qr=False)
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    boxes, _ = ocr.text_det(bgr)
    expected, _ = plain.text_det(bgr)
    assert len(boxes) >= 3 and np.array_equal(boxes, expected)
    crops = ocr.get_crop_img_list(bgr, list(boxes))
    assert ocr.text_rec(crops, False)[0] == plain.text_rec(crops, False)[0]
    with pytest.raises(EngineLoadError, match="threads"):
        RapidOCRDetector(threads=-1)


def test_a_quadrilateral_over_plain_fabric_is_not_taken_for_a_code():
    """OpenCV's QR detector sometimes returns a huge quadrilateral over a garment; removing that
    'code' would repaint the product, so findings must look like a code."""
    import cv2
    from catloc.tasks.clean.codes import detect_codes, looks_like_code
    image, _, info = supplier_photo(512, qr=True, overlay=False)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    x0, y0, x1, y1 = info["qr_box"]
    real = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    assert looks_like_code(gray, real, "qr")
    bogus = np.float32([[480, 500], [40, 505], [45, 190], [260, 20]])  # across shirt and backdrop
    assert not looks_like_code(gray, bogus, "qr")
    assert not looks_like_code(gray, np.float32([[150, 150], [250, 150], [250, 250], [150, 250]]), "qr")  # fabric
    assert [k for k, _ in detect_codes(image)] == ["qr"]
