"""What a reading says: promo text (the built-in lexicon, Chinese and Latin) and its language by script.

The promo lexicon is a list of named regular expressions, searched case-insensitively anywhere in a
reading; the first that matches names the reason in ``clean.json`` (``promo text (price): ¥39.9``).
``clean.promo_lexicon: false`` switches it off; ``clean.always_remove`` and the market's
``clean_promo`` add patterns of their own.

Languages are told by script (:data:`SCRIPTS`): ``zh`` is Han (Chinese characters), ``ja`` kana,
``ko`` Hangul, ``ar`` Arabic, ``ru`` Cyrillic, ``th`` Thai, ``en`` Latin letters. A reading is in a
language when at least one of its letters is of that script (``"微信: shop88"`` is ``zh`` and ``en``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from catloc.config import LANGUAGES

SCRIPTS: dict[str, str] = {  # language -> character class of its script
    "zh": r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff",
    "ja": r"\u3040-\u30ff",
    "ko": r"\uac00-\ud7af\u1100-\u11ff",
    "ar": r"\u0600-\u06ff\u0750-\u077f",
    "ru": r"\u0400-\u04ff",
    "th": r"\u0e00-\u0e7f",
    "en": r"A-Za-z\u00c0-\u024f",
}
_SCRIPT_RE = {lang: re.compile(f"[{chars}]") for lang, chars in SCRIPTS.items()}

GAP = r"\s*[^\s\d]?\s*"
"""Between the words of a promo phrase: spaces, or one stray sign or letter where OCR read the gap
(``"HOTVSALE"``, ``"FREE-SHIPPING"``)."""


def _phrase(*words: str) -> str:
    """A promo phrase: ``words`` (regular expressions) from a word boundary on, with a :data:`GAP` between each two."""
    return r"\b" + GAP.join(words)


PROMO_LEXICON: tuple[tuple[str, str], ...] = (  # (what it is, pattern)
    ("price", r"[¥￥$€£]\s*\d|\d\s*[¥￥元€£]|\b(us\$|usd|rmb|cny)\s*\d|\d+(\.\d+)?\s*(元|块)"),
    ("discount", r"\d+\s*%\s*(off|折)|\bsale\b|\bdiscount|\bclearance\b|\d+(\.\d)?\s*折|满\d+减|秒杀|清仓|优惠|折扣"),
    ("promo words", "|".join([_phrase("free", "shipping"), _phrase("new", r"arrivals?"), _phrase("hot", "sale"),
                              _phrase("best", "sell"), _phrase("limited", "time"), r"buy\s*\d+\s*get",
                              _phrase("in", r"stock\b"), "wholesale", _phrase("drop", "shipping"),
                              _phrase("factory", "(direct|price|outlet)")])),
    ("promo words", r"包邮|厂家|源头|一件代发|批发|特价|促销|爆款|热卖|新款上市|新品上市|现货|品质保证|假一罚|"
                    r"实拍|正品保证|限时|拍下|下单|包退|包换|无理由|盗图|原创|授权|代理"),
    ("url", r"https?://|\bwww\.|\.(com|cn|net|shop|store|top)\b"),
    ("shop", r"店铺|旗舰店|专营店|专卖店|(男装|女装|童装|服饰|服装|鞋服|鞋业|箱包|饰品|精品|小)店|"
             r"淘宝|天猫|拼多多|京东|抖音|1688|\bshop\d|\bstore\d"),
    ("contact", r"(微信|v信|\bvx\b|wechat|whats\s*app|\bqq\b|电话|手机|\btel\b|telegram)"
                r"(\s*[:：]?\s*(?=[a-z_.+-]*\d)[a-z0-9_.+-]{3,})?|扫码|加我"),
    ("handle", r"(?<![\w.])@[a-z0-9_.]{3,}"),
    ("phone", r"\+\d{1,3}([\s-]?\d{2,5})+|\b1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}\b"),
)
"""The built-in promo lexicon. A contact word takes the id after it with it (``"VX: xm2024"``; an id
has a digit, so a brand word beside a contact word is not taken for one), so that
an id OCR read as a box of its own is promo with it (:func:`promo_on_lines`); ``厂家``/``源头``
(manufacturer, source factory) is how a supplier, never a product, speaks of itself; a shop is a
name ending in one of the shop words Chinese marketplaces use (旗舰店, 专营店, 男装店, 服饰店, 小店 ...)."""

SIZE_RUN = re.compile(r"(XXS|2XS)?(XS)?(S)?(M)?(L)?(XL)?(XXL|2XL)?(XXXL|3XL)?(4XL)?(5XL)?(6XL)?")
"""Letter sizes in ascending order, each at most once (separators taken out first)."""


def compile_promo(lexicon: bool, extra: Iterable[str]) -> list[tuple[str, re.Pattern]]:
    """The promo patterns, compiled case-insensitive: the built-in lexicon (if ``lexicon``) and the
    ``extra`` regular expressions (named ``configured``)."""
    named = list(PROMO_LEXICON) if lexicon else []
    named += [("configured", p) for p in extra]
    return [(name, re.compile(p, re.IGNORECASE)) for name, p in named]


def promo_match(text: str, patterns: list[tuple[str, re.Pattern]]) -> str:
    """The name of the first of ``patterns`` found in ``text``, or ``""``."""
    return next((name for name, pattern in patterns if pattern.search(text)), "")


def promo_on_lines(texts: list[str], polygons: list[np.ndarray], patterns: list[tuple[str, re.Pattern]]
                   ) -> list[str]:
    """Per reading, the name of the promo pattern it matches (:func:`promo_match`) or, failing that, one
    it matches together with the reading beside it on its line (``"... with the reading beside it"``):
    OCR often reads a phrase as one box per word (``"FREE"`` and ``"SHIPPING"``, ``"VX:"`` and
    ``"xm2024"``), and a word that is no promo on its own is promo in such a phrase. A match counts
    for both readings when it takes letters of both; ``polygons`` ((N, 2) px each) give the lines
    (:func:`side_by_side`)."""
    out = [promo_match(t, patterns) for t in texts]
    for i, j in side_by_side(polygons):
        if out[i] and out[j]:
            continue
        joined, cut = f"{texts[i]} {texts[j]}", len(texts[i])
        for name, pattern in patterns:
            if any(m.start() < cut and m.end() > cut + 1 for m in pattern.finditer(joined)):
                for k in (i, j):
                    out[k] = out[k] or f"{name}, with the reading beside it"
                break
    return out


def side_by_side(polygons: list[np.ndarray]) -> list[tuple[int, int]]:
    """Pairs (left, right) of readings next on one line: their boxes about as tall (within 1.5 x),
    their centres less than half the lower box's height apart vertically, and the gap from the left
    one's right edge to the right one's left edge between -0.3 and 1.5 box heights."""
    boxes = [(p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max())
             for p in (np.asarray(q, np.float32).reshape(-1, 2) for q in polygons)]
    pairs = []
    for i, (ax0, ay0, ax1, ay1) in enumerate(boxes):
        for j, (bx0, by0, bx1, by1) in enumerate(boxes):
            ha, hb = ay1 - ay0, by1 - by0
            if i == j or min(ha, hb) <= 0 or max(ha, hb) > 1.5 * min(ha, hb):
                continue
            level = abs((ay0 + ay1) - (by0 + by1)) / 2 < 0.5 * min(ha, hb)
            if level and ax0 < bx0 and -0.3 * min(ha, hb) <= bx0 - ax1 <= 1.5 * max(ha, hb):
                pairs.append((i, j))
    return pairs


def is_size_run(text: str) -> bool:
    """Whether ``text`` is a run of at least 3 letter sizes in ascending order (``"S M L XL XXL"``,
    ``"M/L/XL"``, ``"SMLXL"`` as OCR runs them together): the sizes a supplier offers, not a size label
    (which names one size)."""
    compact = re.sub(r"[\s,/|·.、，-]+", "", text.upper())
    match = SIZE_RUN.fullmatch(compact)
    return bool(compact) and match is not None and sum(g is not None for g in match.groups()) >= 3


def languages(text: str) -> tuple[str, ...]:
    """The languages (:data:`SCRIPTS` order) whose script some letter of ``text`` is in."""
    return tuple(lang for lang, pattern in _SCRIPT_RE.items() if pattern.search(text))


def char_width(ch: str) -> float:
    """Rough advance of ``ch`` in ems: full width for CJK and kana/Hangul, less for Latin and digits."""
    if any(re.match(f"[{SCRIPTS[lang]}]", ch) for lang in ("zh", "ja", "ko")) or ord(ch) > 0x2E80:
        return 1.0
    if ch.isspace():
        return 0.35
    return 0.62 if ch.isupper() or ch.isdigit() else 0.55


def runs(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of ``text`` that change script: CJK runs and the rest (Latin, digits,
    punctuation), split further at spaces between words; spaces belong to no run."""
    out, start = [], None
    for i, ch in enumerate(text + " "):
        wide = char_width(ch) == 1.0
        if start is not None and (ch.isspace() or wide != (char_width(text[start]) == 1.0)):
            out.append((start, i))
            start = None
        if start is None and not ch.isspace():
            start = i
    return out


def split_mixed(text: str, polygon: np.ndarray, patterns: list[tuple[str, re.Pattern]]
                ) -> list[tuple[str, np.ndarray]]:
    """A reading that OCR ran together from promo text and other text (``"ATHLETIC 实拍图品质保证"``:
    a print and the promo string laid beside it) split into (text, polygon) parts: the runs
    (:func:`runs`) are grouped into consecutive stretches that some match of ``patterns`` in the whole
    reading overlaps and stretches that none does; each part's polygon is the stretch of the reading's quadrilateral ``polygon`` ((4, 2) px,
    clockwise from the top left) its characters take by their rough widths. A reading that is all
    promo or all not is returned as it is; a run of fewer than 2 letters (digits, signs) goes with the promo.""" 
    spans = runs(text)
    matched = [m.span() for _, pattern in patterns for m in pattern.finditer(text)]
    flags = [any(a < m1 and m0 < b for m0, m1 in matched) or sum(c.isalpha() for c in text[a:b]) < 2
             for a, b in spans]  # promo, or no word of its own (fewer than 2 letters: digits, signs)
    if len(spans) < 2 or not matched or all(flags) or not any(flags):
        return [(text, polygon)]
    groups: list[list[tuple[int, int]]] = []
    for span, flag in zip(spans, flags):
        if groups and flags[spans.index(groups[-1][-1])] == flag:
            groups[-1].append(span)
        else:
            groups.append([span])
    widths = np.cumsum([0.0] + [char_width(ch) for ch in text])
    total = widths[-1]
    quad = np.asarray(polygon, np.float32).reshape(4, 2)
    top, bottom = (quad[0], quad[1]), (quad[3], quad[2])
    parts = []
    for group in groups:
        a, b = group[0][0], group[-1][1]
        f0, f1 = widths[a] / total, widths[b] / total
        corners = [top[0] + f0 * (top[1] - top[0]), top[0] + f1 * (top[1] - top[0]),
                   bottom[0] + f1 * (bottom[1] - bottom[0]), bottom[0] + f0 * (bottom[1] - bottom[0])]
        parts.append((text[a:b], np.array(corners, np.float32)))
    return parts
