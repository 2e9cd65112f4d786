"""Segment names carried over from the previous run: a re-run's segment that matches one of the previous
run's segments keeps its name (a user's rename included); the others get generated names.

Matching (only when both runs cluster the same features with the same log transform):
- the previous run's centroids are mapped into this run's scaled space (undo its scaler, apply ours);
- each previous centroid j gets a radius: half the distance from it to the nearest other previous centroid.
  A new centroid within that radius is nearer to j than to any other previous centroid (triangle
  inequality), so a match is never ambiguous, whatever the scaler's units;
- one-to-one by the Hungarian algorithm (scipy's linear_sum_assignment) over the pairs within the radius,
  least total distance; a new segment with no previous centroid within reach gets a generated name.
A carried table name (Champions, Loyal, ...) is kept only while its rule still holds for the segment, as
generated names never lie; a name a user set is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import numpy as np
from scipy.optimize import linear_sum_assignment

from segmentation import naming
from segmentation.model import Transform

RADIUS_SHARE = 0.5  # of the distance from a previous centroid to its nearest neighbour
_FAR = 1e12  # cost of a pair outside the radius (never accepted)


@dataclass(frozen=True)
class Previous:
    """The previous run's model and segment names, as stored."""

    run_id: int
    features: tuple[str, ...]
    log_transform: tuple[bool, ...]
    center: np.ndarray
    scale: np.ndarray
    centroids: np.ndarray  # per segment id, in the previous run's scaled space
    names: dict[int, tuple[str, bool]]  # segment id -> (name, set by a user)


@dataclass(frozen=True)
class NameChoice:
    """One segment's name in this run and where it came from (stored in segment_names)."""

    segment_id: int
    name: naming.SegmentName
    source: str  # 'generated' or 'carried'
    by_user: bool
    from_run: int | None
    from_segment: int | None
    distance: float | None
    note: str


def previous_run(con: duckdb.DuckDBPyConnection) -> Previous | None:
    """The newest run's model and names in the staged copy ("out"); None in an empty file."""
    row = con.execute(
        "SELECT run_id, features, log_transform, center, scale, centroids FROM out.models "
        "WHERE run_id = (SELECT max(id) FROM out.runs)"
    ).fetchone()
    if row is None:
        return None
    run_id = int(row[0])
    names = {}
    for seg, name, by_user in con.execute(
        "SELECT s.segment_id, s.name, n.by_user FROM out.segments s "
        "LEFT JOIN out.segment_names n USING (run_id, segment_id) WHERE s.run_id = ? ORDER BY s.segment_id",
        [run_id],
    ).fetchall():
        # runs stored before segment_names: a name that naming would not give was set by a user
        names[int(seg)] = (str(name), bool(by_user) if by_user is not None else not is_generated(name))
    return Previous(
        run_id,
        tuple(row[1]),
        tuple(bool(f) for f in row[2]),
        np.asarray(row[3], dtype=float),
        np.asarray(row[4], dtype=float),
        np.asarray(row[5], dtype=float),
        names,
    )


def match(new: np.ndarray, old: np.ndarray) -> tuple[list[tuple[int, int, float]], np.ndarray, np.ndarray]:
    """One-to-one pairs (new index, old index, distance) of centroids in one space, each within its old
    centroid's radius; also the distance matrix (new x old) and the radii."""
    distances = np.sqrt(((new[:, None, :] - old[None, :, :]) ** 2).sum(axis=2))
    between = np.sqrt(((old[:, None, :] - old[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(between, np.inf)
    radius = RADIUS_SHARE * between.min(axis=1) if len(old) > 1 else np.full(len(old), np.inf)
    inside = distances < radius[None, :]
    cost = np.where(inside, distances, _FAR)
    rows, cols = linear_sum_assignment(cost)
    pairs = [
        (int(i), int(j), float(distances[i, j])) for i, j in zip(rows, cols, strict=True) if inside[i, j]
    ]
    return pairs, distances, radius


def in_space(previous: Previous, transform: Transform) -> np.ndarray | None:
    """The previous centroids in this run's scaled space, or None when the runs' features or log
    transform differ (then there is no shared space)."""
    if previous.features != tuple(transform.features) or previous.log_transform != tuple(
        transform.log_transform
    ):
        return None
    unscaled = previous.centroids * previous.scale + previous.center
    return (unscaled - transform.center) / transform.scale


def choose_names(
    previous: Previous | None,
    transform: Transform,
    centroids: np.ndarray,
    levels: Mapping[int, Mapping[str, float]],
    sizes: Mapping[int, int],
) -> tuple[list[NameChoice], str]:
    """Every segment's name and its origin, and one line saying what was compared."""
    old = in_space(previous, transform) if previous is not None else None
    if previous is None or old is None:
        generated = naming.name_segments(levels, sizes)
        if previous is None:
            note = "generated: no earlier run in the file"
            line = "Names: generated (no earlier run in the file)."
        else:
            note = f"generated: run {previous.run_id} clustered other features or another transform"
            line = (
                f"Names: generated; run {previous.run_id}'s segments were not compared: it clustered "
                f"{_features(previous.features, previous.log_transform)}, this run "
                f"{_features(transform.features, transform.log_transform)}."
            )
        return [_generated(seg, n, note) for seg, n in generated.items()], line
    pairs, distances, radius = match(np.asarray(centroids, dtype=float), old)
    old_ids = list(range(len(old)))  # centroid rows are segment ids
    kept: dict[int, NameChoice] = {}
    why_not: dict[int, str] = {}
    for i, j, dist in pairs:
        seg, old_seg = i, old_ids[j]
        old_name, by_user = previous.names.get(old_seg, (f"Segment {old_seg}", False))
        where = f"run {previous.run_id} segment {old_seg} {old_name!r}"
        reach = f"distance {dist:.3f}, within {radius[j]:.3f}"
        texts = kept_texts(old_name, levels[seg])
        if not by_user and texts is None and is_generated(old_name):
            why_not[seg] = f"matched {where} ({reach}), but that name no longer describes it"
            continue
        if texts is None:  # a user's name or a descriptive one: this run's generated texts describe it
            generated = naming.name_segments({seg: levels[seg]}, sizes, reserved=[old_name])[seg]
            texts = naming.SegmentName(old_name, generated.description, generated.action)
        who = ", a name set by a user" if by_user else ""
        kept[seg] = NameChoice(seg, texts, "carried", by_user, previous.run_id, old_seg, dist,
                               f"kept from {where}{who} ({reach})")  # fmt: skip
    rest = {seg: lv for seg, lv in levels.items() if seg not in kept}
    fresh = naming.name_segments(rest, sizes, reserved=[c.name.name for c in kept.values()])
    choices = []
    for seg in sorted(levels):
        if seg in kept:
            choices.append(kept[seg])
            continue
        j = int(np.argmin(distances[seg]))
        note = why_not.get(seg) or (
            f"nearest was run {previous.run_id} segment {j} {previous.names.get(j, ('?',))[0]!r} at "
            f"{distances[seg, j]:.3f}, "
            + (
                f"beyond its reach {radius[j]:.3f}"
                if distances[seg, j] >= radius[j]
                else "kept by a closer segment of this run"
            )
        )
        choices.append(_generated(seg, fresh[seg], "generated: " + note))
    line = (
        f"Names: matched with run {previous.run_id}'s {len(old_ids)} segments by centroid (one-to-one, "
        f"each within half the distance to its nearest neighbour); {len(kept)} of {len(levels)} kept."
    )
    return choices, line


def kept_texts(name: str, levels: Mapping[str, float]) -> naming.SegmentName | None:
    """Texts for a generated name kept from an earlier run, or None when it no longer holds for a segment
    with these levels: a table name whose gate fails, or a descriptive part ("High Basket") that is not this
    segment's word for any feature. A name of neither form (a user's) gets None too; see is_generated."""
    lv = naming._check({0: levels})[0]
    cand = next((c for c in naming.CANDIDATES if c.name == name), None)
    if cand is not None:
        rfm = {"recency_days", "frequency", "monetary"} <= lv.keys()
        if not rfm or naming._fit(cand, naming._signals(lv)) is None:
            return None
        numbers = ", ".join(naming._phrase(f, lv[f]) for f in naming._order(lv)[:2])
        return naming.SegmentName(cand.name, f"{cand.summary}; {numbers}.", cand.action)
    words = {naming._word(f, v): f for f, v in lv.items()}
    feats = [words.get(part) for part in _base(name).split(naming.SEP)]
    if not feats or any(f is None for f in feats):
        return None
    chosen = [str(f) for f in feats]
    description = naming._sentence(", ".join(naming._phrase(f, lv[f]) for f in chosen)) + "."
    return naming.SegmentName(name, description, naming._action(chosen[0], lv[chosen[0]]))


def is_generated(name: str) -> bool:
    """Whether a name has the form name_segments gives (a table name, or name words joined by naming.SEP)."""
    if any(c.name == name for c in naming.CANDIDATES):
        return True
    return all(
        p.split(" ", 1)[0] in ("Low", "Mid", "High") or p in ("Recent", "Mid Recency", "Lapsed")
        for p in _base(name).split(naming.SEP)
    )


def _base(name: str) -> str:
    """A descriptive name without the " 2", " 3" that keeps it unique."""
    return re.sub(r" \d+$", "", name)


def _generated(seg: int, name: naming.SegmentName, note: str) -> NameChoice:
    return NameChoice(seg, name, "generated", False, None, None, None, note)


def _features(features: tuple[str, ...], logged: tuple[bool, ...]) -> str:
    return ", ".join(f"log {f}" if flag else f for f, flag in zip(features, logged, strict=True))


def store(con: duckdb.DuckDBPyConnection, run_id: int, choices: list[NameChoice]) -> None:
    """Where each name of run `run_id` came from, into the staged copy ("out")."""
    con.executemany(
        "INSERT INTO out.segment_names VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [run_id, c.segment_id, c.source, c.by_user, c.from_run, c.from_segment, c.distance, c.note]
            for c in choices
        ],
    )
