"""The arithmetic of 征求意见 (groups, common ground, divisions) and 排序 (pairs, Bradley-Terry), on plain
synthetic votes: 20 and 2,000 voters, and planted orders."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from bot.services import opinions, priorities
from bot.services.opinions import AGREE, DISAGREE, PASS

COMMON, DIVIDES, OTHER_WAY, NOISE = 1, 2, 3, 4


def two_camps(voters: int, *, seed: int = 7, missing: float = 0.1) -> list[tuple[int, int, str]]:
    """Two opposed camps: both agree with COMMON, split on DIVIDES and OTHER_WAY, and vote at random on
    NOISE; each answer is flipped one time in ten, and some statements are never seen."""
    rng = random.Random(seed)
    votes = []
    for person in range(voters):
        camp = person % 2
        wanted = {
            COMMON: AGREE,
            DIVIDES: AGREE if camp == 0 else DISAGREE,
            OTHER_WAY: DISAGREE if camp == 0 else AGREE,
            NOISE: rng.choice([AGREE, DISAGREE, PASS]),
        }
        for statement, vote in wanted.items():
            if rng.random() < missing:
                continue
            if statement != NOISE and rng.random() < 0.1:
                vote = DISAGREE if vote == AGREE else AGREE
            votes.append((person, statement, vote))
    return votes


@pytest.mark.parametrize("voters", [20, 60, 2_000])
def test_two_camps_found(voters: int) -> None:
    """Two opposed camps come out as two groups; the statement both agree on is common ground and the
    ones they split on divide them, the most divided first."""
    analysis = opinions.analyse(two_camps(voters), [COMMON, DIVIDES, OTHER_WAY, NOISE])
    assert analysis.voters >= 0.99 * voters
    assert len(analysis.group_sizes) == 2
    assert [v.statement_id for v in analysis.consensus] == [COMMON]
    assert set(v.statement_id for v in analysis.divisive) == {DIVIDES, OTHER_WAY}
    # The groups are the camps (but for voters whose flipped answers put them between the camps).
    camps = Counter((person % 2, group) for person, group in analysis.groups.items())
    matched = max(camps[(0, 0)] + camps[(1, 1)], camps[(0, 1)] + camps[(1, 0)])
    # With 20 voters the random statement pulls harder on the projection: the statements still come out right.
    assert matched >= (0.6 if voters < 60 else 0.8) * len(analysis.groups)


def test_counts_add_up() -> None:
    """Each statement's counts are the votes cast on it, overall and summed over the groups."""
    votes = two_camps(20, missing=0)
    analysis = opinions.analyse(votes, [COMMON, DIVIDES, OTHER_WAY, NOISE])
    for view in analysis.statements:
        cast = Counter(v for _p, s, v in votes if s == view.statement_id)
        assert (view.total.agree, view.total.disagree, view.total.passed) == (cast[AGREE], cast[DISAGREE], cast[PASS])
        summed = sum(view.by_group, opinions.Counts())
        assert summed == view.total


def test_everyone_alike_is_one_group() -> None:
    """Voters who all vote alike are one group; an even split among them still divides."""
    votes = [(p, 1, AGREE) for p in range(30)] + [(p, 2, AGREE if p < 15 else DISAGREE) for p in range(30)]
    analysis = opinions.analyse(votes, [1, 2])
    assert [v.statement_id for v in analysis.consensus] == [1]
    assert [v.statement_id for v in analysis.divisive] == [2]


def test_few_voters_and_nothing_yet() -> None:
    """Three voters are one group; no votes at all is an empty analysis."""
    three = opinions.analyse([(1, 1, AGREE), (2, 1, AGREE), (3, 1, AGREE)], [1, 2])
    assert three.group_sizes == (3,) and [v.statement_id for v in three.consensus] == [1]
    empty = opinions.analyse([], [1, 2])
    assert empty.voters == 0 and empty.consensus == () and empty.divisive == ()


def test_two_thousand_voters_fast() -> None:
    """2,000 voters on ten statements are grouped well within a chat reply's time."""
    rng = random.Random(3)
    votes = [(p, s, rng.choice([AGREE, DISAGREE, PASS])) for p in range(2_000) for s in range(10)]
    started = time.perf_counter()
    opinions.analyse(votes, list(range(10)))
    assert time.perf_counter() - started < 3


# --- 排序 --------------------------------------------------------------------------------------------


def planted(people: int, order: list[int], *, seed: int, noise: float) -> list[tuple[int, int, str]]:
    """Answers of people who prefer the earlier item of `order`, wrong `noise` of the time, 都不急 now and then."""
    rng = random.Random(seed)
    dealt = priorities.assign_pairs(order, list(range(people)), per_person=3, seed=seed)
    answers = []
    for pairs in dealt.values():
        for first, second in pairs:
            if rng.random() < 0.05:
                answers.append((first, second, "neither"))
                continue
            better = first if order.index(first) < order.index(second) else second
            if rng.random() < noise:
                better = second if better == first else first
            answers.append((first, second, "first" if better == first else "second"))
    return answers


@pytest.mark.parametrize(("people", "noise"), [(20, 0.0), (2_000, 0.25)])
def test_planted_order_recovered(people: int, noise: float) -> None:
    """The fitted ranking is the planted order; scores fall down the ranking and margins are finite."""
    order = [14, 11, 17, 12, 16, 13]
    ranked = priorities.fit(sorted(order), planted(people, order, seed=5, noise=noise))
    assert [r.item_id for r in ranked] == order
    assert all(0 < r.margin < 50 for r in ranked)
    assert sum(r.comparisons for r in ranked) > 0


def test_pairs_dealt_evenly() -> None:
    """Every pair is dealt about as often as any other, each person gets distinct pairs, orientation varies."""
    items = list(range(6))
    dealt = priorities.assign_pairs(items, list(range(150)), per_person=3, seed=1)
    assert all(len(set(map(frozenset, pairs))) == 3 for pairs in dealt.values())
    times = Counter(frozenset(p) for pairs in dealt.values() for p in pairs)
    assert len(times) == 15 and max(times.values()) - min(times.values()) <= 1
    assert priorities.assign_pairs([1], [1, 2], per_person=3, seed=1) == {}


def test_unseen_and_unbeaten_items_stay_finite() -> None:
    """An item always preferred, or never compared, keeps a finite score (the prior)."""
    ranked = priorities.fit([1, 2, 3], [(1, 2, "first")] * 10)
    scores = {r.item_id: r for r in ranked}
    assert scores[1].score > scores[3].score > scores[2].score
    assert all(0 < r.score < 100 for r in ranked)
