"""The clean stage's options: the schema of the ``clean:`` section of ``configs/pipeline.yaml``.

The policy is not part of that section: it is set per market (``clean_policy`` in
``configs/markets/<code>.yaml``) and passed to :meth:`CleanOptions.from_config`.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from catloc.config import ConfigError

POLICIES = ("keep_product_text", "remove_all")


@dataclass(frozen=True)
class CleanOptions:
    """How :func:`tasks.clean.pipeline.remove_overlay_text` decides and masks.

    Shares are 0..1, distances in px at the source image's size.
    """

    policy: str = "keep_product_text"
    """``keep_product_text``: text lying on the product is kept; ``remove_all``: every text goes."""
    product_text_inside: float = 0.85
    """A text box at least this share inside the product is product text."""
    dilate_px: int = 4
    """Growth of every removal mask beyond the strokes or plate it covers (px)."""
    remove_qr: bool = True
    """Look for QR codes and barcodes (and remove them, with their quiet zone and plate)."""
    protect_below_score: float = 0.8
    """Text read with less confidence than this never repaints product pixels."""
    edge_on_product: float = 0.9
    """Text (or its plate) whose surroundings are less than this share on the product is an overlay."""
    on_backdrop: float = 0.08
    """Text whose box is at least this share open backdrop reaches off the product: an overlay."""
    verify: bool = True
    """Look again after cleaning; leftovers get one retry with a wider mask."""
    verify_margin: int = 32
    """The second look reads the cleaned regions grown by this margin (px)."""
    verify_side: int = 768
    """... or, when those cover most of the photo, all of it at this longer side (px)."""
    always_remove: tuple[str, ...] = ()
    """Regular expressions (case-insensitive): text matching one is promo, never product text."""

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown clean policy {self.policy!r} (known: {', '.join(POLICIES)})")
        object.__setattr__(self, "always_remove", tuple(self.always_remove or ()))

    @classmethod
    def from_config(cls, section: dict[str, Any], policy: str) -> CleanOptions:
        """The options of a ``clean:`` config ``section`` under the market's ``policy``.

        Values are converted to each field's type (``"6"`` -> 6). An unknown key (a typo must not
        pass silently), a ``policy`` key or an unknown policy is a :class:`~catloc.config.ConfigError`.
        """
        if "policy" in section:
            raise ConfigError("clean.policy is no longer read: the clean policy is set per market "
                              "(clean_policy in configs/markets/<code>.yaml)")
        types = typing.get_type_hints(cls)
        known = sorted(f.name for f in dataclasses.fields(cls) if f.name != "policy")
        unknown = sorted(set(section) - set(known))
        if unknown:
            raise ConfigError(f"clean: unknown option(s) {', '.join(unknown)} (known: {', '.join(known)})")
        if policy not in POLICIES:
            raise ConfigError(f"unknown clean policy {policy!r} (known: {', '.join(POLICIES)})")
        values = {name: _convert(value, types[name]) for name, value in section.items()}
        return cls(policy=policy, **values)


def _convert(value: Any, typ: Any) -> Any:
    """``value`` as a ``bool``, ``int``, ``float``, ``str`` or tuple of ``str`` (``typ``)."""
    if typ in (bool, int, float, str):
        return typ(value)
    return tuple(str(v) for v in value or ())
