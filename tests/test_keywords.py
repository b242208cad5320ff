"""What a proposal is about and where: synonym groups, place words and categories (pure, no database)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.services import categories, keywords, places, synonyms
from bot.services.proposals import INDEX_RULES, indexed, match_rank


def _problems(text: str) -> set[str]:
    return set(keywords.analyse(text).problem)


def _groups(text: str) -> set[str]:
    return {name for name, _ in keywords.analyse(text).groups}


def _similar(text: str, proposal: str) -> bool:
    """Whether similar-proposal search would offer `proposal` for `text` (the rule without the database)."""
    return match_rank(indexed(text), indexed(proposal).keywords) is not None


def test_the_same_building_is_not_the_same_problem() -> None:
    """3号楼路灯坏了 and 3号楼垃圾桶太少 share their place only, and a place never makes two texts similar."""
    lamp, bins = keywords.analyse("3号楼路灯坏了"), keywords.analyse("3号楼垃圾桶太少")
    assert lamp.places == bins.places == ("3号楼",)
    assert not set(lamp.problem) & set(bins.problem)
    assert not _similar("3号楼路灯坏了", "3号楼垃圾桶太少")
    assert _similar("3号楼路灯坏了", "5号楼路灯不亮")


def test_the_same_place_ranks_the_same_problem_first() -> None:
    query = indexed("3号楼路灯坏了")
    here, there = (match_rank(query, indexed(t).keywords) for t in ("三号楼晚上照明太暗", "5号楼晚上照明太暗"))
    assert here is not None and there is not None and here > there


@pytest.mark.parametrize(
    ("said", "said_otherwise"),
    [
        ("路灯不亮", "晚上照明太暗"),
        ("3号楼路灯坏了", "三号楼门前一到晚上黑漆漆的"),
        ("垃圾桶太少", "垃圾投放点不够，垃圾箱天天满"),
        ("电瓶车乱停", "电动车到处乱停放"),
        ("小区停车位太少", "回家找不到车位"),
        ("一下雨就积水", "路口内涝严重，下雨就淹"),
        ("广场舞噪音扰民", "跳舞的音响太吵"),
        ("东门的井盖松了", "窨井盖丢了"),
        ("楼道里堆满杂物", "楼梯间乱堆东西"),
        ("希望老楼加装电梯", "老人爬楼太难，盼着装电梯"),
        ("健身器材坏了", "健身设施年久失修"),
        ("下水道堵了", "排水管堵塞，厕所返水"),
        ("这周停了好几次水", "经常停水"),
    ],
)
def test_different_words_for_one_problem_are_similar(said: str, said_otherwise: str) -> None:
    assert _groups(said) & _groups(said_otherwise)
    assert _similar(said, said_otherwise) and _similar(said_otherwise, said)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("3号楼路灯坏了", "3号楼垃圾桶太少"),
        ("电动车乱停", "电动车被偷了"),  # one thing (电动车), two problems
        ("电梯老是坏，困过人", "有人在电梯里遛狗不牵绳"),  # 电梯里 is where, not what
        ("楼道里电动车充电", "楼道灯坏了"),
        ("食堂饭菜太贵", "食堂卫生太差"),
    ],
)
def test_a_shared_place_or_thing_is_not_a_shared_problem(one: str, other: str) -> None:
    assert not _similar(one, other) and not _similar(other, one)


def test_an_uncommon_word_both_put_first_makes_a_match_the_table_does_not_know() -> None:
    assert not _groups("小区的喷泉不出水了")  # the table knows no 喷泉
    assert _similar("小区的喷泉不出水了", "喷泉坏了好久，一直不喷")
    # ... but not when both name problems the table knows and they differ (文化礼堂 is a name).
    assert not _similar("文化礼堂屋顶漏雨", "文化礼堂前的广场没有路灯")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("三号楼路灯坏了", {"3号楼"}),
        ("5栋2单元楼道堆满杂物", {"5号楼", "2单元"}),
        ("幸福路北段一下雨就积水", {"幸福路", "北段"}),
        ("小区东门外的井盖松了", {"东门外"}),
        ("和平街菜市场门口有人占道经营", {"和平街", "菜市场"}),
        ("实验小学门口接送车辆乱停", {"实验", "小学"}),
    ],
)
def test_places_are_found_and_spelled_one_way(text: str, expected: set[str]) -> None:
    assert expected <= set(keywords.analyse(text).places)


def test_place_words_are_kept_out_of_the_problem() -> None:
    assert _problems("幸福路北段3号楼东门") == set()
    assert places.numbered("三号楼、3栋、十二幢")[1] == ["3号楼", "3号楼", "12号楼"]


def test_the_longer_word_wins() -> None:
    assert _groups("电瓶车在楼道充电") == {"电动车", "违规充电"}  # 楼道充电, not 楼道
    assert _groups("停车场积水") == {"积水"}  # 停车场 is a place; 停…水 does not read 停车场积水
    assert _groups("电线杆歪了") == {"线缆杂乱"}  # 电线杆…歪 over 电线杆


def test_the_rooms_own_name_is_a_place() -> None:
    terms = keywords.analyse("青山这边的路灯不亮", "青山村议事厅")
    assert set(terms.problem) == {"路灯"} and "青山" in terms.places


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3号楼路灯坏了", ["公共设施"]),
        ("小区垃圾桶太少，夏天臭气熏天", ["环境卫生"]),
        ("电瓶车在楼道里充电，太危险了", ["安全隐患"]),
        ("车辆乱停，占用了消防通道", ["交通出行", "安全隐患"]),
        ("希望社区办个老年食堂", ["养老服务"]),
        ("宿舍冬天没有暖气", ["水电气暖"]),
        ("晚上广场舞太吵", ["噪音扰民"]),
        ("北段好几块修好了", ["其他"]),  # no problem the table knows: never a raw word as a category
    ],
)
def test_categories_of_a_text(text: str, expected: list[str]) -> None:
    assert categories.assign(dict(keywords.analyse(text).groups)) == expected


def test_categories_are_read_back_for_people() -> None:
    assert categories.label("交通出行 安全隐患") == "交通出行、安全隐患"
    assert categories.of_stored("号楼 修好 北段") == ["其他"]  # raw words from before `shangliang reindex`
    assert categories.of_stored("") == ["其他"]


def test_the_synonym_table_holds_together() -> None:
    """Every group has a listed category, a unique name, and no word means two things."""
    assert len(synonyms.GROUPS) >= 40
    assert {g.category for g in synonyms.GROUPS} <= set(categories.CATEGORIES)
    assert len(synonyms.GROUP_NAMES) == len(synonyms.GROUPS)
    seen: dict[str, str] = {}
    for group in synonyms.GROUPS:
        for word in group.words:
            assert word not in seen, f"{word} is in {seen.get(word)} and {group.name}"
            assert word not in places.LANDMARKS, f"{word} is a landmark and in {group.name}"
            seen[word] = group.name


# What `indexed` makes of the labelled set's 651 texts, under each INDEX_RULES (a digest of tags and rows).
INDEXED_UNDER = {2: "3e2845a4259dba43"}
LABELLED = Path(__file__).resolve().parents[1] / "bench" / "similar_labelled.txt"


def test_what_indexing_makes_of_a_text_changes_only_with_a_new_index_rules_number() -> None:
    """Stored proposals are reindexed when INDEX_RULES moves past theirs, so a change to the synonym table, the
    stop words, the places or the code that reads them must bump it: then record the new digest here."""
    lines = [line for line in LABELLED.read_text("utf-8").splitlines() if line.strip() and not line.startswith("#")]
    texts = [text for line in lines if (text := line.split(":", 1)[-1].split("=>")[0].strip(" ?"))]
    made = [(index.tags, index.keywords) for index in (indexed(text, "幸福社区议事室") for text in texts)]
    digest = hashlib.sha256(repr(made).encode()).hexdigest()[:16]
    assert digest == INDEXED_UNDER.get(INDEX_RULES), (
        f"indexed() now makes {digest} of the labelled texts: bump INDEX_RULES and record it in INDEXED_UNDER"
    )
