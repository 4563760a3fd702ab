"""QC of generative candidates: fidelity in the pixels each one kept, the seam colour shift, and
modesty checked by a parse engine (a stub parser here, returning the drawn photo's exact parsing)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from catloc.engines.base import PARTS, Parsing
from catloc.outputs import Analysis, Candidate
from catloc.tasks.modesty import bare_share, modesty_findings, modesty_rules
from catloc.tasks.qc import check_modesty, score_candidate
from tests.synth_person import person_photo

SA_MODESTY = {"cover_arms": True, "cover_legs": True, "hijab": "required"}
WOMAN = {"id": "f", "gender": "female", "hijab": True}
MAN = {"id": "m", "gender": "male"}


class StubParser:
    """A parse engine returning a given parsing, whatever the image."""

    name = "stub"

    def __init__(self, parsing: Parsing):
        self.parsing = parsing

    def parse(self, image):
        return self.parsing


def _covered(parsing: Parsing) -> Parsing:
    """The same person with sleeves to the wrist (arms become upper clothes) and a hijab (hair
    becomes a scarf)."""
    labels = parsing.labels.copy()
    labels[parsing.mask("arms")] = PARTS.index("upper_clothes")
    labels[parsing.mask("hair")] = PARTS.index("scarf")
    return Parsing(labels)


def test_modesty_rules_follow_the_market_and_persona():
    assert modesty_rules(SA_MODESTY, WOMAN) == [("arms", "bare arms"), ("legs", "bare legs"), ("hair", "uncovered hair")]
    assert modesty_rules(SA_MODESTY, MAN) == [("arms", "bare arms"), ("legs", "bare legs")]
    assert modesty_rules(SA_MODESTY, {"id": "f2", "gender": "female"}) == modesty_rules(SA_MODESTY, WOMAN)
    assert modesty_rules({"hijab": "optional"}, {"id": "f2", "gender": "female"}) == []
    assert modesty_rules({}, WOMAN) == [("hair", "uncovered hair")]     # a persona drawn with a hijab
    assert modesty_rules({"cover_arms": True}, None) == [("arms", "bare arms")]


def test_bare_arms_and_hair_fail_covered_ones_pass():
    _, parsing = person_photo(160, 96)
    rules = modesty_rules(SA_MODESTY, WOMAN)
    assert bare_share(parsing, "arms") > 0.03 and bare_share(parsing, "hair") > 0.01
    found = modesty_findings(parsing, rules, 0.03, 0.01)
    assert [f.split(" on ")[0] for f in found] == ["modesty: bare arms", "modesty: uncovered hair"]
    assert modesty_findings(parsing, rules, 0.2, 0.2) == []                     # under the limits
    assert modesty_findings(_covered(parsing), rules, 0.03, 0.01) == []
    assert modesty_findings(Parsing(np.zeros((8, 8), np.uint8)), rules, 0.03, 0.01) == []   # nobody shown


def _scored(kind: str, persona: str = "f"):
    from catloc.outputs import ScoredCandidate
    return ScoredCandidate(candidate_id="c02", image="c02.png", kind=kind, persona=persona, qc_pass=True,
                           qc_reasons="")


@pytest.fixture
def sa_like(market):
    return replace(market, modesty=SA_MODESTY, personas=[WOMAN, MAN])


def test_check_modesty_fails_with_a_parser_and_warns_without(sa_like, cfg):
    image, parsing = person_photo(160, 96)
    failed = check_modesty(_scored("model_swap"), image, StubParser(parsing), sa_like, cfg.qc)
    assert not failed.qc_pass and "modesty: bare arms" in failed.qc_reasons and "uncovered hair" in failed.qc_reasons
    man = check_modesty(_scored("model_swap", "m"), image, StubParser(parsing), sa_like, cfg.qc)
    assert not man.qc_pass and "uncovered hair" not in man.qc_reasons
    covered = check_modesty(_scored("model_swap"), image, StubParser(_covered(parsing)), sa_like, cfg.qc)
    assert covered.qc_pass and covered.qc_reasons == ""
    unchecked = check_modesty(_scored("scene_swap", ""), image, None, sa_like, cfg.qc)
    assert unchecked.qc_pass and unchecked.qc_reasons == "modesty not checked: no parse engine (engines.parse)"
    assert check_modesty(_scored("studio", ""), image, StubParser(parsing), sa_like, cfg.qc).qc_pass   # not generative


def test_fidelity_is_measured_in_the_kept_pixels_and_the_seam_shift_is_checked(engines, cfg):
    image, parsing = person_photo(160, 96)
    product = parsing.mask("person")
    garment = parsing.product_mask() & product
    swapped = image.copy()
    swapped[product & ~garment] = (90, 60, 40)                  # a new face, hair and skin
    analysis = Analysis("mask.png", product_share=float(product.mean()), mask_confidence=1.0)
    qc_cfg = dict(cfg.qc, min_output_side=64)
    candidate = Candidate("c02", "c02.png", kind="model_swap", meta={"seam_colour_shift": 3.0})
    ok = score_candidate(swapped, candidate, image, garment, analysis, engines["ocr"], qc_cfg, "keep_product_text")
    assert ok.product_fidelity == 1.0 and "fidelity" not in ok.qc_reasons and "seam" not in ok.qc_reasons
    in_product = score_candidate(swapped, candidate, image, product, analysis, engines["ocr"], qc_cfg,
                                 "keep_product_text")
    assert in_product.product_fidelity < 0.995 and "product changed" in in_product.qc_reasons
    recoloured = swapped.copy()
    recoloured[garment] = recoloured[garment] // 2              # the garment itself changed
    bad = score_candidate(recoloured, candidate, image, garment, analysis, engines["ocr"], qc_cfg, "keep_product_text")
    assert not bad.qc_pass and "product changed" in bad.qc_reasons
    halo = replace(candidate, meta={"seam_colour_shift": 30.0})
    seam = score_candidate(swapped, halo, image, garment, analysis, engines["ocr"], qc_cfg, "keep_product_text")
    assert not seam.qc_pass and "seam colour shift 30.0 > 12.0" in seam.qc_reasons
