"""What each stage hands to the next: URIs of the artifacts it stored, and small facts about them.

Stages pass these (never pixels), so a SKU can be resumed, rerun or moved to another worker
from its stored files alone. Every type converts to plain JSON (:meth:`StageOutput.to_dict`)
for the stage manifests and SKU records, and back (:meth:`StageOutput.from_dict`, which
ignores keys it does not know, so records written by a newer version still load).

::

    CatalogItem ──fetch──▶ Source ──clean──▶ Cleaned ──analyse──▶ Analysis
        ──localize──▶ [Candidate] ──qc──▶ [ScoredCandidate]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T", bound="StageOutput")


class StageOutput:
    """Shared JSON conversion of the dataclasses below."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Source(StageOutput):
    """The SKU's decoded source images (PNG, upright RGB)."""

    image: str                                          # the one the pipeline localizes: the first that decoded
    images: list[str] = field(default_factory=list)     # every image that decoded, in catalog order
    problems: list[str] = field(default_factory=list)   # why the others did not


@dataclass(frozen=True)
class Cleaned(StageOutput):
    """The source with supplier overlays removed."""

    image: str                                          # cleaned.png
    removed_mask: str                                   # removed_mask.png: the pixels that were inpainted
    report: dict[str, Any] = field(default_factory=dict)  # clean.json: every finding and what was done


@dataclass(frozen=True)
class Analysis(StageOutput):
    """The product mask of the cleaned image and facts about it."""

    product_mask: str                                   # product_mask.png
    product_share: float = 0.0                          # share of the photo the product covers
    bbox: list[int] = field(default_factory=list)       # x0, y0, x1, y1 in px
    touches_edges: list[str] = field(default_factory=list)  # photo edges the product touches
    mask_confidence: float = 1.0                        # 0..1: how far the mask can be trusted for a cut-out
    mask_reasons: list[str] = field(default_factory=list)   # why the confidence is below 1
    mask_measures: dict[str, Any] = field(default_factory=dict)  # the measures behind it (catloc.mask_confidence)

    def mask_trusted(self, min_confidence: float) -> bool:
        """Whether the product mask may be cut out: a mask at all, confidence at least ``min_confidence``."""
        return self.product_share > 0 and self.mask_confidence >= min_confidence

    def cutouts_skipped(self, min_confidence: float) -> str:
        """Why no cut-out is made of this product at ``min_confidence`` (the original's QC warning)."""
        why = "; ".join(self.mask_reasons) or "no reason given"
        return f"cut-outs skipped: mask confidence {self.mask_confidence:.2f} < {min_confidence:.2f} ({why})"


@dataclass
class Candidate(StageOutput):
    """One stored candidate image and how it was made (``candidates.json``)."""

    candidate_id: str                                   # c01..c16: the recipe's position
    image: str
    recipe: str = ""
    kind: str = "studio"                                # the recipe's kind: original, studio (a cut-out), ...
    scene: str = ""
    framing: str = ""
    seed: int = 0
    engine: str = ""
    offset: list[int] = field(default_factory=lambda: [0, 0])  # where the source's origin lies in the candidate
    scale: float = 1.0                                  # source-to-candidate scale of the product
    width: int = 0
    height: int = 0
    attempt: int = 0                                    # 0: the first candidates; n: the n-th regeneration
    meta: dict[str, Any] = field(default_factory=dict)  # the engine's account: seed, prompts, weights, versions...
    kept_mask: str = ""                                 # generative kinds: kept/<id>.png, the cleaned photo's pixels
                                                        # the candidate keeps (source coordinates; QC's fidelity region)
    persona: str = ""                                   # generative kinds drawing a person: the persona's id


@dataclass
class ScoredCandidate(Candidate):
    """A candidate with its QC verdict and rank within the SKU."""

    product_fidelity: float = 0.0
    residual_text: int = 0
    residual_strings: list[str] = field(default_factory=list)
    qc_pass: bool = False
    qc_reasons: str = ""
    rank: int = 0
    text_lost: list[str] = field(default_factory=list)   # product text read on the cleaned source, not on this
    residue: list[str] = field(default_factory=list)     # leftovers found outside the product (codes, blobs)
    duplicate_of: str = ""                              # the better candidate this one nearly equals


def to_plain(output: Any) -> Any:
    """A stage output (or a list of them) as plain JSON values."""
    if isinstance(output, list):
        return [to_plain(x) for x in output]
    return output.to_dict() if isinstance(output, StageOutput) else output


def list_of(cls: type[T]):
    """A loader turning a stored JSON list back into ``list[cls]`` (for :func:`catloc.cache.reuse_or_run`)."""
    def load(rows: list[dict[str, Any]]) -> list[T]:
        return [cls.from_dict(row) for row in rows]
    return load
