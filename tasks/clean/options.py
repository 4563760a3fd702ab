"""The clean stage's options: the schema of the ``clean:`` section of ``configs/pipeline.yaml``.

The market's settings are not part of that section: the policy (``clean_policy``), the languages of
supplier text to strip (``strip_languages``) and the market's own promo patterns (``clean_promo``)
are set per market in ``configs/markets/<code>.yaml`` and passed in by :meth:`CleanOptions.for_market`.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from catloc.config import LANGUAGES, ConfigError, MarketProfile

POLICIES = ("keep_product_text", "remove_all")
MARKET_FIELDS = ("policy", "strip_languages")  # set by the market, never in the clean: section


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
    locate_side: int = 320
    """The product is located (to judge what lies on it) on a copy of the photo at this longer side (px)."""
    remove_qr: bool = True
    """Look for QR codes and barcodes (and remove them, with their quiet zone and plate)."""
    protect_below_score: float = 0.8
    """Text read with less confidence than this never repaints product pixels."""
    edge_on_product: float = 0.9
    """Text (or its plate) whose surroundings are less than this share on the product is an overlay."""
    on_backdrop: float = 0.08
    """Text whose box is at least this share open backdrop reaches off the product: an overlay."""
    deblend_watermarks: bool = True
    """A tiled watermark is de-blended (its colour and opacity estimated from its tiles, the blend
    inverted, :mod:`~tasks.clean.watermark`) rather than inpainted; off: its readings are inpainted."""
    verify: bool = True
    """Look again after cleaning; leftovers get one retry with a wider mask."""
    verify_margin: int = 32
    """The second look reads the cleaned regions grown by this margin (px)."""
    verify_side: int = 768
    """... or, when those cover most of the photo, all of it at this longer side (px)."""
    always_remove: tuple[str, ...] = ()
    """Regular expressions (case-insensitive): text matching one is promo, never product text (added to
    the lexicon; the market's ``clean_promo`` patterns are added here too)."""
    promo_lexicon: bool = True
    """Use the built-in promo lexicon (:data:`~tasks.clean.lexicon.PROMO_LEXICON`: prices, discounts,
    promo words in Chinese and English, shop names, contact ids, handles, phone numbers, URLs)."""
    strip_languages: tuple[str, ...] = ()
    """The market's languages of supplier text (``zh``: Chinese): such text composited over the photo
    goes wherever it lies; printed on the product, it stays (language alone never erases a print)."""
    composited_max_spread: float = 1.5
    """Rendering cue: ink whose lightness varies at most this much (L*, 0..100, unexplained by the
    surface under it) is flat, as drawn ink is."""
    composited_max_edge_px: float = 0.7
    """Rendering cue: a rim from surface to ink at most this wide (px per px of outline) is crisp."""
    composited_max_tilt_deg: float = 2.0
    """Rendering cue: a baseline within this many degrees of horizontal is level."""

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown clean policy {self.policy!r} (known: {', '.join(POLICIES)})")
        unknown = sorted(set(self.strip_languages or ()) - set(LANGUAGES))
        if unknown:
            raise ValueError(f"unknown strip_languages {unknown} (known: {', '.join(LANGUAGES)})")
        object.__setattr__(self, "always_remove", tuple(self.always_remove or ()))
        object.__setattr__(self, "strip_languages", tuple(self.strip_languages or ()))

    @classmethod
    def from_config(cls, section: dict[str, Any], policy: str, strip_languages: tuple[str, ...] = (),
                    promo: tuple[str, ...] = ()) -> CleanOptions:
        """The options of a ``clean:`` config ``section`` under the market's ``policy``,
        ``strip_languages`` and ``promo`` patterns (added to ``always_remove``).

        Values are converted to each field's type (``"6"`` -> 6). An unknown key (a typo must not
        pass silently), a market's key (``policy``, ``strip_languages``), an unknown policy or
        language is a :class:`~catloc.config.ConfigError`.
        """
        if "policy" in section:
            raise ConfigError("clean.policy is no longer read: the clean policy is set per market "
                              "(clean_policy in configs/markets/<code>.yaml)")
        if "strip_languages" in section:
            raise ConfigError("clean.strip_languages is not read: the languages to strip are set per market "
                              "(strip_languages in configs/markets/<code>.yaml)")
        types = typing.get_type_hints(cls)
        known = sorted(f.name for f in dataclasses.fields(cls) if f.name not in MARKET_FIELDS)
        unknown = sorted(set(section) - set(known))
        if unknown:
            raise ConfigError(f"clean: unknown option(s) {', '.join(unknown)} (known: {', '.join(known)})")
        if policy not in POLICIES:
            raise ConfigError(f"unknown clean policy {policy!r} (known: {', '.join(POLICIES)})")
        values = {name: _convert(value, types[name]) for name, value in section.items()}
        values["always_remove"] = tuple(values.get("always_remove", ())) + tuple(promo)
        try:
            return cls(policy=policy, strip_languages=tuple(strip_languages), **values)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @classmethod
    def for_market(cls, section: dict[str, Any], market: MarketProfile) -> CleanOptions:
        """:meth:`from_config` with ``market``'s clean policy, strip languages and promo patterns."""
        return cls.from_config(section, market.clean_policy, tuple(market.strip_languages), tuple(market.clean_promo))


def _convert(value: Any, typ: Any) -> Any:
    """``value`` as a ``bool``, ``int``, ``float``, ``str`` or tuple of ``str`` (``typ``)."""
    if typ in (bool, int, float, str):
        return typ(value)
    return tuple(str(v) for v in value or ())
