"""Step 3 of the clean stage: keep or remove each text finding, a pure function of its facts.

:func:`decide` applies the rules below in this order; the first that fires is the decision and
its reason (``why`` in ``clean.json``):

1. policy ``remove_all`` -> removed;
2. a tiled watermark (:func:`tiled_watermarks`) -> removed;
3. promo text (the lexicon, ``always_remove``, the market's ``clean_promo``) -> removed, wherever it is;
4. text in one of the market's ``strip_languages`` rendered like an overlay (flat ink, crisp edges,
   level baseline) -> removed, wherever it is (the same language printed on the product stays);
4b. a size run (3 or more letter sizes in order, ``S M L XL XXL``: the sizes a supplier offers) read with
   confidence, reaching off the product onto the backdrop or rendered like an overlay -> removed (a
   size label or hang tag names one size and lies on the product; a size run printed there stays);
5. reaching off the product onto the backdrop, read with confidence -> removed, unless it is
   rendered like a print and partly on the product (a brand print the product mask cut short);
6. at least ``product_text_inside`` of it on the product, or on the garment by human parsing
   -> kept (product text);
7. an unsure reading at least 15% on the product, or rendered like a print and not reaching onto
   the backdrop (a print the product mask missed, read badly) -> kept, not touched;
8. rendered like a print and at least 15% on the product -> kept (keep when unsure);
9. read with confidence and clear of the open backdrop, box and surroundings (less than 5% of them):
   on something the product mask missed -> kept (keep when unsure);
10. anything else -> removed (outside the product).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from catloc.engines.base import TextRegion
from catloc.tasks.clean.options import CleanOptions

COMPOSITED, PRINTED, UNMEASURED = "composited", "printed", "unmeasured"


@dataclass(frozen=True)
class Finding:
    """The facts about one text region that the decision rests on."""

    text: str
    score: float
    """OCR confidence 0..1."""
    inside: float
    """Share 0..1 of its box on the product (for an unsure reading: the larger of that and its
    share on the product's main body located with the reading left in place)."""
    tiled: bool = False
    """Part of a tiled watermark."""
    promo: str = ""
    """What promo pattern it matches (``price``, ``shop``, ``url``, ...; ``""``: none)."""
    crosses_backdrop: bool = False
    """Laid over the photo: its box shows open backdrop, or its plate's surroundings run off the product."""
    unsure: bool = False
    """Read with less confidence than ``protect_below_score`` (and neither promo nor tiled)."""
    has_plate: bool = False
    """Sits on a plate (banner, sticker) that goes with it; never for an unsure reading."""
    stripped: str = ""
    """The first of the market's ``strip_languages`` its script is in (``""``: none)."""
    rendering: str = UNMEASURED
    """``composited`` (flat ink, crisp edges, level baseline), ``printed`` (any cue of a photographed
    print) or ``unmeasured`` (too small or too faint to tell)."""
    on_garment: float | None = None
    """Share 0..1 of its box on the garments and accessories of a human parsing (``None``: no parser)."""
    size_run: bool = False
    """A run of 3 or more letter sizes in order (:func:`~tasks.clean.lexicon.is_size_run`)."""
    around_backdrop: float = 1.0
    """Share 0..1 of its box and the ring around it (half its height wide) that is open backdrop."""


@dataclass(frozen=True)
class Decision:
    """Keep or remove one finding, and why (the rule that fired, as written in ``clean.json``)."""

    keep: bool
    reason: str
    protect: bool = False
    """Kept product text read with confidence: no removal mask may cover its pixels."""


def decide(finding: Finding, options: CleanOptions) -> Decision:
    """Keep or remove ``finding`` under ``options`` (see the module docstring for the rules)."""
    inside, printed = finding.inside, finding.rendering == PRINTED
    if options.policy == "remove_all":
        return Decision(False, "policy remove_all")
    if finding.tiled:
        return Decision(False, "tiled watermark (repeated across the photo)")
    if finding.promo:
        return Decision(False, f"promo text ({finding.promo})")
    if finding.stripped and finding.rendering == COMPOSITED:
        return Decision(False, f"{finding.stripped} text composited over the photo (flat ink, crisp edges, level)")
    if finding.size_run and not finding.unsure and (finding.crosses_backdrop or finding.rendering == COMPOSITED):
        where = "reaching onto the backdrop" if finding.crosses_backdrop else "composited over the photo"
        return Decision(False, f"size run (the sizes on offer) {where}")
    if finding.crosses_backdrop and not finding.unsure and not (printed and inside >= 0.15):
        return Decision(False, "reaching off the product onto the backdrop")
    if inside >= options.product_text_inside:
        return Decision(True, f"inside the product ({inside:.0%})", protect=not finding.unsure)
    garment = finding.on_garment or 0.0
    if garment >= options.product_text_inside:
        return Decision(True, f"on the garment by human parsing ({garment:.0%})", protect=not finding.unsure)
    if finding.unsure and max(inside, garment) >= 0.15:
        return Decision(True, f"unsure reading ({finding.score:.2f}) over the product ({inside:.0%}): not touched")
    if finding.unsure and printed and not finding.crosses_backdrop:
        return Decision(True, f"unsure reading ({finding.score:.2f}) rendered like a print: not touched")
    if printed and max(inside, garment) >= 0.15:
        return Decision(True, f"printed on the product ({inside:.0%} inside the product mask): kept when unsure",
                        protect=not finding.unsure)
    if not finding.unsure and finding.around_backdrop < 0.05:
        return Decision(True, f"on the photo's subject, clear of the open backdrop ({inside:.0%} inside the "
                              "product mask): kept when unsure", protect=True)
    return Decision(False, f"outside the product ({inside:.0%} inside)")


def is_unsure(score: float, promo: bool, tiled: bool, options: CleanOptions) -> bool:
    """Whether a reading is too unsure to repaint product pixels on: below ``protect_below_score``
    and neither promo text nor part of a tiled watermark (those go whatever they overlap)."""
    return score < options.protect_below_score and not promo and not tiled


def tiled_watermarks(texts: list[TextRegion], insides: list[float], min_repeats: int = 3) -> set[int]:
    """Indices of text regions that belong to a tiled watermark.

    A tiled watermark repeats one string across the photo in one size and at one angle, so OCR reads
    it, or overlapping pieces of it, several times. Two readings are pieces of one string when they
    share a run of at least 2 CJK or 4 other characters that is at least half of the shorter
    one (:func:`_shared_run`; "ing" shared by "Whitening" and "Anti-aging" is not enough), their
    boxes are about as tall (within 1.35 x) and, where both are words rather than single characters
    (:func:`text_direction`), run the same way (within 12 degrees: the shop's name on a level banner
    is no tile of the same name laid diagonally over the photo). A reading linked so to at least
    ``min_repeats - 1`` others forms a group; a group is a watermark when at least one of its members lies on the
    backdrop (``insides`` below 0.5: a monogram printed only on the product is left alone).
    """
    keys = [re.sub(r"\s+", "", t.text).lower() for t in texts]
    heights = [text_height(t.polygon) for t in texts]
    directions = [text_direction(t.polygon) for t in texts]

    def linked(i: int, j: int) -> bool:
        tall = max(heights[i], heights[j]) <= 1.35 * min(heights[i], heights[j]) + 1.0
        a, b = directions[i], directions[j]
        turned = a is not None and b is not None and abs((a - b + 90.0) % 180.0 - 90.0) > 12.0
        return tall and not turned and _shared_run(keys[i], keys[j])

    tiled: set[int] = set()
    for i in range(len(texts)):
        group = [j for j in range(len(texts)) if keys[i] and linked(i, j)]
        if len(group) >= min_repeats and any(insides[j] < 0.5 for j in group):
            tiled.update(group)
    return tiled


def _shared_run(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` share a run of characters of at least 2 CJK or 4 others that is at
    least half as long as the shorter of them."""
    best = ""
    for i in range(len(a)):
        for j in range(i + len(best) + 1, len(a) + 1):
            if a[i:j] in b:
                best = a[i:j]
            else:
                break
    need = 2 if any(ord(c) > 0x2E80 for c in best) else 4
    return len(best) >= need and 2 * len(best) >= min(len(a), len(b))


def text_height(polygon: np.ndarray) -> float:
    """The shorter side (px) of the minimum-area rectangle around ``polygon`` ((N, 2) px): a text's
    height, turned or not; 0.0 for fewer than 3 points."""
    points = np.asarray(polygon, np.float32).reshape(-1, 2)
    if len(points) < 3:
        return 0.0
    return float(min(cv2.minAreaRect(points.reshape(-1, 1, 2))[1]))


def text_direction(polygon: np.ndarray) -> float | None:
    """The angle (degrees, -90..90, image y down) of a reading's top edge, its first two corners of
    ``polygon`` ((4, 2) px, clockwise from the top left as OCR gives them); ``None`` when the box is no
    longer than 1.5 x its height (a single character: its direction is not to be told)."""
    points = np.asarray(polygon, np.float32).reshape(-1, 2)
    if len(points) != 4:
        return None
    along, across = np.linalg.norm(points[1] - points[0]), np.linalg.norm(points[3] - points[0])
    if along < 1.5 * max(across, 1.0):
        return None
    dx, dy = points[1] - points[0]
    return float((np.degrees(np.arctan2(dy, dx)) + 90.0) % 180.0 - 90.0)
