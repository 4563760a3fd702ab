"""tasks.clean.decisions.decide: every rule, and their order, on facts alone (no images)."""
import pytest

from catloc.tasks.clean.decisions import Decision, Finding, decide, is_unsure, matches_any, promo_patterns
from catloc.tasks.clean.options import CleanOptions

KEEP = CleanOptions()                       # keep_product_text, product_text_inside 0.85, protect_below 0.8
REMOVE_ALL = CleanOptions(policy="remove_all")


def finding(**facts) -> Finding:
    return Finding(**{"text": "SUMMER", "score": 0.95, "inside": 0.0, **facts})


def test_remove_all_policy_removes_even_product_text():
    assert decide(finding(inside=1.0), REMOVE_ALL) == Decision(False, "policy remove_all")


def test_a_tiled_watermark_is_removed_even_on_the_product():
    assert decide(finding(inside=1.0, tiled=True), KEEP) == \
        Decision(False, "tiled watermark (repeated across the photo)")


def test_promo_text_is_removed_wherever_it_is():
    assert decide(finding(inside=1.0, promo=True), KEEP) == Decision(False, "promo pattern (price, contact, shop)")


def test_text_reaching_onto_the_backdrop_is_removed_though_on_the_product():
    assert decide(finding(inside=0.95, crosses_backdrop=True), KEEP) == \
        Decision(False, "reaching off the product onto the backdrop")


def test_text_inside_the_product_is_kept_and_protected():
    assert decide(finding(inside=0.85), KEEP) == Decision(True, "inside the product (85%)", protect=True)
    assert decide(finding(inside=0.9), CleanOptions(product_text_inside=0.95)).keep is False


def test_an_unsure_reading_is_never_judged_by_reaching_off_the_product():
    unsure = finding(score=0.55, inside=0.9, crosses_backdrop=True, unsure=True)
    assert decide(unsure, KEEP) == Decision(True, "inside the product (90%)", protect=False)


def test_an_unsure_reading_partly_on_the_product_is_not_touched():
    assert decide(finding(score=0.55, inside=0.15, unsure=True), KEEP) == \
        Decision(True, "unsure reading (0.55) over the product (15%): not touched")


def test_an_unsure_reading_mostly_off_the_product_is_removed():
    assert decide(finding(score=0.55, inside=0.1, unsure=True), KEEP) == \
        Decision(False, "outside the product (10% inside)")


def test_confident_text_outside_the_product_is_removed():
    assert decide(finding(inside=0.5), KEEP) == Decision(False, "outside the product (50% inside)")


def test_the_rules_fire_in_order():
    everything = finding(inside=1.0, tiled=True, promo=True, crosses_backdrop=True)
    assert decide(everything, REMOVE_ALL).reason == "policy remove_all"
    assert decide(everything, KEEP).reason.startswith("tiled watermark")
    assert decide(finding(inside=1.0, promo=True, crosses_backdrop=True), KEEP).reason.startswith("promo")


@pytest.mark.parametrize("score, promo, tiled, unsure", [
    (0.79, False, False, True),
    (0.80, False, False, False),
    (0.50, True, False, False),   # promo text goes whatever OCR's confidence
    (0.50, False, True, False),   # so do watermark tiles
])
def test_is_unsure(score, promo, tiled, unsure):
    assert is_unsure(score, promo, tiled, KEEP) is unsure


def test_promo_patterns_are_case_insensitive_searches():
    patterns = promo_patterns([r"wechat", r"[¥￥$]\s*\d"])
    assert matches_any("add WeChat: shop88", patterns) and matches_any("only ¥ 39", patterns)
    assert not matches_any("SUMMER 1988", patterns)
