"""The generative recipes as masks, control images and prompts: what a generative engine keeps,
what it redraws, and what it is told.

Each builder returns a :class:`~catloc.engines.base.GenerationRequest` in the cleaned photo's
coordinates; the engine (:mod:`catloc.engines.generate_diffusers`) runs them in batches and
composites the kept pixels back. All functions are pure.

- :func:`scene_swap`: keep the product (and the person wearing it), redraw the background from
  a scene prompt; the product's edges go to a ``canny`` ControlNet so the scene does not grow
  into it.
- :func:`model_swap`: keep the garment, redraw face, hair and skin (and what modesty asks to
  cover) as the market's persona, in the photo's pose (``openpose`` ControlNet).
- :func:`mannequin_to_model`: keep the garment, redraw everything else as a person in the
  category's template pose fitted to the garment.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from catloc.engines.base import GenerationRequest, Parsing, Recipe
from catloc.imaging import dilate, erode
from catloc.pose import draw_openpose, fit_template, keypoints_from_parsing

HIJAB_CHOICES = ("required", "optional", "none")
# what each modesty rule adds to the prompt and to the negative prompt
MODESTY_TERMS = {
    "cover_arms": ("long sleeves covering the arms to the wrists", "bare arms, sleeveless, short sleeves"),
    "cover_legs": ("ankle-length clothing, legs fully covered", "bare legs, shorts, short skirt"),
    "high_neckline": ("high neckline", "low neckline, cleavage, bare shoulders"),
}
HIJAB_TERMS = ("wearing a hijab that covers the hair, ears and neck", "visible hair, uncovered hair")


def _join(*parts: str | None) -> str:
    return ", ".join(p.strip() for p in parts if p and p.strip())


def wears_hijab(persona: dict[str, Any] | None) -> bool:
    """Whether a persona is drawn with a hijab (its ``hijab: true``)."""
    return bool(persona and persona.get("hijab"))


def compose_prompt(kind: str, scene: dict[str, Any] | None, persona: dict[str, Any] | None = None,
                   modesty: dict[str, Any] | None = None, negative: str = "") -> tuple[str, str]:
    """(prompt, negative prompt) of one candidate.

    Parameters
    ----------
    kind : str
        The recipe kind; for ``model_swap`` and ``mannequin_to_model`` the persona's prompt and
        the modesty terms come first, then the scene's.
    scene : dict or None
        A market ``scene_prompts`` entry (``prompt``, ``negative_prompt``).
    persona : dict or None
        A market ``personas`` entry (``prompt``, ``negative_prompt``, ``hijab``).
    modesty : dict or None
        The market's ``modesty`` rules: each true rule of :data:`MODESTY_TERMS` adds its terms, a
        persona with ``hijab: true`` adds :data:`HIJAB_TERMS`, ``prompt`` / ``negative_prompt``
        are added as written.
    negative : str
        The market's ``negative_prompt``, added to every candidate.
    """
    scene, modesty = scene or {}, modesty or {}
    if kind not in ("model_swap", "mannequin_to_model"):
        return _join(scene.get("prompt")), _join(scene.get("negative_prompt"), negative)
    persona = persona or {}
    rules = [MODESTY_TERMS[key] for key in MODESTY_TERMS if modesty.get(key)]
    if wears_hijab(persona):
        rules.append(HIJAB_TERMS)
    prompt = _join(persona.get("prompt"), *(r[0] for r in rules), modesty.get("prompt"), scene.get("prompt"))
    negative_prompt = _join(persona.get("negative_prompt"), *(r[1] for r in rules), modesty.get("negative_prompt"),
                            scene.get("negative_prompt"), negative)
    return prompt, negative_prompt


def edge_control(image: np.ndarray, keep: np.ndarray, low: int = 100, high: int = 200, reach_px: int = 2) -> np.ndarray:
    """The product's edges as a canny ControlNet condition.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    keep : (H, W) bool ndarray
        The product.
    low, high : int
        Canny's hysteresis thresholds (on 0..255 grey).
    reach_px : int
        Edges up to this far outside ``keep`` count (the outline itself lies there).

    Returns
    -------
    control : (H, W, 3) uint8 ndarray
        White (255) edge pixels on black: Canny's edges of ``image`` within ``reach_px`` of the
        product, plus the product's outline.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, low, high) > 0
    edges &= dilate(keep, reach_px)
    edges |= keep & ~erode(keep, 1, square=True)
    return np.repeat((edges.astype(np.uint8) * 255)[..., None], 3, axis=2)


def pose_control(keypoints: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The OpenPose skeleton of ``keypoints`` on a (H, W) = ``shape`` canvas (:func:`catloc.pose.draw_openpose`)."""
    return draw_openpose(keypoints, (shape[1], shape[0]))


def scene_swap(image: np.ndarray, keep: np.ndarray, recipe: Recipe) -> GenerationRequest:
    """Keep ``keep`` (the product, and the person wearing it), redraw everything else.

    Control: ``canny`` = :func:`edge_control` of the product.
    """
    keep = np.asarray(keep, bool)
    return GenerationRequest(recipe=recipe, keep=keep, regenerate=~keep,
                             control={"canny": edge_control(image, keep)})


def person_regions(parsing: Parsing, persona: dict[str, Any] | None) -> np.ndarray:
    """What a model swap redraws: face, hair and skin (arms and legs included: covered or bare,
    they are redrawn as the prompt says, so a market's ``cover_arms`` turns bare arms into
    sleeves), grown by 2% of the person's height so a new face or
    hairstyle has room; with a hijab, the head grown by half the face's height as well.

    Returns a (H, W) bool mask in the parsing's coordinates (the garment is taken out later).
    """
    person = parsing.mask("person")
    rows = np.flatnonzero(person.any(axis=1))
    height = int(rows[-1] - rows[0] + 1) if len(rows) else 0
    regions = dilate(parsing.mask("face", "hair", "skin"), max(1, round(0.02 * height)))
    if wears_hijab(persona):
        face_rows = np.flatnonzero(parsing.mask("face").any(axis=1))
        grow = max(2, round(0.5 * (face_rows[-1] - face_rows[0] + 1))) if len(face_rows) else 2
        regions |= dilate(parsing.mask("face", "hair", "neck", "hat"), grow)
    return regions


def model_swap(parsing: Parsing, keep: np.ndarray, recipe: Recipe, keypoints: np.ndarray | None = None) -> GenerationRequest:
    """Keep the garment, redraw the person's face, hair and skin as the recipe's persona.

    Parameters
    ----------
    parsing : Parsing
        The cleaned photo's human parsing (at its size).
    keep : (H, W) bool ndarray
        The garment: usually ``parsing.mask("garment") & product_mask``.
    recipe : Recipe
        Its ``persona`` decides the hijab region; its prompt (:func:`compose_prompt`, with the
        market's modesty terms) says who is drawn and what covers the arms and legs.
    keypoints : (18, 2) ndarray, optional
        The pose from an annotator; else :func:`catloc.pose.keypoints_from_parsing`.

    Control: ``openpose`` = the pose's skeleton.
    """
    keep = np.asarray(keep, bool)
    if keypoints is None:
        keypoints = keypoints_from_parsing(parsing)
    regenerate = person_regions(parsing, recipe.persona) & ~keep
    return GenerationRequest(recipe=recipe, keep=keep, regenerate=regenerate,
                             control={"openpose": pose_control(keypoints, keep.shape)})


def mannequin_to_model(image: np.ndarray, keep: np.ndarray, template: dict[str, Any], recipe: Recipe) -> GenerationRequest:
    """Keep the garment, redraw the mannequin and background as a person wearing it.

    ``template`` is the category's pose template (``pose_templates`` in ``pipeline.yaml``),
    fitted to the garment by :func:`catloc.pose.fit_template`. Control: ``openpose`` = that
    pose's skeleton, ``canny`` = the garment's edges.
    """
    keep = np.asarray(keep, bool)
    pose = fit_template(template, keep)
    return GenerationRequest(recipe=recipe, keep=keep, regenerate=~keep,
                             control={"openpose": pose_control(pose, keep.shape), "canny": edge_control(image, keep)})


# the pose template of a garment by its main parsing part (pipeline.yaml pose_templates keys)
TEMPLATE_PARTS = {"top": ("upper_clothes", "coat"), "dress": ("dress",), "pants": ("pants",), "skirt": ("skirt",)}


def garment_template(parsing: Parsing, keep: np.ndarray, templates: dict[str, Any]) -> str | None:
    """The ``templates`` key (``top``, ``dress``, ``pants``, ``skirt``) of the garment part covering
    most of ``keep`` in ``parsing`` (ties: in that order); ``None`` when no
    such template is configured or ``keep`` holds none of these parts."""
    areas = {name: int((parsing.mask(*parts) & keep).sum()) for name, parts in TEMPLATE_PARTS.items()
             if name in templates}
    best = max(areas, key=lambda name: areas[name], default=None)
    return best if best is not None and areas[best] > 0 else None


def garment_keep(parsing: Parsing, product_mask: np.ndarray) -> np.ndarray:
    """What the person recipes keep: the parsing's garments and accessories inside the product mask."""
    return parsing.product_mask() & np.asarray(product_mask, bool)


def build_request(image: np.ndarray, product_mask: np.ndarray, recipe: Recipe, parsing: Parsing | None = None,
                  templates: dict[str, Any] | None = None, keypoints: np.ndarray | None = None) -> GenerationRequest:
    """The request of a generative ``recipe`` (its ``kind``): :func:`scene_swap` of the product
    mask; :func:`model_swap` (pose ``keypoints`` from a pose engine, else from the parsing) or
    :func:`mannequin_to_model` (the garment's template of ``templates``) of :func:`garment_keep`.
    ValueError when a person recipe has no ``parsing`` or no template fits."""
    if recipe.kind == "scene_swap":
        return scene_swap(image, product_mask, recipe)
    if parsing is None:
        raise ValueError(f"candidate {recipe.candidate_id}: {recipe.kind} needs a human parsing (engines.parse)")
    keep = garment_keep(parsing, product_mask)
    if recipe.kind == "model_swap":
        return model_swap(parsing, keep, recipe, keypoints)
    name = garment_template(parsing, keep, templates or {})
    if name is None:
        raise ValueError(f"candidate {recipe.candidate_id}: no pose template fits the garment "
                         f"(pose_templates: {', '.join(templates or {}) or 'none'})")
    return mannequin_to_model(image, keep, templates[name], recipe)
