"""The fixed list of proposal categories, and which one or two a proposal belongs to.

A proposal's categories come from the synonym groups its text names (`bot/services/synonyms.py`,
each group belongs to one category), never from raw jieba words: statistics, the Excel export and the
待审 list show these names only. They are stored space-separated in `proposals.tags`. The list and
what each category holds are documented in docs/architecture.md ("Categories").
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.services.synonyms import GROUPS, PROBLEM

OTHER = "其他"
# Order is the order of the admin's chart and of ties: a proposal's first-named problem wins a tie.
CATEGORIES: tuple[str, ...] = (
    "交通出行",
    "环境卫生",
    "公共设施",
    "安全隐患",
    "物业管理",
    "水电气暖",
    "绿化园林",
    "噪音扰民",
    "养老服务",
    "教育医疗",
    "生活服务",
    OTHER,
)
GROUP_CATEGORY: dict[str, str] = {group.name: group.category for group in GROUPS}
_unknown = {g.category for g in GROUPS} - set(CATEGORIES)
if _unknown:  # a typo in the synonym table must not invent a category
    raise ValueError(f"synonym groups name unknown categories: {sorted(_unknown)}")

MAX_PER_PROPOSAL = 2
# A second category only when it weighs at least this share of the first (a passing mention is not one).
SECOND_SHARE = 0.7


def assign(groups: Mapping[str, float]) -> list[str]:
    """One or two categories for the synonym groups a text names (group name -> weight), else 其他.

    Problems decide; the things they happen to only where no problem is named (电瓶车在楼道充电 is
    安全隐患, not also 交通出行 for the 电瓶车).
    """
    problems = {name: weight for name, weight in groups.items() if weight >= PROBLEM}
    weights: dict[str, float] = {}
    for name, weight in (problems or groups).items():  # in the order the text names them: ties go to the first
        category = GROUP_CATEGORY.get(name)
        if category is not None:
            weights[category] = weights.get(category, 0.0) + weight
    ranked = sorted(weights.items(), key=lambda item: -item[1])
    if not ranked:
        return [OTHER]
    top = ranked[0][1]
    return [name for name, weight in ranked[:MAX_PER_PROPOSAL] if weight >= top * SECOND_SHARE]


def stored(names: list[str]) -> str:
    """How categories are kept in `proposals.tags`."""
    return " ".join(names)


def of_stored(tags: str | None) -> list[str]:
    """The categories kept in `proposals.tags`; anything else there (raw words from before) reads as 其他."""
    names = [word for word in (tags or "").replace("，", " ").replace(",", " ").split() if word in CATEGORIES]
    return names or [OTHER]


def label(tags: str | None) -> str:
    """For people: 公共设施、安全隐患."""
    return "、".join(of_stored(tags))
