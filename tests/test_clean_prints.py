"""Print or overlay, on drawn photos: what is printed on the product stays, what is drawn over it goes.

The prints are drawn with ``catloc.synthetic.paint_print`` (the ink takes the fabric's shading and
grain, soft edges), the overlays with ``paint_text`` (flat ink, crisp edges), on a shirt with a woven
grain, as a photographed garment has.
"""
import cv2
import numpy as np
import pytest

from catloc import synthetic
from catloc.synthetic import paint_print, paint_text
from catloc.tasks.clean.codes import detect_codes
from catloc.tasks.clean.options import CleanOptions
from catloc.tasks.clean.pipeline import remove_overlay_text
from catloc.tasks.clean.plates import backdrop_colour, find_plate, stroke_mask
from tests.synth import shirt

SA = CleanOptions(strip_languages=("zh",))


def woven(image: np.ndarray, mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """``image`` with a fabric grain (a fine weave and noise, +-6 levels) on the ``mask`` pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    grain = 3.0 * np.sin(xx * 2.1) * np.sin(yy * 1.7) + rng.normal(0, 2.0, mask.shape)
    out = image.astype(np.float32) + np.where(mask, grain, 0)[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def tee():
    """A 512 px flat-lay shirt (light grey) with a woven grain, on a near-white backdrop, and its mask."""
    image, mask = shirt(512, (248, 248, 246), (205, 210, 215))
    return woven(image, mask), mask


def _reading(result, fragment):
    return [t for t in result.report["text"] if fragment in t["text"]]


def test_a_chinese_print_on_a_shirt_stays_though_the_market_strips_chinese(tee, engines):
    image, mask = tee
    printed = paint_print(image, (190, 235), "中国风", synthetic.font("cjk", 40), (150, 20, 30), angle=1.5)
    assert any("中国" in r.text for r in engines["ocr"].detect(printed.image)), "the print must be read to be judged"
    result = remove_overlay_text(printed.image, engines["ocr"], engines["inpaint"], engines["segment"], SA)
    found = _reading(result, "中国")
    assert found and found[0]["decision"] == "kept" and found[0]["rendering"] == "printed", result.report["text"]
    assert np.array_equal(result.cleaned[printed.mask], printed.image[printed.mask])


def test_sale_composited_flat_on_a_shirt_goes(tee, engines):
    image, _ = tee
    sale = paint_text(image, (170, 240), "SALE 50% OFF", synthetic.font("sans_bold", 30), (220, 20, 20))
    result = remove_overlay_text(sale.image, engines["ocr"], engines["inpaint"], engines["segment"], SA)
    found = _reading(result, "SALE")
    assert found and found[0]["decision"] == "removed" and found[0]["why"] == "promo text (discount)"
    assert not any("SALE" in r.text or "OFF" in r.text for r in engines["ocr"].detect(result.cleaned))


def test_a_shop_name_composited_over_the_shirt_goes_where_chinese_is_stripped_only(tee, engines):
    image, _ = tee
    shop = paint_text(image, (180, 240), "优品男装", synthetic.font("cjk", 36), (30, 70, 200))
    result = remove_overlay_text(shop.image, engines["ocr"], engines["inpaint"], engines["segment"], SA)
    found = _reading(result, "男装")
    assert found and found[0]["decision"] == "removed" and found[0]["why"].startswith("zh text composited"), \
        result.report["text"]
    kept = remove_overlay_text(shop.image, engines["ocr"], engines["inpaint"], engines["segment"], CleanOptions())
    assert _reading(kept, "男装")[0]["decision"] == "kept"


def model_photo(size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """A drawn model: head, neck and arms in skin tones, a dark T-shirt, trousers cut by the bottom edge,
    on a grey studio wall with a soft light; returns (RGB image, bool T-shirt mask)."""
    s = size / 512
    image = np.full((size, size, 3), 214, np.uint8)
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.clip(image * (1.04 - 0.1 * np.hypot(yy - 0.3, xx - 0.5))[..., None], 0, 255).astype(np.uint8)
    skin, shirt_colour = (224, 172, 140), (38, 52, 86)
    cv2.ellipse(image, (int(256 * s), int(90 * s)), (int(42 * s), int(54 * s)), 0, 0, 360, skin, -1)
    cv2.rectangle(image, (int(240 * s), int(130 * s)), (int(272 * s), int(170 * s)), skin, -1)
    cv2.rectangle(image, (int(180 * s), int(350 * s)), (int(332 * s), size), (60, 60, 66), -1)
    for x in (140, 340):
        cv2.rectangle(image, (int(x * s), int(200 * s)), (int((x + 32) * s), int(380 * s)), skin, -1)
    body = np.array([[170, 160], [342, 160], [380, 220], [344, 240], [336, 360], [176, 360], [168, 240],
                     [132, 220]], np.float32) * s
    tee_mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(tee_mask, [body.astype(np.int32)], 1)
    image[tee_mask > 0] = shirt_colour
    return woven(image, tee_mask > 0, seed=1), tee_mask > 0


def test_a_brand_print_near_the_edge_of_the_product_on_a_model_photo_stays(engines):
    image, tee_mask = model_photo(512)
    printed = paint_print(image, (186, 205), "VANS", synthetic.font("sans_bold", 34), (235, 235, 230),
                          angle=-3.0, blur_px=0.9)
    assert any("VANS" in r.text for r in engines["ocr"].detect(printed.image)), "the print must be read to be judged"
    result = remove_overlay_text(printed.image, engines["ocr"], engines["inpaint"], engines["segment"], SA)
    found = _reading(result, "VANS")
    assert found and found[0]["decision"] == "kept", result.report["text"]
    assert np.array_equal(result.cleaned[printed.mask], printed.image[printed.mask])


def test_stripes_on_a_garment_are_not_a_barcode():
    image, mask = shirt(512, (248, 248, 246), (240, 240, 240))
    rows = (np.arange(512) // 9) % 2 == 0
    image[mask & rows[:, None]] = (25, 30, 45)
    assert detect_codes(image) == []


def test_a_banner_is_a_plate_and_a_photographed_garment_is_not():
    image = np.full((300, 800, 3), 245, np.uint8)
    banner = paint_text(image, (330, 120), "NEW", synthetic.font("sans_bold", 30), (255, 255, 255),
                        plate=synthetic.Plate(20, 779, (220, 30, 40)))
    seed = np.zeros((300, 800), bool)
    x0, y0, x1, y1 = (int(round(v)) for v in banner.box)
    seed[y0:y1, x0:x1] = True
    plate = find_plate(banner.image, seed, backdrop_colour(banner.image))
    assert plate is not None and plate[y0 - 4, 30] and plate[y1 + 4, 770]   # the whole banner, far beyond 5x the text
    dress = image.copy()
    dress[40:260, 200:600] = (30, 30, 34)
    dress = woven(dress, np.pad(np.ones((220, 400), bool), ((40, 40), (200, 200))), seed=2)
    mark = paint_text(dress, (330, 120), "潮流", synthetic.font("cjk", 40), (120, 120, 120), opacity=0.3)
    seed[:] = False
    x0, y0, x1, y1 = (int(round(v)) for v in mark.box)
    seed[y0:y1, x0:x1] = True
    assert find_plate(mark.image, seed, backdrop_colour(mark.image)) is None


def test_a_translucent_banner_across_a_garment_is_its_whole_rectangle():
    """Where a translucent banner lies over a dark garment it shows the garment through in other colours
    than the plate's: the plate is still the banner's whole rectangle, not the plate-coloured part of it
    (a strip left behind would be smeared over the hole by the inpainting)."""
    image = np.full((300, 800, 3), 245, np.uint8)
    image[150:300, 250:550] = (30, 30, 34)                    # a dark garment under the banner's lower part
    image = woven(image, np.pad(np.ones((150, 300), bool), ((150, 0), (250, 250))), seed=3)
    banner = paint_text(image, (330, 120), "NEW", synthetic.font("sans_bold", 30), (255, 255, 255),
                        plate=synthetic.Plate(20, 779, (220, 30, 40)), opacity=0.8)
    seed = np.zeros((300, 800), bool)
    x0, y0, x1, y1 = (int(round(v)) for v in banner.box)
    seed[y0:y1, x0:x1] = True
    plate = find_plate(banner.image, seed, backdrop_colour(banner.image))
    drawn = banner.mask
    assert plate is not None and plate[drawn].mean() > 0.99, plate[drawn].mean()
    assert not plate[drawn.any(1)][:, :15].any() and plate.sum() < 1.1 * drawn.sum()  # the banner, no more


def test_a_print_stays_when_the_segmenter_cuts_the_product_short_at_it(engines):
    """The classical segmenter misreads model photos; a print it cuts in half must not be taken for an
    overlay reaching onto the backdrop: its rendering says it is printed."""
    image, tee_mask = model_photo(512)
    printed = paint_print(image, (186, 205), "VANS", synthetic.font("sans_bold", 34), (235, 235, 230),
                          angle=-3.0, blur_px=0.9)

    class CutShort:
        name = "cut-short"

        def segment(self, small):
            h, w = small.shape[:2]
            cut = cv2.resize(tee_mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
            cut[:, int(0.43 * w):] = False   # the product ends in the middle of the print
            return cut

    result = remove_overlay_text(printed.image, engines["ocr"], engines["inpaint"], CutShort(), SA)
    found = _reading(result, "VANS")
    assert found and found[0]["inside_product"] < 0.85, result.report["text"]
    assert found[0]["decision"] == "kept" and found[0]["why"].startswith("printed on the product"), found
    assert np.array_equal(result.cleaned[printed.mask], printed.image[printed.mask])


def test_the_second_look_never_erases_a_print_that_was_kept(engines):
    """Verify looks again around what was cleaned and retries what it still finds off the product;
    a print kept though the product mask missed it lies off that mask too, and must not be retried."""
    image, tee_mask = model_photo(512)
    printed = paint_print(image, (186, 205), "VANS", synthetic.font("sans_bold", 34), (235, 235, 230),
                          angle=-3.0, blur_px=0.9)
    promo = paint_text(printed.image, (186, 262), "包邮", synthetic.font("cjk", 30), (250, 210, 0))

    class Missing:
        name = "missing"

        def segment(self, small):
            return np.zeros(small.shape[:2], bool)   # the product mask misses the shirt altogether

    result = remove_overlay_text(promo.image, engines["ocr"], engines["inpaint"], Missing(), SA)
    assert _reading(result, "包邮")[0]["decision"] == "removed"
    assert _reading(result, "VANS")[0]["decision"] == "kept", result.report["text"]
    assert np.array_equal(result.cleaned[printed.mask & ~promo.mask], promo.image[printed.mask & ~promo.mask])


def test_a_flat_dark_garment_under_a_watermark_piece_is_not_its_plate():
    image = np.full((600, 600, 3), 245, np.uint8)
    cv2.ellipse(image, (300, 380), (190, 170), 0, 0, 360, (22, 22, 26), -1)       # a flat black skirt, no grain
    mark = paint_text(image, (210, 360), "盗图必究", synthetic.font("cjk", 40), (120, 120, 120), opacity=0.3)
    seed = np.zeros((600, 600), bool)
    x0, y0, x1, y1 = (int(round(v)) for v in mark.box)
    seed[y0:y1, x0:x1] = True
    assert find_plate(mark.image, seed, backdrop_colour(mark.image)) is None


def test_a_square_card_is_taken_with_its_corners():
    """A code's white card on a light grey backdrop: growing ring by ring rounds the card's corners
    off; left behind, they show as dots and tint the fill. The plate mask covers the whole card and
    no backdrop beyond it."""
    from catloc.tasks.clean.codes import qr_plate_mask
    image = np.full((200, 200, 3), 246, np.uint8)
    image[50:150, 50:150] = 255                                  # the card
    image[62:138, 62:138] = 0                                    # the code (dark square)
    quad = np.array([[62, 62], [137, 62], [137, 137], [62, 137]], np.float32)
    plate = qr_plate_mask(image, quad)
    card = np.zeros((200, 200), bool)
    card[50:150, 50:150] = True
    assert plate[card].all() and not plate[~card].any()


def test_a_card_is_found_when_the_detected_corners_cut_modules_off_the_code():
    """The detector's corners may lie a few px inside the code: the first rings around them cross
    modules, and the card beyond must still be taken whole."""
    from catloc.tasks.clean.codes import qr_plate_mask
    image = np.full((260, 260, 3), 240, np.uint8)
    image[40:220, 40:220] = 255                                  # the card
    modules = (np.indices((25, 25)).sum(axis=0) % 2 == 0)        # a checkerboard of 5-px modules
    image[67:192, 67:192][np.kron(modules, np.ones((5, 5), bool))] = 0
    quad = np.array([[71, 71], [188, 71], [188, 188], [71, 188]], np.float32)   # 4 px inside the code
    plate = qr_plate_mask(image, quad)
    card = np.zeros((260, 260), bool)
    card[40:220, 40:220] = True
    assert plate[card].all() and not plate[~card].any()


def test_an_outlined_overlay_is_told_by_two_flat_inks_and_a_print_stays_printed():
    """A fill with a contrasting outline (pink in white, as suppliers draw text to stand out) has two flat
    inks: the fill lies between the surface and the outline ink and must not be taken for a soft rim."""
    from catloc.imaging import polygon_mask
    from catloc.tasks.clean.decisions import COMPOSITED, PRINTED
    from catloc.tasks.clean.pipeline import rendering_verdict
    from catloc.tasks.clean.rendering import rendering_cues
    image, mask = shirt(512, (248, 248, 246), (30, 36, 62))
    image = woven(image, mask)
    outlined = paint_text(image, (170, 240), "韩版修身", synthetic.font("cjk", 40), (230, 40, 140), stroke_px=2,
                          stroke_fill=(250, 250, 250))
    printed = paint_print(image, (170, 240), "韩版修身", synthetic.font("cjk", 40), (230, 40, 140), angle=1.0)
    for painted, verdict in ((outlined, COMPOSITED), (printed, PRINTED)):
        x0, y0, x1, y1 = painted.box
        quad = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        cues = rendering_cues(painted.image, polygon_mask(image.shape[:2], quad), quad)
        assert rendering_verdict(cues, SA) == verdict, cues


def test_a_flat_promo_string_on_a_busy_print_is_masked_at_its_inks_not_its_box():
    """On a busy floral print a median filter takes the pattern away with the text; the text's flat ink,
    frequent in its box and rare around it, still tells its strokes, so the print between them stays."""
    rng = np.random.default_rng(4)
    tiles = rng.choice(np.array([(200, 40, 60), (30, 90, 160), (240, 240, 235), (60, 140, 70), (20, 20, 25)],
                                np.uint8), size=(40, 100))
    pattern = cv2.resize(tiles, (800, 320), interpolation=cv2.INTER_NEAREST)
    sale = paint_text(pattern, (250, 130), "HOT SALE", synthetic.font("sans", 40), (250, 210, 0))
    x0, y0, x1, y1 = (int(round(v)) for v in sale.box)
    box = np.zeros(pattern.shape[:2], bool)
    box[y0:y1, x0:x1] = True
    mask, how = stroke_mask(sale.image, box, 4)
    assert how == "ink strokes", how
    assert mask[sale.mask].mean() > 0.99, mask[sale.mask].mean()      # every pixel the text changed
    assert mask[box].mean() < 0.9, mask[box].mean()                    # the box fallback: all of it


def still_life(xy: tuple[int, int]):
    """A small jar on a light table with a dark print ``SUMMER 1988`` at ``xy``, and a segmenter that
    loses the jar once the print is painted out, and with it in finds the jar and the print's own ink
    (as the classical segmenter is pulled onto a logo left in): (image, print, segmenter)."""
    rng = np.random.default_rng(3)
    image = np.clip(rng.normal(232, 2.0, (512, 512, 3)), 0, 255).astype(np.uint8)     # the table
    jar = np.zeros((512, 512), np.uint8)
    cv2.ellipse(jar, (256, 330), (110, 120), 0, 0, 360, 1, -1)
    image[jar > 0] = (196, 140, 84)
    image = woven(image, jar > 0)
    printed = paint_print(image, xy, "SUMMER 1988", synthetic.font("sans_bold", 34), (20, 40, 90), blur_px=1.1)

    class LosesTheJar:
        name = "loses-the-jar"

        def segment(self, small):
            h, w = small.shape[:2]
            ink = small.astype(np.int16).sum(-1) < 250
            if ink.sum() <= 20:
                return np.zeros((h, w), bool)
            return (cv2.resize(jar, (w, h), interpolation=cv2.INTER_NEAREST) > 0) | cv2.dilate(
                ink.view(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)

    return printed, LosesTheJar()


def test_a_print_reaching_off_a_small_product_stays_when_painting_it_out_loses_the_product(engines):
    """A still life: a small jar on a light table, a brand print over the top of its lid that reaches
    onto the table. The classical segmenter can lose such a product altogether once the print is
    painted out (dev2's candle: its mask went to a banner's fill instead); the print is then 0% on the
    product and reaches onto the backdrop, and was taken for an overlay. Located with the print left in,
    the product covers it: it stays, untouched, while promo text beside it still goes."""
    printed, segmenter = still_life((120, 200))
    promo = paint_text(printed.image, (300, 470), "包邮", synthetic.font("cjk", 30), (250, 210, 0))
    result = remove_overlay_text(promo.image, engines["ocr"], engines["inpaint"], segmenter, SA)
    found = _reading(result, "SUMMER")
    assert found and found[0]["rendering"] == "printed" and found[0]["crosses_backdrop"], result.report["text"]
    assert found[0]["decision"] == "kept", found
    assert _reading(result, "包邮")[0]["decision"] == "removed"
    assert np.array_equal(result.cleaned[printed.mask & ~promo.mask], promo.image[printed.mask & ~promo.mask])


def test_text_at_the_photos_edge_is_not_looked_at_again_with_it_left_in(engines):
    """The same text in the photo's corner, where credits and watermarks sit: left in, it would pull the
    segmenter's mask onto itself (dev2's "WCFW" event mark), so it is judged on the mask made with it
    painted out, and goes as reaching onto the backdrop."""
    printed, segmenter = still_life((12, 10))
    result = remove_overlay_text(printed.image, engines["ocr"], engines["inpaint"], segmenter, SA)
    found = _reading(result, "SUMMER")
    assert found and found[0]["decision"] == "removed", result.report["text"]
    assert found[0]["why"] == "reaching off the product onto the backdrop", found
