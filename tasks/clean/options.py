"""TEMPORARY (replaced by the clean-stage refactor): the clean: section as a dataclass."""
from __future__ import annotations

from dataclasses import dataclass, fields

from catloc.config import ConfigError


@dataclass(frozen=True)
class CleanOptions:
    policy: str = "keep_product_text"
    product_text_inside: float = 0.85
    dilate_px: int = 4
    remove_qr: bool = True
    always_remove: tuple[str, ...] = ()
    verify: bool = True
    protect_below_score: float = 0.8
    edge_on_product: float = 0.9
    on_backdrop: float = 0.08
    verify_margin: int = 32
    verify_side: int = 768

    @classmethod
    def from_config(cls, section: dict, policy: str) -> "CleanOptions":
        known = {f.name for f in fields(cls)} - {"policy"}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(f"clean: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        values = {k: (tuple(v) if k == "always_remove" else v) for k, v in section.items()}
        return cls(policy=policy, **values)
