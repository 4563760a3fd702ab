"""Step 3 of the clean stage: keep or remove each text finding, a pure function of its facts.

:func:`decide` applies the rules below in this order; the first that fires is the decision and
its reason (``why`` in ``clean.json``):

1. policy ``remove_all`` -> removed;
2. a tiled watermark (:func:`tiled_watermarks`) -> removed;
3. a promo pattern (``always_remove``: prices, contact, shop names) -> removed;
4. reaching off the product onto the backdrop, read with confidence -> removed;
5. at least ``product_text_inside`` of it on the product -> kept (product text);
6. an unsure reading at least 15% on the product -> kept, not touched;
7. anything else -> removed (outside the product).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from catloc.engines.base import TextRegion
from catloc.tasks.clean.options import CleanOptions


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
    promo: bool = False
    """Matches one of the ``always_remove`` patterns."""
    crosses_backdrop: bool = False
    """Laid over the photo: its box shows open backdrop, or its plate's surroundings run off the product."""
    unsure: bool = False
    """Read with less confidence than ``protect_below_score`` (and neither promo nor tiled)."""
    has_plate: bool = False
    """Sits on a plate (banner, sticker) that goes with it; never for an unsure reading."""


@dataclass(frozen=True)
class Decision:
    """Keep or remove one finding, and why (the rule that fired, as written in ``clean.json``)."""

    keep: bool
    reason: str
    protect: bool = False
    """Kept product text read with confidence: no removal mask may cover its pixels."""


def decide(finding: Finding, options: CleanOptions) -> Decision:
    """Keep or remove ``finding`` under ``options`` (see the module docstring for the rules)."""
    inside = finding.inside
    if options.policy == "remove_all":
        return Decision(False, "policy remove_all")
    if finding.tiled:
        return Decision(False, "tiled watermark (repeated across the photo)")
    if finding.promo:
        return Decision(False, "promo pattern (price, contact, shop)")
    if finding.crosses_backdrop and not finding.unsure:
        return Decision(False, "reaching off the product onto the backdrop")
    if inside >= options.product_text_inside:
        return Decision(True, f"inside the product ({inside:.0%})", protect=not finding.unsure)
    if finding.unsure and inside >= 0.15:
        return Decision(True, f"unsure reading ({finding.score:.2f}) over the product ({inside:.0%}): not touched")
    return Decision(False, f"outside the product ({inside:.0%} inside)")


def is_unsure(score: float, promo: bool, tiled: bool, options: CleanOptions) -> bool:
    """Whether a reading is too unsure to repaint product pixels on: below ``protect_below_score``
    and neither promo text nor part of a tiled watermark (those go whatever they overlap)."""
    return score < options.protect_below_score and not promo and not tiled


def promo_patterns(patterns: Iterable[str]) -> list[re.Pattern]:
    """The ``always_remove`` regular expressions, compiled case-insensitive."""
    return [re.compile(p, re.IGNORECASE) for p in patterns]


def matches_any(text: str, patterns: list[re.Pattern]) -> bool:
    """Whether ``text`` matches one of ``patterns`` anywhere."""
    return any(p.search(text) for p in patterns)


def tiled_watermarks(texts: list[TextRegion], insides: list[float], min_repeats: int = 3) -> set[int]:
    """Indices of text regions that belong to a tiled watermark.

    A tiled watermark repeats one string across the photo, so OCR reads overlapping pieces
    of it several times. Regions sharing a piece (2 CJK or 3 Latin characters) with at least
    ``min_repeats - 1`` others form a group; a group is a watermark when at least one of its
    members lies on the backdrop (``insides`` below 0.5: a monogram printed only on the product
    is left alone).
    """
    def pieces(text: str) -> set[str]:  # CJK pairs; Latin/digit triples (so "1988" != "8888")
        t = re.sub(r"\s+", "", text).lower()
        pairs = {t[i:i + 2] for i in range(len(t) - 1) if not t[i:i + 2].isascii()}
        return pairs | {t[i:i + 3] for i in range(len(t) - 2) if t[i:i + 3].isascii()}

    grams = [pieces(t.text) for t in texts]
    tiled: set[int] = set()
    for i, gi in enumerate(grams):
        if not gi:
            continue
        group = [j for j, gj in enumerate(grams) if gi & gj]
        if len(group) >= min_repeats and any(insides[j] < 0.5 for j in group):
            tiled.update(group)
    return tiled
