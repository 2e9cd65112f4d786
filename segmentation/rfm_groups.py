"""The classic rule-based RFM groups (Champions ... Lost) from R, F and M scores, in Python and as static SQL,
and what to do with a customer of each group."""

from __future__ import annotations

from segmentation.naming import CANDIDATES

RFM_GROUPS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose",
    "Hibernating",
    "Lost",
)

# What to do with a customer of each RFM group: the learned segments' action where a candidate name matches,
# so a group and a segment of one name never advise differently (and the at-risk list, falling back to RFM
# groups, never advises an upsell).
_SEGMENT_ACTIONS = {c.name: c.action for c in CANDIDATES}
_SEGMENT_NAME = {"Potential Loyalist": "Potential Loyalists"}  # the learned segment's spelling
_OWN_ACTIONS = {  # groups without a learned segment of their name
    "Hibernating": "Low-cost reactivation only: an automated win-back email with a relevant offer.",
    "Lost": "Do not spend on them; at most one last automated win-back email.",
}
RFM_GROUP_ACTIONS: dict[str, str] = {
    g: _OWN_ACTIONS.get(g) or _SEGMENT_ACTIONS[_SEGMENT_NAME.get(g, g)] for g in RFM_GROUPS
}

# (group, R scores, lowest FM, highest FM), first match wins; FM = (f + m + 1) // 2, the mean of F and M
# rounded half up. The rows cover all 25 (R, FM) cells exactly once apart from Lost, which carves R 1 & FM 1
# out of Hibernating and so must come first. The usual grid has no gap: R 3 & FM 4-5 is Loyal and
# R 3 & FM 3 is Need Attention, as listed.
_RFM_RULES: tuple[tuple[str, tuple[int, ...], int, int], ...] = (
    ("Lost", (1,), 1, 1),
    ("Champions", (5,), 4, 5),
    ("Loyal", (3, 4), 4, 5),
    ("Potential Loyalist", (4, 5), 2, 3),
    ("New", (5,), 1, 1),
    ("Promising", (4,), 1, 1),
    ("Need Attention", (3,), 3, 3),
    ("About to Sleep", (3,), 1, 2),
    ("At Risk", (1, 2), 3, 4),
    ("Can't Lose", (1, 2), 5, 5),
    ("Hibernating", (1, 2), 1, 2),
)


def rfm_group(r: int, f: int, m: int) -> str:
    """The classic RFM group of R, F and M scores (1..5 each) on the R-by-FM grid; see _RFM_RULES."""
    for score, what in ((r, "r"), (f, "f"), (m, "m")):
        if score not in range(1, 6):
            raise ValueError(f"{what} score must be an integer 1..5, got {score!r}")
    fm = (int(f) + int(m) + 1) // 2
    for group, rs, lo, hi in _RFM_RULES:
        if r in rs and lo <= fm <= hi:
            return group
    raise AssertionError(f"RFM grid has no cell for r={r}, fm={fm}")  # unreachable: the grid is complete


def rfm_group_sql() -> str:
    """A SQL CASE over r_score, f_score, m_score giving rfm_group()'s group (NULL outside 1..5); static."""
    fm = "(f_score + m_score + 1) // 2"
    whens = []
    for group, rs, lo, hi in _RFM_RULES:
        r_test = f"r_score = {rs[0]}" if len(rs) == 1 else f"r_score IN ({', '.join(map(str, rs))})"
        literal = "'" + group.replace("'", "''") + "'"
        whens.append(f"WHEN {r_test} AND {fm} BETWEEN {lo} AND {hi} THEN {literal}")
    valid = " AND ".join(f"{c} BETWEEN 1 AND 5" for c in ("r_score", "f_score", "m_score"))
    return f"CASE WHEN NOT ({valid}) THEN NULL " + " ".join(whens) + " END"
