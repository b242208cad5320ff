"""征求意见's arithmetic: group people by how they voted, then find what the groups agree on and what divides them.

Pol.is' way, made small. Each voter is a row of +1 (同意), -1 (不同意) and 0 (跳过) over the statements,
a statement they never saw filled with its mean; a principal-component projection to two dimensions
(scikit-learn's PCA; one, when the second is weak) and k-means with k in 2..5 chosen by the silhouette put voters with similar votes
together. Then, per statement and group, the share who agree:

- **common ground** (大家都同意的): most groups agree (smoothed share ≥ 60 % in at least two thirds of
  the groups, and overall); ranked by the product of the groups' shares, so one dissenting group counts;
- **what divides** (分歧最大的): one group mostly agrees and another mostly disagrees; ranked by the
  spread between the groups' shares. With one group only (too few voters, or no structure), a statement
  the voters split about evenly on.

Plain inputs and outputs (ids and vote words), no database: tested with 20 and 2,000 synthetic voters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy and scikit-learn (~100 MB) are imported where a round is analysed, not when the app starts:
# a web worker that never analyses one stays small (issue 12's memory target).

AGREE, DISAGREE, PASS = "agree", "disagree", "pass"
VALUES = {AGREE: 1.0, DISAGREE: -1.0, PASS: 0.0}
MIN_VOTES = 2  # a voter is grouped once they answered this many statements (or all of them, when fewer)
MIN_GROUPED = 6  # fewer grouped voters than this: one group, nothing to cluster
MAX_GROUPS = 5
MIN_GROUP_SHARE = 0.1  # a split leaving a group smaller than this share (or 3 people) is not considered
MIN_SILHOUETTE = 0.2  # a weaker split than this is no real grouping: one group
# More groups must earn their place: k+1 is taken only when its silhouette beats the best smaller k by
# this much. Votes are a lattice (a noisy statement splits each camp into agree/disagree/pass knots),
# and the raw best silhouette would report those knots as groups.
PARSIMONY = 0.1
MIN_SECOND = 0.5  # the second principal component is kept when it carries half the first's variance
BLUR = 0.4  # the noise added to each vote (±1) before scoring a split
SILHOUETTE_SAMPLE = 1_000  # silhouette is quadratic: 2,000 voters are scored on a sample
AGREED = 0.6  # a group "agrees" when its smoothed agree share reaches this
SPLIT = 0.5  # a group "disagrees" when its disagree share reaches this
MIN_SPREAD = 0.4  # dividing statements: the groups' agree shares differ at least this much


@dataclass(frozen=True)
class Counts:
    agree: int = 0
    disagree: int = 0
    passed: int = 0

    @property
    def seen(self) -> int:
        return self.agree + self.disagree + self.passed

    @property
    def agree_share(self) -> float:
        """Smoothed (one agree and one other in advance), so a group of two agreeing is not 100 %."""
        return (self.agree + 1) / (self.seen + 2)

    @property
    def disagree_share(self) -> float:
        return (self.disagree + 1) / (self.seen + 2)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.agree + other.agree, self.disagree + other.disagree, self.passed + other.passed)


@dataclass(frozen=True)
class StatementView:
    statement_id: int
    total: Counts
    by_group: tuple[Counts, ...]  # in the order of Analysis.group_sizes
    consensus: float  # the product of the groups' agree shares
    spread: float  # how far apart the groups' agree shares are (0..1)


@dataclass(frozen=True)
class Analysis:
    voters: int
    group_sizes: tuple[int, ...]  # largest first; people with too few votes are in no group
    groups: dict[int, int]  # person id -> group index
    statements: tuple[StatementView, ...]  # in the order given
    consensus: tuple[StatementView, ...]  # common ground, strongest first
    divisive: tuple[StatementView, ...]  # what divides, most divided first


def analyse(votes: Iterable[tuple[int, int, str]], statement_ids: Sequence[int], *, seed: int = 0) -> Analysis:
    """(person id, statement id, agree|disagree|pass) triples -> the groups, common ground and divisions."""
    from threadpoolctl import threadpool_limits

    columns = {sid: j for j, sid in enumerate(statement_ids)}
    rows: dict[int, dict[int, str]] = {}
    for person_id, statement_id, vote in votes:
        if statement_id in columns and vote in VALUES:
            rows.setdefault(person_id, {})[columns[statement_id]] = vote
    people = sorted(rows)
    # One thread: k-means' OpenMP threads fight every other process on a busy machine (2,000 voters took
    # seconds with them, milliseconds without).
    with threadpool_limits(limits=1):
        groups = _group(people, rows, len(statement_ids), seed)
    sizes = _sizes(groups)
    views = tuple(_view(sid, j, people, rows, groups, len(sizes)) for sid, j in columns.items())
    return Analysis(
        voters=len(people),
        group_sizes=sizes,
        groups=groups,
        statements=views,
        consensus=tuple(sorted((v for v in views if _is_common(v)), key=lambda v: -v.consensus)),
        divisive=tuple(sorted((v for v in views if _is_divisive(v) and not _is_common(v)), key=lambda v: -v.spread)),
    )


def _group(people: list[int], rows: dict[int, dict[int, str]], width: int, seed: int) -> dict[int, int]:
    """Person -> group index, the largest group 0. Voters with too few votes stay out."""
    import numpy as np
    from sklearn.decomposition import PCA

    need = min(MIN_VOTES, width)
    grouped = [p for p in people if len(rows[p]) >= need]
    if len(grouped) < MIN_GROUPED or width < 2:
        return dict.fromkeys(people, 0)  # too few to cluster: everyone who voted is one group
    matrix = np.full((len(grouped), width), np.nan)
    for i, person in enumerate(grouped):
        for j, vote in rows[person].items():
            matrix[i, j] = VALUES[vote]
    means = np.nan_to_num(np.nanmean(np.where(np.isnan(matrix), np.nan, matrix), axis=0))
    matrix = np.where(np.isnan(matrix), means, matrix)
    if np.allclose(matrix, matrix[0]):
        return dict.fromkeys(grouped, 0)
    pca = PCA(n_components=min(2, width), random_state=seed)
    points = pca.fit_transform(matrix)
    explained = pca.explained_variance_
    if len(explained) == 2 and explained[1] < MIN_SECOND * explained[0]:
        # A weak second direction is a statement people answer at random, not a second opinion: on it
        # every camp falls into agree / disagree / pass knots that k-means would report as groups.
        points = points[:, :1]
    labels = _best_k(points, matrix, seed)
    if labels is None:
        return dict.fromkeys(grouped, 0)
    # Number the groups by size, largest first, so the same votes always give the same names.
    order = sorted(set(labels.tolist()), key=lambda g: (-int((labels == g).sum()), g))
    renumber = {g: n for n, g in enumerate(order)}
    return {person: renumber[int(label)] for person, label in zip(grouped, labels, strict=True)}


def _best_k(points: np.ndarray, votes: np.ndarray, seed: int) -> np.ndarray | None:
    """k-means on the projection for k in 2..5; each split is scored by its silhouette on the votes
    themselves, blurred a little: with few statements many voters vote identically, and knots of
    identical voters (distance 0 inside) would always score best — one answer apart counts as near."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    blurred = votes + np.random.default_rng(seed).normal(0, BLUR, votes.shape)
    distinct = len(np.unique(points.round(6), axis=0))
    best: tuple[float, np.ndarray] | None = None
    smallest = max(3, MIN_GROUP_SHARE * len(points))
    for k in range(2, min(MAX_GROUPS, distinct, len(points) - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(points)
        if np.bincount(labels).min() < smallest:
            continue
        sample = min(SILHOUETTE_SAMPLE, len(points))
        score = float(silhouette_score(blurred, labels, sample_size=sample, random_state=seed))
        if best is None or score > best[0] + PARSIMONY:
            best = (score, labels)
    if best is None or best[0] < MIN_SILHOUETTE:
        return None
    return best[1]


def _sizes(groups: dict[int, int]) -> tuple[int, ...]:
    import numpy as np

    if not groups:
        return ()
    counted = np.bincount(np.fromiter(groups.values(), dtype=int))
    return tuple(int(n) for n in counted)


def _view(
    statement_id: int,
    column: int,
    people: list[int],
    rows: dict[int, dict[int, str]],
    groups: dict[int, int],
    group_count: int,
) -> StatementView:
    import numpy as np

    tallies = [[0, 0, 0] for _ in range(group_count)]
    total = [0, 0, 0]
    slot = {AGREE: 0, DISAGREE: 1, PASS: 2}
    for person in people:
        vote = rows[person].get(column)
        if vote is None:
            continue
        total[slot[vote]] += 1
        group = groups.get(person)
        if group is not None:
            tallies[group][slot[vote]] += 1
    by_group = tuple(Counts(*t) for t in tallies)
    shares = [c.agree_share for c in by_group if c.seen] or [Counts(*total).agree_share]
    spread = max(shares) - min(shares)
    decided = total[0] + total[1]
    if len(shares) < 2 and decided:  # one group: how evenly the voters split instead
        spread = 1 - abs(total[0] - total[1]) / decided
    return StatementView(
        statement_id=statement_id,
        total=Counts(*total),
        by_group=by_group,
        consensus=float(np.prod(shares)),
        spread=spread,
    )


def _is_common(view: StatementView) -> bool:
    seen = [c for c in view.by_group if c.seen]
    if view.total.seen == 0 or view.total.agree_share < AGREED:
        return False
    agreeing = sum(1 for c in seen if c.agree_share >= AGREED)
    return agreeing * 3 >= len(seen) * 2


def _is_divisive(view: StatementView) -> bool:
    seen = [c for c in view.by_group if c.seen]
    if len(seen) >= 2:
        agrees = any(c.agree_share >= SPLIT for c in seen)
        disagrees = any(c.disagree_share >= SPLIT for c in seen)
        return agrees and disagrees and view.spread >= MIN_SPREAD
    # One group: a statement the voters split about evenly on (both sides at least a third of the answers).
    decided = view.total.agree + view.total.disagree
    return decided >= 4 and min(view.total.agree, view.total.disagree) * 3 >= decided
