"""Readable names, descriptions and actions of learned segments (the rule-based RFM groups: rfm_groups.py).

Pure, table-driven and deterministic: the same input always gives the same output.

Learned segments are named from their *levels*: ``levels[segment_id][feature]`` is the population
percentile (0..1) of the segment's median value of the feature. For ``recency_days`` a LOW level is good
(few days since the last purchase), so the tables below work on ``recent = 1 - level(recency_days)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from segmentation.config import TRANSACTION_FEATURES

MIN_FIT = 0.7  # below this a candidate name does not fit; the segment gets a descriptive name instead
MIDDLE = 0.1  # a level within this of 0.5 (bounds included) reads as "around the median"
_EPS = 1e-9  # a level on a band's bound belongs to the middle band, whatever the float rounding
SEP = " · "


@dataclass(frozen=True)
class SegmentName:
    """A segment's display name, what sets it apart (one line) and what to do about it (one line)."""

    name: str
    description: str
    action: str


Signals = Mapping[str, float]


@dataclass(frozen=True)
class _Candidate:
    """One nameable profile: target signal levels, a hard gate so the name never lies, and its texts."""

    name: str
    target: Mapping[str, float]  # signal -> ideal level; signals absent from the data are skipped
    gate: Callable[[Signals], bool]
    summary: str  # plain words; the description adds the segment's own numbers
    action: str
    needs: tuple[str, ...] = ()  # optional signals without which this candidate is not considered


def _middling(s: Signals) -> bool:
    return all(0.3 <= v <= 0.7 for k, v in s.items() if k != "breadth")


# Signals: recent, frequency, monetary (always present in this mode); basket, tenure, products, returns,
# and breadth = max(frequency, products) when present. Table order is the tie-break order.
CANDIDATES: tuple[_Candidate, ...] = (
    _Candidate(
        "Champions",
        {"recent": 1.0, "frequency": 1.0, "monetary": 1.0},
        lambda s: s["recent"] >= 0.6 and s["frequency"] >= 0.6 and s["monetary"] >= 0.6,
        "Bought recently, buy often and spend the most",
        "Reward them: early access, loyalty perks; ask for reviews and referrals.",
    ),
    _Candidate(
        "Loyal",
        {"recent": 0.7, "frequency": 0.9, "monetary": 0.75},
        lambda s: s["frequency"] >= 0.6 and s["recent"] >= 0.4 and s["monetary"] >= 0.4,
        "Buy often and fairly recently",
        "Keep them close: loyalty programme, upsell higher-value products.",
    ),
    _Candidate(
        "Big Spenders",
        {"monetary": 1.0, "basket": 1.0, "frequency": 0.35},
        lambda s: s["monetary"] >= 0.65 and s["frequency"] < 0.6 and s.get("basket", 1.0) >= 0.6,
        "Spend a lot per order but buy rarely",
        "Offer premium products and bundles; give them reasons to come back more often.",
    ),
    _Candidate(
        "Potential Loyalists",
        {"recent": 0.85, "frequency": 0.55, "monetary": 0.55},
        lambda s: s["recent"] >= 0.6 and 0.3 <= s["frequency"] < 0.75,
        "Bought recently and come back now and then",
        "Invite them to the loyalty programme and recommend related products.",
    ),
    _Candidate(
        "New",
        {"recent": 1.0, "frequency": 0.0, "tenure": 0.0},
        lambda s: s["recent"] >= 0.7 and s["frequency"] <= 0.35 and s.get("tenure", 0.0) <= 0.35,
        "Bought very recently, only once or twice so far",
        "Welcome them: onboarding emails, helpful tips and a first-repeat incentive.",
    ),
    _Candidate(
        "Promising",
        {"recent": 0.8, "frequency": 0.2, "monetary": 0.2},
        lambda s: s["recent"] >= 0.55 and s["frequency"] <= 0.45 and s["monetary"] <= 0.5,
        "Bought recently but rarely, and spend little",
        "Build the habit: small incentives, product discovery and brand stories.",
    ),
    _Candidate(
        "Need Attention",
        {k: 0.5 for k in ("recent", "frequency", "monetary", "basket", "tenure", "products", "returns")},
        _middling,
        "Middling on recency, frequency and spend",
        "Reactivate with limited-time offers and recommendations based on past purchases.",
    ),
    _Candidate(
        "About to Sleep",
        {"recent": 0.3, "frequency": 0.3, "monetary": 0.35},
        lambda s: s["recent"] < 0.5 and s["frequency"] < 0.5,
        "Below average on recency and frequency",
        "Re-engage now with popular products and a timely discount before they drift away.",
    ),
    _Candidate(
        "At Risk",
        {"recent": 0.2, "frequency": 0.75, "monetary": 0.75},
        lambda s: s["recent"] <= 0.45 and s["frequency"] + s["monetary"] >= 1.1,
        "Used to buy often and spend well but have not been back for a while",
        "Win back with a personal offer before they lapse.",
    ),
    _Candidate(
        "Can't Lose",
        {"recent": 0.0, "frequency": 1.0, "monetary": 1.0},
        lambda s: s["recent"] <= 0.3 and s["frequency"] + s["monetary"] >= 1.5,
        "Were among the best customers but have been gone a long time",
        "Reach out personally with your best win-back offer; ask what went wrong.",
    ),
    _Candidate(
        "Dormant",
        {"recent": 0.0, "frequency": 0.0, "monetary": 0.0},
        lambda s: s["recent"] <= 0.35 and s["frequency"] <= 0.4 and s["monetary"] <= 0.4,
        "Long gone, bought rarely and spent little",
        "Low-cost reactivation only (automated email); otherwise stop spending on them.",
    ),
    _Candidate(
        "Bargain Seekers",
        {"basket": 0.0, "breadth": 1.0},
        lambda s: s["basket"] <= 0.35 and s["breadth"] >= 0.6,
        "Buy often or across many products but keep baskets small",
        "Promote bundles, multi-buy discounts and free-shipping thresholds to grow basket size.",
        needs=("basket",),
    ),
    _Candidate(
        "Frequent Returners",
        {"returns": 1.0},
        lambda s: s["returns"] >= 0.8,
        "Return far more than most customers",
        "Check fit, quality and product descriptions; tighten terms for repeat returners.",
        needs=("returns",),
    ),
)

# Known features: (short name word for names, label inside sentences, action when high, action when low).
_KNOWN: dict[str, tuple[str, str, str, str]] = {
    "frequency": (
        "Frequency",
        "order count",
        "Reward their frequent visits with loyalty perks.",
        "Give them reasons to come back more often: reminders and repeat-purchase offers.",
    ),
    "monetary": (
        "Spend",
        "spend",
        "Look after them personally and offer premium products.",
        "Lift spend with bundles and cross-sells.",
    ),
    "quantity": (
        "Quantity",
        "units bought",
        "Offer volume pricing or trade terms.",
        "Encourage larger orders with multi-buy offers.",
    ),
    "avg_basket_value": (
        "Basket",
        "basket value",
        "Offer premium products and bundles.",
        "Raise basket size with bundles and free-shipping thresholds.",
    ),
    "tenure_days": (
        "Tenure",
        "tenure",
        "Thank long-standing customers and ask for referrals.",
        "Onboard them well: welcome series and a first-repeat incentive.",
    ),
    "distinct_products": (
        "Product Range",
        "product range",
        "Cross-sell across their broad interests.",
        "Introduce them to related products beyond their usual few.",
    ),
    "return_rate": (
        "Returns",
        "return rate",
        "Look into why they return so much: fit, quality or descriptions.",
        "Few returns: good candidates for new products and reviews.",
    ),
}
_RECENCY_ACTIONS = (
    "Re-engage with a targeted offer before they lapse for good.",
    "Keep the momentum: recommend related products while they are active.",
)


def _clean(text: str) -> str:
    """One line: whitespace runs (newlines included) collapse to a space, underscores become spaces."""
    return " ".join(str(text).replace("_", " ").split())


def _title(feature: str) -> str:
    """Title-case a column name for a segment name, keeping existing capitals (CLV stays CLV)."""
    if feature in _KNOWN:
        return _KNOWN[feature][0]
    return " ".join(w[:1].upper() + w[1:] for w in _clean(feature).split(" ")) or "Feature"


def _label(feature: str) -> str:
    return _KNOWN[feature][1] if feature in _KNOWN else (_clean(feature) or "feature")


def _pct(share: float) -> int:
    """A share (0..1) as a whole percent, half up, kept within 1..99 so text never says 0% or 100%."""
    return min(99, max(1, math.floor(share * 100 + 0.5)))


def _band(level: float) -> int:
    """-1 below the middle band, 0 in it (bounds included: a median on the cut is not "Low"), 1 above."""
    if level < 0.5 - MIDDLE - _EPS:
        return -1
    return 1 if level > 0.5 + MIDDLE + _EPS else 0


def _phrase(feature: str, level: float) -> str:
    """Where the segment's typical customer stands on one feature, in plain words with a number."""
    if feature == "recency_days":
        if _band(level) < 0:
            return f"last purchase more recent than {_pct(1 - level)}% of customers"
        if _band(level) > 0:
            return f"last purchase longer ago than {_pct(level)}% of customers"
        return "last purchase around the median"
    if _band(level) > 0:
        return f"{_label(feature)} in the top {_pct(1 - level)}%"
    if _band(level) < 0:
        return f"{_label(feature)} in the bottom {_pct(level)}%"
    return f"{_label(feature)} around the median"


def _word(feature: str, level: float) -> str:
    """One name part, e.g. 'High Basket', 'Low Income', 'Recent', 'Lapsed'."""
    if feature == "recency_days":
        return {-1: "Recent", 0: "Mid Recency", 1: "Lapsed"}[_band(level)]
    direction = {-1: "Low", 0: "Mid", 1: "High"}[_band(level)]
    return f"{direction} {_title(feature)}"


def _action(feature: str, level: float) -> str:
    """A sensible next step read from the segment's most distinctive feature and its direction."""
    if _band(level) == 0:
        return "Treat them as the core audience; test offers to learn what moves them."
    high = level > 0.5
    if feature == "recency_days":
        return _RECENCY_ACTIONS[0 if high else 1]
    if feature in _KNOWN:
        return _KNOWN[feature][2 if high else 3]
    if high:
        return f"Target with offers matched to their high {_label(feature)}."
    return f"Tailor offers to their low {_label(feature)} and test what moves them."


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _order(levels: Mapping[str, float]) -> list[str]:
    """Features from most to least distinctive (largest |level - 0.5|); ties by known order, then name."""
    known = {f: i for i, f in enumerate(TRANSACTION_FEATURES)}
    return sorted(levels, key=lambda f: (-round(abs(levels[f] - 0.5), 9), known.get(f, len(known)), f))


def _signals(levels: Mapping[str, float]) -> dict[str, float]:
    """The candidate tables' view of a segment's levels (recency flipped so high = recent)."""
    s = {
        "recent": 1.0 - levels["recency_days"],
        "frequency": levels["frequency"],
        "monetary": levels["monetary"],
    }
    for key, feature in (
        ("basket", "avg_basket_value"),
        ("tenure", "tenure_days"),
        ("products", "distinct_products"),
        ("returns", "return_rate"),
    ):
        if feature in levels:
            s[key] = levels[feature]
    s["breadth"] = max(s["frequency"], s.get("products", 0.0))
    return s


def _fit(c: _Candidate, s: Signals) -> float | None:
    """1 - mean distance to the candidate's target over the signals present; None when it cannot apply."""
    if any(n not in s for n in c.needs) or not c.gate(s):
        return None
    gaps = [abs(s[k] - v) for k, v in c.target.items() if k in s]
    return round(1.0 - sum(gaps) / len(gaps), 9)


def _descriptive(levels: Mapping[str, float], used: set[str]) -> tuple[str, list[str]]:
    """A unique name from the two most distinctive features; other pairs next; ' 2', ' 3' as a last resort."""
    order = _order(levels)
    if not order:
        options: list[list[str]] = [[]]
    elif len(order) == 1:
        options = [order]
    else:  # pairs by distinctiveness: (0,1), (0,2), (1,2), (0,3), ...
        options = [[order[i], order[j]] for j in range(1, len(order)) for i in range(j)]
    for feats in options:
        name = SEP.join(_word(f, levels[f]) for f in feats) or "Segment"
        if name not in used:
            return name, feats
    base, feats = SEP.join(_word(f, levels[f]) for f in options[0]) or "Segment", options[0]
    n = 2
    while f"{base} {n}" in used:
        n += 1
    return f"{base} {n}", feats


def _check(levels: Mapping[int, Mapping[str, float]]) -> dict[int, dict[str, float]]:
    """Copy the levels in segment-id order, dropping NaN levels and rejecting any outside 0..1."""
    out: dict[int, dict[str, float]] = {}
    for seg in sorted(levels):
        row: dict[str, float] = {}
        for feature, value in levels[seg].items():
            value = float(value)
            if math.isnan(value):
                continue
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"segment {seg}: level of {feature!r} must be within 0..1, got {value}")
            row[str(feature)] = value
        out[seg] = row
    return out


def name_segments(
    levels: Mapping[int, Mapping[str, float]],
    sizes: Mapping[int, int] | None = None,
    reserved: Collection[str] = (),
) -> dict[int, SegmentName]:
    """Give every segment a unique readable name, a one-line description and a recommended action.

    With recency_days, frequency and monetary all present, each segment is scored against every row of
    CANDIDATES (fit = 1 - mean |level - target| over the row's signals present, only where the row's gate
    holds and fit >= MIN_FIT). Names are assigned greedily, highest fit first; equal fits go to the larger
    segment (by ``sizes``), then the lower segment id, then the earlier candidate. Greedy rather than
    optimal, so the segment that fits a name best always gets it. Segments left over (more segments than
    names, or nothing fits) and every segment when R/F/M are not all present (customer-table mode) get a
    descriptive name from their two most distinctive features, e.g. "High Income · Low Spend"; when that
    is taken the next pair of features is tried, and " 2", " 3" are appended only as a last resort.
    NaN levels are ignored; levels outside 0..1 raise ValueError. Input order does not matter. Names in
    ``reserved`` (kept by other segments of the run, see carry_over.py) are never given.
    """
    segs = _check(levels)
    size = {seg: int((sizes or {}).get(seg, 0)) for seg in segs}
    result: dict[int, SegmentName] = {}
    used: set[str] = set(reserved)
    rfm = {seg for seg, lv in segs.items() if {"recency_days", "frequency", "monetary"} <= lv.keys()}
    if rfm == set(segs):
        pairs = []
        for seg in segs:
            s = _signals(segs[seg])
            for idx, cand in enumerate(CANDIDATES):
                fit = _fit(cand, s)
                if fit is not None and fit >= MIN_FIT:
                    pairs.append((-fit, -size[seg], seg, idx))
        for _, _, seg, idx in sorted(pairs):
            cand = CANDIDATES[idx]
            if seg in result or cand.name in used:
                continue
            lv = segs[seg]
            numbers = ", ".join(_phrase(f, lv[f]) for f in _order(lv)[:2])
            result[seg] = SegmentName(cand.name, f"{cand.summary}; {numbers}.", cand.action)
            used.add(cand.name)
    for seg, lv in segs.items():
        if seg in result:
            continue
        name, feats = _descriptive(lv, used)
        used.add(name)
        if feats:
            description = _sentence(", ".join(_phrase(f, lv[f]) for f in feats)) + "."
            action = _action(feats[0], lv[feats[0]])
        else:
            description = "No features to describe this segment."
            action = "Look at the segment's customers directly before acting."
        result[seg] = SegmentName(name, description, action)
    return {seg: result[seg] for seg in segs}
