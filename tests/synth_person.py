"""A drawn model photo with its exact human parsing, for the generative tests: a standing person
facing the camera (hair, face, neck, a T-shirt with short sleeves, bare forearms, trousers, shoes)
on a plain backdrop."""
from __future__ import annotations

import cv2
import numpy as np

from catloc.engines.base import PARTS, Parsing

COLOURS = {"background": (232, 230, 226), "hair": (40, 30, 25), "face": (224, 180, 150), "neck": (214, 170, 140),
           "upper_clothes": (30, 110, 170), "left_arm": (220, 176, 146), "right_arm": (220, 176, 146),
           "pants": (50, 50, 60), "left_shoe": (20, 20, 20), "right_shoe": (20, 20, 20)}


def _draw(labels: np.ndarray, part: str, shape: str, *args) -> None:
    value = PARTS.index(part)
    if shape == "ellipse":
        cv2.ellipse(labels, *args, 0, 0, 360, value, -1)
    elif shape == "rect":
        cv2.rectangle(labels, *args, value, -1)
    else:
        cv2.fillPoly(labels, [np.array(args[0], np.int32)], value)


def person_photo(height: int = 160, width: int = 96) -> tuple[np.ndarray, Parsing]:
    """(RGB uint8 image (height, width, 3), its Parsing). Drawn on a 96 x 160 grid, scaled."""
    sx, sy = width / 96, height / 160

    def p(x: float, y: float) -> tuple[int, int]:
        return int(round(x * sx)), int(round(y * sy))

    labels = np.zeros((height, width), np.uint8)
    _draw(labels, "hair", "ellipse", p(48, 17), (int(11 * sx), int(12 * sy)))
    _draw(labels, "face", "ellipse", p(48, 21), (int(8 * sx), int(10 * sy)))
    _draw(labels, "neck", "rect", p(44, 29), p(52, 36))
    _draw(labels, "right_arm", "poly", [p(24, 54), p(31, 54), p(29, 92), p(22, 92)])   # image left: the right arm
    _draw(labels, "left_arm", "poly", [p(65, 54), p(72, 54), p(74, 92), p(67, 92)])
    _draw(labels, "upper_clothes", "poly", [p(34, 35), p(62, 35), p(73, 40), p(74, 58), p(64, 58), p(64, 82),
                                            p(32, 82), p(32, 58), p(22, 58), p(23, 40)])
    _draw(labels, "pants", "poly", [p(32, 82), p(64, 82), p(63, 146), p(51, 146), p(48, 98), p(45, 146),
                                    p(33, 146)])
    _draw(labels, "right_shoe", "rect", p(32, 146), p(45, 152))
    _draw(labels, "left_shoe", "rect", p(51, 146), p(64, 152))
    image = np.zeros((height, width, 3), np.uint8)
    for part, colour in COLOURS.items():
        image[labels == PARTS.index(part)] = colour
    shade = np.linspace(0.94, 1.04, height, dtype=np.float32)[:, None, None]   # not flat colours
    image = np.clip(image.astype(np.float32) * shade, 0, 255).astype(np.uint8)
    return image, Parsing(labels=labels)


MANNEQUIN = (196, 198, 202)   # a grey dress form


def mannequin_photo(height: int = 160, width: int = 96) -> tuple[np.ndarray, Parsing]:
    """The same outfit on a grey mannequin without hair (RGB uint8 image, its Parsing: the
    mannequin is background to a human parser, the garments are garments)."""
    image, parsing = person_photo(height, width)
    image[parsing.mask("skin")] = MANNEQUIN
    image[parsing.mask("hair")] = COLOURS["background"]
    labels = parsing.labels.copy()
    labels[parsing.mask("skin", "hair")] = PARTS.index("background")
    return image, Parsing(labels)


class PaletteParser:
    """A parse engine for these drawn photos (registered by tests as ``parse: palette``): each pixel
    labelled by the nearest colour of :data:`COLOURS` (RGB distance), the mannequin's grey and
    anything farther than ``max_distance`` from all of them as background."""

    name = "palette"

    def __init__(self, max_distance: float = 40.0):
        self.max_distance = float(max_distance)

    def parse(self, image: np.ndarray) -> Parsing:
        names = list(COLOURS)
        palette = np.array([COLOURS[n] for n in names] + [MANNEQUIN], np.float32)
        distance = np.linalg.norm(image[..., None, :].astype(np.float32) - palette[None, None], axis=-1)
        labels = np.array([PARTS.index(n) for n in names] + [0], np.uint8)[distance.argmin(axis=-1)]
        labels[distance.min(axis=-1) > self.max_distance] = 0
        return Parsing(labels)
