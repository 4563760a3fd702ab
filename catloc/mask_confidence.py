"""How far a product mask can be trusted for a cut-out, from the photo and the mask alone.

A cut-out is only as good as its mask: the model's hair without the model, a body whose head is
cut away, a white shirt with its white parts missing, the studio floor kept beside the feet. None of
these show in the product's own pixels (they are carried over exactly), so they are judged here,
the way a reviewer would look at the outline. Each measure gives a *goodness* 0..1 (1 below its
``ok`` level, 0 beyond its ``bad`` level, linear between); the confidence is their product (one
clear fault or several slight ones both pull it down), and every measure below 1 adds a reason:

``outline_contrast``
    share of the outline (photo edges excluded) along which the colours just inside and just
    outside the mask hardly differ: a cut through a smooth region (a face, white fabric) rather
    than along the product's edge;
``smooth_run``
    the longest stretch of such outline, relative to the product's size (a whole face cut off
    makes one long stretch; scattered low-contrast spots along a pale garment do not);
``debris``
    pieces apart from the product that are small (less than 15% of the largest piece each: specks
    of backdrop, a leftover watermark) or touch the photo's edge (a strip of floor). Other large
    separate pieces (a pair of shoes) are products;
``holes``
    holes inside the product whose colour is not the backdrop's (a ring's hole shows the backdrop,
    a white print dropped from a shirt does not);
``left_out``
    foreground next to the mask but outside it: colours far from the backdrop model (12 Lab, or
    3 on a flat backdrop whose noise is under 1.5; shadows excepted) touching the mask — the face under a hair-only mask, the legs under a cut body;
``bays``
    pixels left out in the mask's bays (its convex hull, 2 px off the outline) that are not backdrop, however faintly (2.5 x its noise, at least 2.5 Lab;
    shadows excepted): the white parts of a white garment on white paper are a few levels off the
    paper, the backdrop seen between arm and body is not;
``cut_off``
    the part of it in pieces that share at least a quarter of their own outline with the mask:
    something cut off the product along a line (half a head), however small;
``backdrop_kept``
    backdrop inside the mask: smooth pixels of the backdrop's colour, or of its hue and lighter
    (a lit floor, a bright halo), or cast shadows, reached from the outline;
``share``
    the share of the photo the mask covers: most of it means the backdrop went with the product;
``edges``
    photo edges the mask runs along (at least 5% of a side): a tall model runs along the top and
    the bottom (0.85); two edges of which one is a side are less sure (0.75: a rock, a floor, a
    sleeve running out); three or four mean the backdrop went with the product;
``side_contact``, ``span_contact``
    the share of a side edge (left, right) or of the top or bottom edge the mask runs along: a
    model is cut by the bottom edge, not by a third of the left one, and no product spans the whole
    bottom edge the way a table does;
``strips``
    thin strips of the mask (what a 7 px disc cannot fit in) that reach the photo's edge: a floor
    line or a table edge taken along;
``rim``
    at the photo's own size, the share of the mask's outer band (6 px at 1024 px) whose colour is
    nearer the mean colour just outside than the mean colour further inside, where those two differ
    (by more than 15 Lab): a halo of wall around hair, the white reflection under a shoe, a floor
    patch under a bag, a translucent hem showing the paper;
``busy_backdrop``
    a backdrop whose colours are too varied to model (a street, a brick wall): ``left_out`` and
    ``backdrop_kept`` cannot be measured, and the cut-out is less sure;

and, given a human parsing of the photo (:class:`catloc.engines.base.Parsing`, optional):
``person_cut`` (face and hair left out of a mask that takes part of the person; the person cut
elsewhere counts half) and ``garment_missing`` (garment pixels left out).

Everything runs at ``work_side`` px; deterministic, no weights.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from catloc.backdrop import Backdrop, cast_shadows, fit_backdrop, lit_like, local_std
from catloc.engines.base import Parsing
from catloc.imaging import bbox_window, dilate, erode, fill_holes, resize_longest, resize_mask

# measure -> (ok, bad) levels of its value; goodness falls linearly from 1 at ok to 0 at bad
LEVELS: dict[str, tuple[float, float]] = {
    "outline_contrast": (0.20, 0.55),    # share of the outline with low contrast
    "smooth_run": (0.35, 1.0),           # longest low-contrast stretch / the product's diameter
    "bays": (0.02, 0.08),                # non-backdrop pixels in the mask's bays, outside it / its area
    "debris": (0.004, 0.03),             # area of the small pieces / the product's area
    "holes": (0.01, 0.06),               # area of non-backdrop holes / the product's area
    "left_out": (0.04, 0.20),            # foreground touching the mask, outside it / the product's area
    "cut_off": (0.004, 0.02),            # foreground pieces sharing a long border with the mask / its area
    "backdrop_kept": (0.03, 0.15),       # backdrop reached from the outline, inside it / the product's area
    "person_cut": (0.03, 0.15),          # with a parsing: face and hair (and half the rest) left out
    "garment_missing": (0.02, 0.10),     # with a parsing: share of the garment left out
    "share": (0.65, 0.85),               # share of the photo the mask covers
    "side_contact": (0.22, 0.40),        # the longest run along the left or right edge / that edge
    "span_contact": (0.70, 0.95),        # the longest run along the top or bottom edge / that edge
    "strips": (0.003, 0.02),             # thin strips of the mask that reach the photo edge / its area
    "rim": (0.40, 0.60),                 # share of the outline band whose colour is the outside's, not the inside's
}
LOW_CONTRAST = 10.0      # Lab distance between the colours either side of the outline
FLAT_NOISE = 1.5         # backdrop noise (Lab) below which the backdrop is flat: faint foreground counts
BUSY_NOISE = 45.0        # backdrop noise (Lab) above which the backdrop cannot be modelled
BUSY_GOODNESS = 0.5      # the confidence of a cut-out on a busy backdrop is at most this
EDGE_GOODNESS = {0: 1.0, 1: 1.0, 2: 0.85, 3: 0.4, 4: 0.1}   # by the number of photo edges run along
SIDE_PAIR_GOODNESS = 0.75  # two edges of which one is the left or right: cut by a side as well as another edge

REASONS = {
    "outline_contrast": "outline runs through smooth regions ({:.0%} of it; face? white fabric?)",
    "bays": "parts left out inside the product's silhouette ({:.1%} of its area): white parts missing?",
    "smooth_run": "one stretch of the outline cuts a smooth region ({:.0%} of the product's size: face? white fabric?)",
    "debris": "fragments: small pieces apart from the product ({:.1%} of its area)",
    "holes": "holes in the product that are not backdrop ({:.1%} of its area: missing parts?)",
    "left_out": "foreground left out beside the mask ({:.0%} of the product's area: head, limbs, parts?)",
    "cut_off": "a piece cut off along the outline ({:.1%} of the product's area: half a head? a sleeve?)",
    "backdrop_kept": "backdrop kept inside the mask ({:.0%} of its area: floor, halo, shadow?)",
    "person_cut": "cuts the person: {:.0%} of the face/hair (or of the body) left out",
    "garment_missing": "garment missing: {:.0%} of the garment left out",
    "share": "the mask covers {:.0%} of the photo: backdrop kept?",
    "side_contact": "runs along {:.0%} of a side edge of the photo: backdrop kept?",
    "span_contact": "spans {:.0%} of the top or bottom edge of the photo: floor or table kept?",
    "strips": "thin strips run to the photo's edge ({:.1%} of its area: a floor line, a table edge?)",
    "rim": "a rim of backdrop along the outline ({:.0%} of it looks like the outside: halo, reflection, shadow?)",
}


@dataclass
class MaskConfidence:
    """The confidence 0..1 of a product mask, why it is below 1, and the measures behind it."""

    score: float
    reasons: list[str] = field(default_factory=list)
    measures: dict[str, Any] = field(default_factory=dict)


def goodness(value: float, ok: float, bad: float) -> float:
    """1.0 at or below ``ok``, 0.0 at or beyond ``bad``, linear between."""
    return float(np.clip((bad - value) / (bad - ok), 0.0, 1.0))


def mask_confidence(image: np.ndarray, mask: np.ndarray, parsing: Parsing | None = None, work_side: int = 512) -> MaskConfidence:
    """The :class:`MaskConfidence` of ``mask`` (bool (H, W)) as the product of ``image`` (RGB uint8
    (H, W, 3)); ``parsing`` an optional :class:`~catloc.engines.base.Parsing` of the image. The
    measures are those of the module docstring."""
    if not mask.any():
        return MaskConfidence(0.0, ["no product found"], {"share": 0.0})
    small, _ = resize_longest(image, work_side)
    m = resize_mask(mask, small.shape[:2])
    if m.sum() < 16:
        return MaskConfidence(0.0, ["the product is a speck"], {"share": float(mask.mean())})
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    model = fit_backdrop(lab, max(2, int(round(0.03 * min(lab.shape[:2])))))
    values = outline_measures(lab, m)
    values.update(region_measures(lab, m, model))
    values["share"] = float(mask.mean())
    values["rim"] = rim_share(image, mask)
    if parsing is not None:
        values.update(parsing_measures(parsing, mask))
    scores = {name: goodness(values[name], *LEVELS[name]) for name in LEVELS if name in values}
    scores["edges"] = EDGE_GOODNESS[len(values["edges"])]
    if len(values["edges"]) == 2 and {"left", "right"} & set(values["edges"]):
        scores["edges"] = SIDE_PAIR_GOODNESS
    if model.noise > BUSY_NOISE:
        scores["busy_backdrop"] = BUSY_GOODNESS
    reasons = [REASONS[name].format(values[name]) for name, g in scores.items() if g < 1 and name in REASONS]
    if scores["edges"] < 1:
        reasons.append(f"runs along {len(values['edges'])} photo edges ({', '.join(values['edges'])}): backdrop kept?")
    if "busy_backdrop" in scores:
        reasons.append(f"busy backdrop (noise {model.noise:.0f} Lab): the cut-out cannot be checked against it")
    measures = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in values.items()}
    measures["backdrop_noise"] = round(model.noise, 2)
    return MaskConfidence(round(float(np.prod(list(scores.values()))), 3), reasons, measures)


def outline_measures(lab: np.ndarray, mask: np.ndarray, radius: int = 4) -> dict[str, Any]:
    """``outline_contrast`` and ``smooth_run`` of the module docstring, plus ``edges`` (the photo
    edges the mask runs along for >= 5% of the side). Contrast at an outline pixel: the Lab distance
    between the mean colours of the mask and of the rest within ``radius`` px of it; outline pixels
    on the photo's edge are left out (a product cut by the frame has no outline there)."""
    h, w = mask.shape
    edges = [name for name, strip, length in (("top", mask[0], w), ("bottom", mask[-1], w),
                                               ("left", mask[:, 0], h), ("right", mask[:, -1], h))
             if strip.sum() >= 0.05 * length]
    contact = {"side_contact": max(mask[:, 0].mean(), mask[:, -1].mean()),
               "span_contact": max(mask[0].mean(), mask[-1].mean())}
    k = (2 * radius + 1, 2 * radius + 1)
    inside = mask.astype(np.float32)
    mean_in = cv2.blur(lab * inside[..., None], k) / np.maximum(cv2.blur(inside, k), 1e-3)[..., None]
    mean_out = cv2.blur(lab * (1 - inside)[..., None], k) / np.maximum(cv2.blur(1 - inside, k), 1e-3)[..., None]
    contrast = np.linalg.norm(mean_in - mean_out, axis=-1)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    low_total, n_total, longest = 0, 0, 0
    for contour in contours:
        pts = contour[:, 0, :]
        inner = (pts[:, 0] > 0) & (pts[:, 0] < w - 1) & (pts[:, 1] > 0) & (pts[:, 1] < h - 1)
        low = (contrast[pts[:, 1], pts[:, 0]] < LOW_CONTRAST) & inner
        low_total, n_total = low_total + int(low.sum()), n_total + int(inner.sum())
        longest = max(longest, _longest_circular_run(low))
    diameter = 2.0 * np.sqrt(mask.sum() / np.pi)
    return {"outline_contrast": low_total / max(1, n_total), "smooth_run": longest / max(1.0, diameter),
            "edges": edges, "strips": _edge_strips(mask) / float(mask.sum()),
            **{k: float(v) for k, v in contact.items()}}


def rim_share(image: np.ndarray, mask: np.ndarray) -> float:
    """``rim`` of the module docstring: of the mask's outer band (2 x ``px`` wide, ``px`` = 3 at 1024 px),
    where the mean colours of the mask ``3 px``-``6 px`` deep and of the outside ``px``-``3 px`` away
    differ by more than 15 Lab, the share of pixels nearer the outside's (0..1; 0 for no such band)."""
    h, w = mask.shape
    px = max(1, int(round(3 * max(h, w) / 1024)))
    window = bbox_window(mask, 9 * px)
    if window is None:
        return 0.0
    sub = mask[window]
    lab = cv2.cvtColor(image[window], cv2.COLOR_RGB2LAB).astype(np.float32)
    core = (erode(sub, 3 * px) & ~erode(sub, 6 * px)).astype(np.float32)
    out = (dilate(sub, 3 * px) & ~dilate(sub, px)).astype(np.float32)
    k = (12 * px + 1, 12 * px + 1)
    weight_in, weight_out = cv2.blur(core, k), cv2.blur(out, k)
    mean_in = cv2.blur(lab * core[..., None], k) / np.maximum(weight_in, 1e-3)[..., None]
    mean_out = cv2.blur(lab * out[..., None], k) / np.maximum(weight_out, 1e-3)[..., None]
    inner = np.zeros(mask.shape, bool)
    inner[2:-2, 2:-2] = True
    band = sub & ~erode(sub, 2 * px) & inner[window] & (weight_in > 0.02) & (weight_out > 0.02)
    band &= np.linalg.norm(mean_in - mean_out, axis=-1) > 15.0
    if not band.any():
        return 0.0
    nearer_out = np.linalg.norm(lab - mean_out, axis=-1) < np.linalg.norm(lab - mean_in, axis=-1)
    return float(nearer_out[band].mean())


def _edge_strips(mask: np.ndarray) -> float:
    """Area (px) of the mask's thin parts (what an opening with a 7 px disc removes) in pieces that
    touch the photo's edge."""
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0
    thin = mask & ~opened
    n, labels, stats, _ = cv2.connectedComponentsWithStats(thin.astype(np.uint8), connectivity=8)
    h, w = mask.shape
    x, y, bw, bh, area = (stats[1:, i] for i in range(5))
    at_edge = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    long = np.maximum(bw, bh) >= 0.05 * max(h, w)
    return float(area[at_edge & long].sum())


def _longest_circular_run(flags: np.ndarray) -> int:
    """Length of the longest run of True in ``flags`` (N,) bool, read as a closed loop."""
    if flags.all():
        return len(flags)
    if not flags.any():
        return 0
    start = int(np.argmin(flags))                      # begin at a False so no run wraps around
    rolled = np.concatenate([np.roll(flags, -start), [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], rolled])))
    return int((edges[1::2] - edges[0::2]).max()) if len(edges) > 1 else 0


def region_measures(lab: np.ndarray, mask: np.ndarray, model: Backdrop) -> dict[str, float]:
    """``debris``, ``holes``, ``left_out`` and ``backdrop_kept`` of the module docstring (shares of the
    mask's area); the last two are 0 on a busy backdrop, where they cannot be measured."""
    area = float(mask.sum())
    dist, texture = model.distance(lab), local_std(lab)
    shadow = cast_shadows(lab, model, ~mask & (dist <= max(model.noise, 1.5)))
    holes = fill_holes(mask) & ~mask
    hole_product = holes & (dist > max(2.5 * model.noise, 8.0)) & ~shadow
    values = {"debris": _debris(mask) / area, "holes": float(hole_product.sum()) / area, "left_out": 0.0,
              "cut_off": 0.0, "bays": 0.0, "backdrop_kept": 0.0}
    if model.noise > BUSY_NOISE:
        return values
    # on a clean, flat backdrop (retouched studio white) a few Lab already tell fabric from it
    far = (dist > max(2.5 * model.noise, 12.0 if model.noise > FLAT_NOISE else 3.0)) & ~mask & ~shadow
    far = cv2.morphologyEx(far.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    values["left_out"] = float(_regions_touching(far, dilate(mask, 2)).sum()) / area
    values["cut_off"] = _cut_off(far, mask) / area
    unlike = (dist > max(2.5 * model.noise, 2.5)) & ~shadow
    values["bays"] = float((_bays(mask) & unlike).sum()) / area
    smooth = texture <= max(model.texture, 2.0)
    backdrop = mask & smooth & ((dist <= max(1.5 * model.noise, 4.0)) | (lit_like(lab, model) & (dist <= 60.0)))
    backdrop |= mask & cast_shadows(lab, model, ~mask & (dist <= max(model.noise, 1.5)))
    values["backdrop_kept"] = float(_regions_touching(backdrop, mask & ~erode(mask, 1)).sum()) / area
    return values


def _debris(mask: np.ndarray) -> float:
    """Area (px) of the mask's pieces but the largest that are under 15% of it or touch the photo's edge."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return 0.0
    h, w = mask.shape
    x, y, bw, bh, area = (stats[1:, i] for i in range(5))
    at_edge = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    largest = int(np.argmax(area))
    small_or_edge = (area < 0.15 * area[largest]) | at_edge
    small_or_edge[largest] = False
    return float(area[small_or_edge].sum())


def _bays(mask: np.ndarray) -> np.ndarray:
    """The mask's bays (bool (H, W)): its convex hull less the mask grown by 2 px."""
    points = cv2.findNonZero(mask.astype(np.uint8))
    hull = np.zeros(mask.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    return (hull > 0) & ~dilate(mask, 2)


def _cut_off(pieces: np.ndarray, mask: np.ndarray) -> float:
    """Area (px) of the 8-connected ``pieces`` (bool (H, W), outside ``mask``) whose outline lies
    along the mask (within 1 px of it) for at least a quarter of its length."""
    n, labels = cv2.connectedComponents(pieces.astype(np.uint8), connectivity=8)
    if n <= 1:
        return 0.0
    outline = pieces & ~erode(pieces, 1, square=True)
    along = np.bincount(labels[outline & dilate(mask, 1, square=True)], minlength=n)
    length = np.bincount(labels[outline], minlength=n)
    cut = np.flatnonzero((along >= 0.25 * np.maximum(length, 1)) & (length > 0))
    cut = cut[cut > 0]
    return float(np.isin(labels, cut).sum()) if len(cut) else 0.0


def _regions_touching(regions: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The 8-connected regions of ``regions`` (bool (H, W)) with a pixel in ``where``."""
    _, labels = cv2.connectedComponents(regions.astype(np.uint8), connectivity=8)
    touching = np.unique(labels[where & regions])
    return np.isin(labels, touching[touching > 0])


def parsing_measures(parsing: Parsing, mask: np.ndarray) -> dict[str, float]:
    """``person_cut`` and ``garment_missing`` from a human parsing at the mask's size (0 where the
    parsing shows no person / no garment, or the mask takes no part of the person)."""
    labels = parsing.labels
    if labels.shape != mask.shape:
        labels = cv2.resize(labels, (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_NEAREST)
    parsed = Parsing(labels)
    person, garment, head = parsed.mask("person"), parsed.mask("garment"), parsed.mask("face", "hair")
    values = {"person_cut": 0.0, "garment_missing": 0.0}
    if person.sum() and (person & mask).sum() >= 0.2 * person.sum():
        head_out = (head & ~mask).sum() / max(1, head.sum())
        body_out = (person & ~head & ~mask).sum() / max(1, (person & ~head).sum())
        values["person_cut"] = float(max(head_out, 0.5 * body_out))
    if garment.sum():
        values["garment_missing"] = float((garment & ~mask).sum()) / float(garment.sum())
    return values
