"""tasks.clean.decisions.decide: every rule, and their order, on facts alone (no images); the promo
lexicon and the languages by script (tasks.clean.lexicon); the rendering verdict (tasks.clean.pipeline)."""
import pytest

from catloc.config import LANGUAGES
from catloc.tasks.clean.decisions import COMPOSITED, PRINTED, UNMEASURED, Decision, Finding, decide, is_unsure
from catloc.tasks.clean.lexicon import SCRIPTS, compile_promo, is_size_run, languages, promo_match, promo_on_lines
from catloc.tasks.clean.options import CleanOptions
from catloc.tasks.clean.pipeline import rendering_verdict
from catloc.tasks.clean.rendering import RenderingCues

KEEP = CleanOptions()                       # keep_product_text, product_text_inside 0.85, protect_below 0.8
SA = CleanOptions(strip_languages=("zh",))  # the sa market: Chinese supplier text is suspect
REMOVE_ALL = CleanOptions(policy="remove_all")


def finding(**facts) -> Finding:
    return Finding(**{"text": "SUMMER", "score": 0.95, "inside": 0.0, **facts})


# ---------------------------------------------------------------- the rules, in order
def test_1_remove_all_policy_removes_even_product_text():
    assert decide(finding(inside=1.0), REMOVE_ALL) == Decision(False, "policy remove_all")


def test_2_a_tiled_watermark_is_removed_even_on_the_product():
    assert decide(finding(inside=1.0, tiled=True), KEEP) == \
        Decision(False, "tiled watermark (repeated across the photo)")


def test_3_promo_text_is_removed_wherever_it_is_and_says_what_it_matched():
    assert decide(finding(inside=1.0, promo="price", rendering=PRINTED), KEEP) == Decision(False, "promo text (price)")


def test_4_stripped_language_composited_over_the_product_is_removed():
    shop_name = finding(text="优品男装店", inside=1.0, stripped="zh", rendering=COMPOSITED)
    assert decide(shop_name, SA) == \
        Decision(False, "zh text composited over the photo (flat ink, crisp edges, level)")


def test_4_language_alone_never_erases_a_print():
    for rendering in (PRINTED, UNMEASURED):
        print_ = finding(text="福", inside=1.0, stripped="zh", rendering=rendering)
        assert decide(print_, SA) == Decision(True, "inside the product (100%)", protect=True)


def test_4_a_composited_word_not_in_a_stripped_language_and_no_promo_stays_on_the_product():
    assert decide(finding(inside=1.0, rendering=COMPOSITED), SA).keep


def test_4b_a_size_run_laid_over_the_photo_is_removed_though_it_looks_printed():
    sizes = finding(text="S M L XL XXL", inside=0.6, crosses_backdrop=True, rendering=PRINTED, size_run=True)
    assert decide(sizes, KEEP) == Decision(False, "size run (the sizes on offer) reaching onto the backdrop")
    drawn_on = finding(text="SMLXL", inside=1.0, rendering=COMPOSITED, size_run=True)
    assert decide(drawn_on, KEEP) == Decision(False, "size run (the sizes on offer) composited over the photo")


def test_4b_a_size_run_printed_on_the_product_or_read_unsure_stays():
    hang_tag = finding(text="S M L XL", inside=1.0, rendering=PRINTED, size_run=True)
    assert decide(hang_tag, KEEP) == Decision(True, "inside the product (100%)", protect=True)
    unsure = finding(text="S M L", score=0.6, unsure=True, inside=0.5, crosses_backdrop=True, size_run=True)
    assert decide(unsure, KEEP).keep
    label = finding(text="XL", inside=0.6, crosses_backdrop=True, rendering=PRINTED)  # one size: no size run
    assert decide(label, KEEP).keep


def test_5_text_reaching_onto_the_backdrop_is_removed_though_on_the_product():
    assert decide(finding(inside=0.95, crosses_backdrop=True), KEEP) == \
        Decision(False, "reaching off the product onto the backdrop")
    assert decide(finding(inside=0.95, crosses_backdrop=True, rendering=COMPOSITED), KEEP).keep is False


def test_5_a_print_that_the_product_mask_cut_short_is_not_taken_for_an_overlay():
    vans = finding(text="VANS", inside=0.3, crosses_backdrop=True, rendering=PRINTED)
    assert decide(vans, KEEP) == \
        Decision(True, "printed on the product (30% inside the product mask): kept when unsure", protect=True)
    assert decide(finding(inside=0.1, crosses_backdrop=True, rendering=PRINTED), KEEP).keep is False


def test_5_an_unsure_reading_is_never_judged_by_reaching_off_the_product():
    unsure = finding(score=0.55, inside=0.9, crosses_backdrop=True, unsure=True)
    assert decide(unsure, KEEP) == Decision(True, "inside the product (90%)", protect=False)


def test_6_text_inside_the_product_is_kept_and_protected():
    assert decide(finding(inside=0.85), KEEP) == Decision(True, "inside the product (85%)", protect=True)
    assert decide(finding(inside=0.9), CleanOptions(product_text_inside=0.95)).keep is False


def test_6_text_on_a_parsed_garment_is_kept_though_the_product_mask_missed_it():
    assert decide(finding(inside=0.2, on_garment=0.9), KEEP) == \
        Decision(True, "on the garment by human parsing (90%)", protect=True)


def test_7_an_unsure_reading_partly_on_the_product_is_not_touched():
    assert decide(finding(score=0.55, inside=0.15, unsure=True), KEEP) == \
        Decision(True, "unsure reading (0.55) over the product (15%): not touched")


def test_8_a_print_partly_on_the_product_is_kept_when_unsure():
    assert decide(finding(inside=0.4, rendering=PRINTED), KEEP).reason.startswith("printed on the product (40%")
    assert decide(finding(inside=0.4, rendering=COMPOSITED), KEEP).keep is False


def test_10_anything_else_is_removed():
    assert decide(finding(score=0.55, inside=0.1, unsure=True), KEEP) == \
        Decision(False, "outside the product (10% inside)")
    assert decide(finding(inside=0.5), KEEP) == Decision(False, "outside the product (50% inside)")


def test_the_rules_fire_in_order():
    everything = finding(inside=1.0, tiled=True, promo="shop", crosses_backdrop=True, stripped="zh",
                         rendering=COMPOSITED)
    assert decide(everything, REMOVE_ALL).reason == "policy remove_all"
    assert decide(everything, SA).reason.startswith("tiled watermark")
    assert decide(finding(inside=1.0, promo="url", stripped="zh", rendering=COMPOSITED), SA).reason == \
        "promo text (url)"
    assert decide(finding(inside=0.5, crosses_backdrop=True, stripped="zh", rendering=COMPOSITED), SA).reason \
        .startswith("zh text composited")


@pytest.mark.parametrize("score, promo, tiled, unsure", [
    (0.79, False, False, True),
    (0.80, False, False, False),
    (0.50, True, False, False),   # promo text goes whatever OCR's confidence
    (0.50, False, True, False),   # so do watermark tiles
])
def test_is_unsure(score, promo, tiled, unsure):
    assert is_unsure(score, promo, tiled, KEEP) is unsure


# ---------------------------------------------------------------- the lexicon and languages
@pytest.mark.parametrize("text, what", [
    ("¥39.9", "price"), ("特价 ¥59", "price"), ("US$ 8.50", "price"), ("39元", "price"),
    ("SALE 50% OFF", "discount"), ("50% off", "discount"), ("满200减30", "discount"),
    ("FREE SHIPPING", "promo words"), ("New Arrivals", "promo words"), ("品质保证 假一罚十", "promo words"),
    ("包邮", "promo words"), ("潮流女装旗舰店", "shop"), ("微信: xm88", "contact"), ("WhatsApp +86 138", "contact"),
    ("@shop_88", "handle"), ("+86 138 0000 8888", "phone"), ("www.shop8888.com", "url"), ("http://x.cn", "url"),
    ("HOTVSALE", "promo words"), ("FREE-SHIPPING", "promo words"), ("in stock", "promo words"),  # OCR read the gap
    ("厂家直", "promo words"), ("源头工厂", "promo words"),  # a supplier speaking of itself, read in part
    ("优品男装店", "shop"), ("小美服饰店", "shop"), ("VX: xm2024", "contact"),
])
def test_the_promo_lexicon_knows_supplier_promo_text(text, what):
    assert promo_match(text, compile_promo(True, [])) == what


@pytest.mark.parametrize("text", ["SUMMER 1988", "BALENCIAGA", "EMPORIO ARMANI", "Reebok", "PASSIVE EXISTENCE",
                                  "I DON'T CARE", "KANSAS CITY MO", "NutritionFacts", "NET WT: 100 g", "ROSHEN",
                                  "SPECIALTY COFFEE", "福", "5 DRIP BAGS", "info@brand",
                                  "MADE IN STOCKHOLM", "SHOT SALEM"])
def test_product_words_are_not_promo(text):
    assert promo_match(text, compile_promo(True, [])) == ""


@pytest.mark.parametrize("text, run", [
    ("S M L XL XXL", True), ("SMLXLXXL", True), ("M/L/XL", True), ("XS, S, M", True), ("2XL 3XL 4XL", True),
    ("XL", False), ("S M", False), ("L M S", False), ("SMLL", False), ("LOVE", False), ("SUMMER", False), ("", False),
])
def test_a_size_run_is_three_or_more_letter_sizes_in_order(text, run):
    assert is_size_run(text) is run


def quad(x0, x1, y0=0, y1=30):
    import numpy as np
    return np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def test_a_phrase_ocr_read_as_one_box_per_word_is_promo_in_both():
    patterns = compile_promo(True, [])
    assert promo_on_lines(["FREE", "SHIPPING"], [quad(0, 100), quad(115, 300)], patterns) == \
        ["promo words, with the reading beside it"] * 2
    assert promo_on_lines(["VX:", "xm2024"], [quad(0, 60), quad(70, 200)], patterns) == \
        ["contact", "contact, with the reading beside it"]
    assert promo_on_lines(["HOT", "SALE"], [quad(0, 60), quad(70, 200)], patterns) == \
        ["promo words, with the reading beside it", "discount"]


def test_words_beside_promo_text_stay_what_they_are():
    patterns = compile_promo(True, [])
    assert promo_on_lines(["FREE", "SHIPPING"], [quad(0, 100), quad(115, 300, 200, 230)], patterns) == ["", ""]
    assert promo_on_lines(["FREE", "SHIPPING"], [quad(0, 100), quad(300, 500)], patterns) == ["", ""]  # far apart
    assert promo_on_lines(["FREE", "SHIPPING"], [quad(0, 100, 0, 20), quad(110, 300, 0, 60)], patterns) == ["", ""]
    assert promo_on_lines(["ATHLETIC", "包邮"], [quad(0, 100), quad(110, 160)], patterns) == ["", "promo words"]
    assert promo_on_lines(["VX:", "BROOKLYN"], [quad(0, 60), quad(70, 200)], patterns) == ["contact", ""]
    assert promo_on_lines(["SUMMER", "1988"], [quad(0, 60), quad(70, 200)], patterns) == ["", ""]


def test_the_lexicon_can_be_switched_off_and_extended():
    assert promo_match("¥39", compile_promo(False, [])) == ""
    assert promo_match("Outlet deal", compile_promo(False, [r"outlet"])) == "configured"


def test_languages_are_told_by_script():
    assert set(SCRIPTS) == set(LANGUAGES)
    assert languages("微信: shop88") == ("zh", "en")
    assert languages("¥39.9") == ()
    assert languages("セール") == ("ja",) and languages("세일") == ("ko",) and languages("تخفيض") == ("ar",)


# ---------------------------------------------------------------- the rendering verdict
@pytest.mark.parametrize("cues, verdict", [
    (RenderingCues(0.5, 0.3, 0.0, 200.0), COMPOSITED),
    (RenderingCues(8.0, 0.3, 0.0, 200.0), PRINTED),      # the ink takes shading and grain
    (RenderingCues(0.5, 1.2, 0.0, 200.0), PRINTED),      # soft edges
    (RenderingCues(0.5, 0.3, 6.0, 200.0), PRINTED),      # turned with the garment
    (RenderingCues(None, None, 0.0, 0.0), UNMEASURED),
])
def test_the_rendering_verdict_needs_every_cue_to_say_overlay(cues, verdict):
    assert rendering_verdict(cues, KEEP) == verdict


def test_7_an_unsure_reading_rendered_like_a_print_is_not_touched_though_off_the_product_mask():
    script = finding(text="Bon Appetit", score=0.61, inside=0.0, unsure=True, rendering=PRINTED)
    assert decide(script, KEEP) == Decision(True, "unsure reading (0.61) rendered like a print: not touched")
    assert decide(finding(score=0.61, inside=0.0, unsure=True, rendering=COMPOSITED), KEEP).keep is False
    assert decide(finding(score=0.61, inside=0.0, unsure=True, rendering=PRINTED, crosses_backdrop=True),
                  KEEP).keep is False


def test_a_reading_run_together_from_a_print_and_a_promo_string_is_split():
    import numpy as np
    from catloc.tasks.clean.lexicon import split_mixed
    quad = np.float32([[0, 0], [300, 0], [300, 30], [0, 30]])
    patterns = compile_promo(True, [])
    parts = split_mixed("ATHLETIC 实拍图品质保证", quad, patterns)
    assert [t for t, _ in parts] == ["ATHLETIC", "实拍图品质保证"]
    assert parts[0][1][1, 0] < parts[1][1][0, 0] and parts[1][1][1, 0] == 300  # left part, right part
    assert [t for t, _ in split_mixed("BROOKLYN NEW ARRIVAL", quad, patterns)] == ["BROOKLYN", "NEW ARRIVAL"]
    for whole in ("微信: shop8888", "WhatsApp +86 138 0000 8888", "SUMMER 1988", "包邮 ¥39"):
        assert [t for t, _ in split_mixed(whole, quad, patterns)] == [whole]


def test_9_confident_text_clear_of_the_open_backdrop_is_kept_though_the_product_mask_missed_it():
    reebok = finding(text="Reebok", inside=0.0, rendering=COMPOSITED, around_backdrop=0.01)
    assert decide(reebok, KEEP) == Decision(
        True, "on the photo's subject, clear of the open backdrop (0% inside the product mask): kept when unsure",
        protect=True)
    assert decide(finding(inside=0.0, around_backdrop=0.2), KEEP).keep is False
    assert decide(finding(score=0.6, unsure=True, inside=0.0, around_backdrop=0.0), KEEP).keep is False
    assert decide(finding(inside=0.0, around_backdrop=0.0, stripped="zh", rendering=COMPOSITED), SA).keep is False


def test_packaging_words_sharing_a_suffix_or_a_repeated_brand_in_other_sizes_are_no_watermark():
    import numpy as np
    from catloc.engines.base import TextRegion
    from catloc.tasks.clean.decisions import tiled_watermarks

    def reading(text, height):
        return TextRegion(np.float32([[0, 0], [100, 0], [100, height], [0, height]]), text, 0.95)
    jars = [reading(t, 20) for t in ("Whitening", "And Anti-aging", "Face Cleansing", "MOISTURIZING", "lingfacemask")]
    assert tiled_watermarks(jars, [0.0] * len(jars)) == set()
    brand = [reading("ROSHEN", h) for h in (20, 34, 52)]            # one brand on three boxes of other sizes
    assert tiled_watermarks(brand, [0.0, 1.0, 1.0]) == set()
    marks = [reading(t, 40) for t in ("潮流女装旗舰店", "女装旗舰", "潮流女装", "旗舰店")]
    assert tiled_watermarks(marks, [0.0, 1.0, 1.0, 0.0]) == {0, 1, 2, 3}


def test_pieces_of_a_turned_watermark_of_other_lengths_are_one_group():
    import cv2
    import numpy as np
    from catloc.engines.base import TextRegion
    from catloc.tasks.clean.decisions import tiled_watermarks

    def turned(text, length):   # a box 40 px high, turned by 30 degrees
        box = cv2.boxPoints(((300.0, 300.0), (float(length), 40.0), -30.0))
        return TextRegion(np.float32(box), text, 0.95)
    pieces = [turned("实拍盗图必究", 300), turned("实拍盗图必", 250), turned("盗图必究", 200)]
    assert tiled_watermarks(pieces, [0.0, 1.0, 1.0]) == {0, 1, 2}


def test_a_shop_name_on_a_level_banner_is_no_tile_of_the_same_name_laid_diagonally():
    import numpy as np
    from catloc.engines.base import TextRegion
    from catloc.tasks.clean.decisions import text_direction, tiled_watermarks

    def turned(text, x, y, degrees, length=160, height=40):
        a = np.radians(degrees)
        along, across = np.float32([np.cos(a), np.sin(a)]) * length, np.float32([-np.sin(a), np.cos(a)]) * height
        p0 = np.float32([x, y])
        return TextRegion(np.stack([p0, p0 + along, p0 + along + across, p0 + across]), text, 0.95)
    tiles = [turned("shop8888", x, y, -30) for x, y in ((0, 200), (300, 400), (600, 600))]
    banner = turned("www.shop8888.com", 100, 20, 0, length=400)
    assert round(text_direction(tiles[0].polygon)) == -30 and round(text_direction(banner.polygon)) == 0
    assert tiled_watermarks(tiles + [banner], [0.0] * 4) == {0, 1, 2}
    single = turned("店", 50, 50, 0, length=40)                    # one character: no direction to compare
    assert text_direction(single.polygon) is None
    assert tiled_watermarks([turned("潮流女装店", x, y, -30) for x, y in ((0, 0), (300, 300))] +
                            [turned("女装店", 50, 50, 0, length=50)], [0.0] * 3) == {0, 1, 2}
