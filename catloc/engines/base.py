"""The narrow interfaces every engine implements, one per kind.

An engine is built once per worker process from its ``options`` (see
:func:`catloc.engines.load_engine`) and then called for every image. Images are
``uint8`` RGB arrays of shape (H, W, 3); masks are ``bool`` arrays of shape (H, W).
OCR, segment and generate engines follow a Protocol; inpainters subclass
:class:`BaseInpainter`, which enforces their one promise (only masked pixels change) itself.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from catloc.imaging import composite_masked


class EngineLoadError(RuntimeError):
    """An engine cannot be built (missing weights, bad option). Raised before the run starts."""


@dataclass
class TextRegion:
    """A piece of text found in an image.

    ``polygon`` is a (N, 2) float array of (x, y) pixel corners in image coordinates.
    """

    polygon: np.ndarray
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "score": round(float(self.score), 3),
                "box": [[round(float(x), 1), round(float(y), 1)] for x, y in self.polygon]}


class TextDetector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[TextRegion]:
        """Text regions in ``image`` (RGB uint8), in its pixel coordinates: ``read(image, find(image))``."""

    def find(self, image: np.ndarray) -> list[np.ndarray]:
        """Boxes (polygons, (N, 2) float) that look like text, not read: the cheaper half of ``detect``."""

    def read(self, image: np.ndarray, polygons: list[np.ndarray]) -> list[TextRegion]:
        """Read the text in each box; boxes whose reading is not confident enough are left out."""


class BaseInpainter(ABC):
    """Base of the inpaint engines: :meth:`inpaint` checks its inputs, leaves an empty mask
    alone and writes back only the masked pixels of what the subclass's :meth:`_fill` returns,
    so every pixel outside the mask is bit-for-bit the input's, whatever the model does."""

    name: str

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``image`` with the pixels of ``mask`` filled in.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
        mask : (H, W) bool ndarray
            The pixels to fill (an integer 0/1 mask is taken too).

        Returns
        -------
        filled : (H, W, 3) uint8 ndarray
            A new array; equal to ``image`` outside ``mask`` (a copy of it when ``mask`` is empty).
        """
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{self.name} inpaint: image must be a uint8 (H, W, 3) array, got "
                             f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}")
        mask = np.asarray(mask)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"{self.name} inpaint: mask shape {mask.shape} != image shape {image.shape[:2]}")
        if mask.dtype != bool:
            mask = mask != 0
        if not mask.any():
            return image.copy()
        filled = self._fill(image, mask)
        if filled.shape != image.shape or filled.dtype != np.uint8:
            raise ValueError(f"{self.name} inpaint: the engine returned {filled.dtype} {filled.shape}, "
                             f"expected uint8 {image.shape}")
        return composite_masked(image, filled, mask)

    def quick(self) -> "BaseInpainter":
        """The engine for working copies that are only looked at, never shown (the clean stage paints
        the findings out of a 320-px copy to locate the product): by default the engine itself; an
        engine with costly refinements that only matter to the eye returns itself without them."""
        return self

    @abstractmethod
    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The engine's fill of ``mask`` (non-empty, bool (H, W)) in ``image`` (uint8 (H, W, 3)):
        a uint8 (H, W, 3) array whose masked pixels are used; its other pixels are ignored."""


class Segmenter(Protocol):
    name: str

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Boolean (H, W) mask of the product (garment, goods, and the person or mannequin
        wearing them) in a supplier photo."""


class PromptedSegmenter(Segmenter, Protocol):
    """A segmenter that can be told where the product is (segment-anything). Called with
    neither prompt it falls back on its own documented default prompt, so it is a
    :class:`Segmenter` too."""

    def segment(self, image: np.ndarray, box: tuple[float, float, float, float] | None = None,
                points: np.ndarray | None = None, point_labels: np.ndarray | None = None) -> np.ndarray:
        """Boolean (H, W) mask of the object ``box`` ((x0, y0, x1, y1) px) and/or ``points``
        ((N, 2) float (x, y) px; ``point_labels`` (N,) 1 = on the object, 0 = not on it; all 1
        when omitted) point at, in ``image`` (RGB uint8 (H, W, 3))."""


class SoftSegmenter(Segmenter, Protocol):
    """A segmenter that also gives its per-pixel belief (salient-object / background-removal
    models): ``segment(image)`` is ``alpha(image) > threshold``."""

    def alpha(self, image: np.ndarray) -> np.ndarray:
        """Float32 (H, W) in 0..1: how surely each pixel of ``image`` is the product."""


# Human parsing: the part of a person or outfit each pixel shows. Engines map their model's own
# label names onto these parts; a part a model does not know is simply never set.
PARTS = ("background", "hat", "hair", "sunglasses", "upper_clothes", "dress", "coat", "skirt", "pants",
         "belt", "scarf", "glove", "sock", "left_shoe", "right_shoe", "bag", "face", "neck",
         "left_arm", "right_arm", "left_leg", "right_leg", "torso_skin")
PART_GROUPS: dict[str, tuple[str, ...]] = {
    "garment": ("upper_clothes", "dress", "coat", "skirt", "pants", "belt", "scarf", "hat", "glove", "sock"),
    "accessory": ("sunglasses", "left_shoe", "right_shoe", "bag"),
    "face": ("face",),
    "hair": ("hair",),
    "arms": ("left_arm", "right_arm"),
    "legs": ("left_leg", "right_leg"),
    "skin": ("face", "neck", "left_arm", "right_arm", "left_leg", "right_leg", "torso_skin"),
    "person": PARTS[1:],
}


@dataclass
class Parsing:
    """Per-pixel human parsing of a photo.

    ``labels`` is a (H, W) uint8 array of indices into :data:`PARTS` (0 = background), at the
    photo's own size; ``scores`` optionally the (H, W) float32 confidence 0..1 of each pixel's label.
    """

    labels: np.ndarray
    scores: np.ndarray | None = None

    def mask(self, *names: str) -> np.ndarray:
        """Bool (H, W): pixels whose part is one of ``names`` (parts of :data:`PARTS` or groups
        of :data:`PART_GROUPS`, e.g. ``mask("garment")``, ``mask("arms", "legs")``)."""
        parts = {p for n in names for p in PART_GROUPS.get(n, (n,))}
        unknown = parts - set(PARTS)
        if unknown:
            raise ValueError(f"unknown parsing part(s) {sorted(unknown)} (known: {', '.join(PARTS)}; "
                             f"groups: {', '.join(PART_GROUPS)})")
        return np.isin(self.labels, [PARTS.index(p) for p in parts])

    def product_mask(self, with_person: bool = False) -> np.ndarray:
        """Bool (H, W): what an on-model photo sells. Garments and accessories (the
        ``garment`` and ``accessory`` groups: clothes, hat, scarf, belt, glove, sock, shoes, bag,
        sunglasses); with ``with_person`` also the skin and hair wearing them, i.e. every pixel
        that is not background."""
        if with_person:
            return self.labels != PARTS.index("background")
        return self.mask("garment", "accessory")

    @property
    def has_person(self) -> bool:
        """Whether any skin, hair or face shows: a model (or a part of one), not a flat lay."""
        return bool(self.mask("skin", "hair").any())


class HumanParser(Protocol):
    name: str

    def parse(self, image: np.ndarray) -> Parsing:
        """The :class:`Parsing` of ``image`` (RGB uint8 (H, W, 3)), at its size."""


# How a candidate is made. studio: the cut-out on a painted backdrop (offline); original: the
# cleaned photo itself; scene_swap: the product (and the person wearing it) kept, the background
# regenerated; model_swap: the garment kept, the model's face, hair and skin regenerated as a local
# persona; mannequin_to_model: the garment kept, a model drawn into it in a template pose.
RECIPE_KINDS = ("studio", "original", "scene_swap", "model_swap", "mannequin_to_model")
GENERATIVE_KINDS = ("scene_swap", "model_swap", "mannequin_to_model")


@dataclass
class Recipe:
    """How one candidate is made: the kind, scene, framing and seed chosen from the market profile.

    ``prompt`` and ``negative_prompt`` are the text a generative engine is given (persona,
    scene and modesty terms composed by :func:`catloc.generative.compose_prompt`); the studio
    engine ignores them.
    """

    candidate_id: str
    scene: dict[str, Any]
    fill: float
    placement: str
    aspect: tuple[int, int]
    margin_min: float
    seed: int
    persona: dict[str, Any] | None = None
    kind: str = "studio"    # "original": the cleaned photo in its own framing; others cut the product out
    prompt: str = ""
    negative_prompt: str = ""

    @property
    def label(self) -> str:
        if self.kind == "original":
            return f"original|{self.aspect[0]}:{self.aspect[1]}"
        if self.kind in GENERATIVE_KINDS:
            persona = (self.persona or {}).get("id", "-")
            return f"{self.kind}|{self.scene['id']}|{persona}"
        return f"{self.scene['id']}|{self.placement}|fill={self.fill:.2f}"

    @property
    def cuts_out(self) -> bool:
        """Whether the recipe cuts the product out along its mask (every kind but ``original``)."""
        return self.kind != "original"


@dataclass
class GenerationRequest:
    """One candidate for a generative engine to make from a cleaned photo (source coordinates).

    ``keep`` is the product: its pixels in the result are the cleaned photo's, byte for byte.
    ``regenerate`` is what the model redraws (face, hair, skin, background...); pixels in
    neither mask are the photo's too. The two never overlap (``keep`` wins). ``control`` maps a
    ControlNet's name (``openpose``, ``canny``...) to its condition image, (H, W, 3) uint8 at the
    photo's size. Build requests with :mod:`catloc.generative`.
    """

    recipe: Recipe
    keep: np.ndarray
    regenerate: np.ndarray
    control: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Generated:
    """The in-memory image a generator returns, plus where the product sits in it.

    ``product_mask`` is in candidate coordinates; ``offset`` is the (x, y) position of the
    source image's origin in the candidate, ``scale`` the source-to-candidate scale (1.0 when
    the product's pixels are carried over unchanged).
    """

    image: np.ndarray
    product_mask: np.ndarray
    offset: tuple[int, int]
    scale: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)


class Generator(Protocol):
    name: str
    kinds: tuple[str, ...]      # the recipe kinds it makes (of RECIPE_KINDS): generative ones by generate_batch

    def generate(self, image: np.ndarray, mask: np.ndarray, recipe: Recipe) -> Generated:
        """One localized candidate of the product in ``image`` (masked by ``mask``)."""

    def generate_batch(self, image: np.ndarray, requests: list[GenerationRequest]) -> list[Generated]:
        """One candidate per request, in the requests' order, all from the same cleaned ``image``
        (RGB uint8 (H, W, 3)). A candidate does not depend on which others it is made with."""


class PoseEstimator(Protocol):
    name: str

    def keypoints(self, image: np.ndarray) -> np.ndarray | None:
        """The main person's 18 body keypoints in ``image`` (RGB uint8), OpenPose order
        (:data:`catloc.pose.BODY_KEYPOINTS`): a (18, 2) float32 array of (x, y) px with NaN for
        those not seen; ``None`` when no person is found."""
