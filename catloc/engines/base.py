"""The narrow interfaces every engine implements, one per kind.

An engine is built once per worker process from its ``options`` (see
:func:`catloc.engines.load_engine`) and then called for every image. Images are
``uint8`` RGB arrays of shape (H, W, 3); masks are ``bool`` arrays of shape (H, W).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


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


class Inpainter(Protocol):
    name: str

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``image`` with the ``mask`` pixels filled in. Pixels outside ``mask`` are returned
        unchanged (callers also enforce this)."""


class Segmenter(Protocol):
    name: str

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Boolean (H, W) mask of the product (garment, goods, and the person or mannequin
        wearing them) in a supplier photo."""


@dataclass
class Recipe:
    """How one candidate is made: the scene, framing and seed chosen from the market profile."""

    candidate_id: str
    scene: dict[str, Any]
    fill: float
    placement: str
    aspect: tuple[int, int]
    margin_min: float
    seed: int
    persona: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.scene['id']}|{self.placement}|fill={self.fill:.2f}"


@dataclass
class Candidate:
    """A generated image plus where the product sits in it.

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

    def generate(self, image: np.ndarray, mask: np.ndarray, recipe: Recipe) -> Candidate:
        """One localized candidate of the product in ``image`` (masked by ``mask``)."""
