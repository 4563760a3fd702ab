"""Modesty QC of generative candidates: bare arms, legs or hair where the market's rules say covered.

A generative candidate is parsed by the ``parse`` engine (:class:`~catloc.engines.base.Parsing`);
each rule that applies (:func:`modesty_rules`) fails the candidate when its part covers more of the
person's pixels than allowed (``qc.max_bare_share`` for arms and legs: hands, which parsers count as
arm, and a glimpse at a cuff pass, a bare forearm does not; ``qc.max_hair_share`` for hair under a
hijab: a parser's stray pixels pass, a fringe does not). Pure functions of the parsing.
"""
from __future__ import annotations

from typing import Any

from catloc.engines.base import Parsing
from catloc.generative import wears_hijab

# market modesty key -> (parsing group that must not show, what the reason calls it)
COVERED_PARTS = {"cover_arms": ("arms", "bare arms"), "cover_legs": ("legs", "bare legs")}


def modesty_rules(modesty: dict[str, Any] | None, persona: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(parsing group, name) of each part the market's ``modesty`` says is covered on a candidate
    drawing ``persona`` (``None``: the photo's own person): ``cover_arms`` -> arms, ``cover_legs`` ->
    legs, and hair for a persona drawn with a hijab or, with ``hijab: required``, any
    ``gender: female`` persona."""
    modesty = modesty or {}
    rules = [part for key, part in COVERED_PARTS.items() if modesty.get(key)]
    if persona and (wears_hijab(persona) or (modesty.get("hijab") == "required"
                                             and str(persona.get("gender", "")).lower() == "female")):
        rules.append(("hair", "uncovered hair"))
    return rules


def bare_share(parsing: Parsing, group: str) -> float:
    """Share 0..1 of the person's pixels (:data:`~catloc.engines.base.PART_GROUPS` ``person``) that
    are ``group``; 0.0 when no person shows."""
    person = int(parsing.mask("person").sum())
    return float(parsing.mask(group).sum()) / person if person else 0.0


def modesty_findings(parsing: Parsing, rules: list[tuple[str, str]], max_share: float,
                     max_hair_share: float) -> list[str]:
    """One reason per rule whose part shows on more of the person than allowed: ``max_hair_share``
    for hair, ``max_share`` for arms and legs."""
    found = []
    for group, name in rules:
        share, limit = bare_share(parsing, group), max_hair_share if group == "hair" else max_share
        if share > limit:
            found.append(f"modesty: {name} on {share:.1%} of the person > {limit:.1%}")
    return found
