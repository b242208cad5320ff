"""排序's arithmetic: which pairs each person gets, and a Bradley-Terry ranking with its confidence.

Bradley-Terry says item i beats item j with probability p_i / (p_i + p_j). The strengths are fitted by
Hunter's MM iterations (2004) on numpy, a dozen lines: `choix` fits the same model but gives no
standard errors and brings scipy's optimisers for what one loop does. Every item also meets a virtual
average item (strength 1) once won and once lost — a weak prior, so an item never or always
preferred keeps a finite strength and the strengths need no other normalisation. The confidence is the
standard error of log p_i from the Fisher information (the inverse of the observed information matrix).

What people see is each item's chance to be called more urgent than an average open item (0-100) with a
95 % range (± 1.96 standard errors through the logistic's slope). 都不急 (0) says nothing about which of
the two is more urgent: it is counted for each item, and left out of the fit.

Plain inputs and outputs (ids), no database: tested with 20 and 2,000 synthetic residents.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy (with the rest of the app's numeric stack) is imported where a round is analysed, not when the app starts:
# a web worker that never analyses one stays small (issue 12's memory target).

MAX_ITERATIONS = 500
TOLERANCE = 1e-9
Z95 = 1.96


@dataclass(frozen=True)
class Ranked:
    item_id: int
    score: float  # 0-100: the chance to be called more urgent than an average item
    margin: float  # ± this, a 95 % range of the score
    wins: int
    comparisons: int  # answered 1 or 2 with this item in the pair
    neither: int  # answered 0 (都不急) with this item in the pair


def assign_pairs(
    items: Sequence[int], people: Sequence[int], *, per_person: int, seed: int
) -> dict[int, list[tuple[int, int]]]:
    """Each person's pairs: every pair of items dealt round the people in a shuffled order, so each pair is
    asked about as often as any other; which one is shown first is drawn too (no position bias)."""
    rng = random.Random(seed)
    pairs = list(combinations(sorted(items), 2))
    if not pairs:
        return {}
    rng.shuffle(pairs)
    oriented = [(a, b) if rng.random() < 0.5 else (b, a) for a, b in pairs]
    per = min(per_person, len(oriented))
    return {person: [oriented[(n * per + k) % len(oriented)] for k in range(per)] for n, person in enumerate(people)}


def fit(items: Sequence[int], answers: Iterable[tuple[int, int, str]]) -> list[Ranked]:
    """(first id, second id, first|second|neither) answers -> the items, most urgent first."""
    import numpy as np

    index = {item: i for i, item in enumerate(items)}
    n = len(items)
    wins = np.zeros((n, n))  # wins[i, j]: times i was preferred to j
    neither = np.zeros(n, dtype=int)
    for first, second, answer in answers:
        if first not in index or second not in index:
            continue
        a, b = index[first], index[second]
        if answer == "first":
            wins[a, b] += 1
        elif answer == "second":
            wins[b, a] += 1
        elif answer == "neither":
            neither[a] += 1
            neither[b] += 1
    strength = _mm(wins)
    errors = _standard_errors(wins, strength)
    met = wins + wins.T
    log_strength = np.log(strength)
    # Against the average item: the geometric mean of the strengths, so the scores are about one another.
    chance = 1 / (1 + np.exp(-(log_strength - log_strength.mean())))
    ranked = [
        Ranked(
            item_id=item,
            score=round(100 * float(chance[i]), 1),
            margin=round(100 * Z95 * float(chance[i] * (1 - chance[i]) * errors[i]), 1),
            wins=int(wins[i].sum()),
            comparisons=int(met[i].sum()),
            neither=int(neither[i]),
        )
        for item, i in index.items()
    ]
    return sorted(ranked, key=lambda r: (-r.score, r.item_id))


def _mm(wins: np.ndarray) -> np.ndarray:
    """Hunter's MM update with the virtual average item: p_i = (W_i + 1) / (Σ_j n_ij / (p_i + p_j) + 2 / (p_i + 1))."""
    import numpy as np

    n = len(wins)
    met = wins + wins.T
    won = wins.sum(axis=1) + 1
    strength = np.ones(n)
    for _ in range(MAX_ITERATIONS):
        together = strength[:, None] + strength[None, :]
        denominator = (met / together).sum(axis=1) + 2 / (strength + 1)
        updated = won / denominator
        if np.max(np.abs(np.log(updated) - np.log(strength))) < TOLERANCE:
            return updated
        strength = updated
    return strength


def _standard_errors(wins: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Standard errors of each log strength less their mean (what the ranking is about; the common level
    is known only through the prior): the Fisher information of the comparisons and the prior's games."""
    import numpy as np

    n = len(strength)
    met = wins + wins.T
    p = strength[:, None] / (strength[:, None] + strength[None, :])
    weight = met * p * (1 - p)
    information = -weight
    prior = 2 * (strength / (strength + 1)) * (1 / (strength + 1))
    np.fill_diagonal(information, weight.sum(axis=1) - np.diag(weight) + prior)
    covariance = np.linalg.inv(information)
    centre = np.eye(n) - np.full((n, n), 1 / n)
    return np.sqrt(np.clip(np.diag(centre @ covariance @ centre.T), 0, None))
