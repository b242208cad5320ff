"""Where a problem is, as residents write it: buildings, roads, landmarks, directions.

Place words never make two proposals similar (3号楼路灯坏了 is not 3号楼垃圾桶太少); they only rank a
proposal about the same problem at the same place above one elsewhere. This module recognises them:

* numbered units, in the raw text: 3号楼 / 三号楼 / 5栋 / 2单元 / 301室 / 三组 / 二车间, normalised
  (三号楼 and 3栋 are both 3号楼) so different spellings of one building still meet;
* named places, among jieba's words: a name before a road or estate suffix (幸福路, 和平街, 红星巷,
  金桥花园), a direction (北段, 东门, 南侧, 城东), or a landmark (菜市场, 地下车库, 宿舍 ...).

Landmarks are looked up with the synonym table's longest-match scan (`bot.services.keywords`), so a
landmark that starts like a problem word wins over it when longer (公交站 is a place, 公交 a problem).
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Places that are also where problems happen, never the problem itself. A word here is a place even
# where a synonym group knows a shorter word inside it (电梯里 is where, 电梯 is what).
LANDMARKS = _words(
    """
    菜市场 菜场 农贸市场 集市 超市 商场 市场 小卖部 商铺 门面
    小学 中学 学校 校门口 村小 村小学 中心校 幼儿园 医院 卫生院 卫生站 银行 邮局 派出所 村委会 居委会 社区服务中心
    公交站 汽车站 火车站 地铁站 地铁口 站台 下穿通道 地下通道 过街地道 过街天桥 天桥 隧道 高架桥 桥下 桥头 立交桥
    公园 广场 文化广场 中心广场 篮球场 足球场 操场 球场 停车场 地下车库 车库 地库 地下室
    活动中心 会所 门卫室 门岗 传达室 保安亭 大门 单元门 楼梯口 电梯里 电梯间 电梯口 坐电梯 乘电梯
    宿舍 宿舍楼 车间 厂区 厂房 厂外 办公楼 仓库
    池塘 水塘 河道 小河 河边 河里 湖边 景观池 水景池 田里 田间 菜园
    老小区 老旧小区 楼顶 围墙边 墙边 墙角 院子 院里 巷子 巷子里 小巷
    路边 马路边 街边 路口 十字路口 交叉口 拐角 转角 村口 村头 村里 镇上 城里 主干道 主路 辅路 小区里 小区内
    """
)
# Where relative to something, as jieba cuts them (东门外 is one word, so these are not scanned for).
RELATIVE = _words("楼下 楼上 楼前 楼后 楼外 窗前 窗外 门前 门外 门口 底下 上面 下面 里面 外面 中间")

# A word ending like this names a place when it is longer than the suffix and not a common noun
# (幸福路, 和平街, 金桥花园; not 马路, 道路, 走路).
NAME_SUFFIXES = (
    "路", "街", "巷", "弄", "里", "大道", "大街", "胡同", "社区", "小区", "花园", "家园", "新村", "公寓",
    "大厦", "苑", "村", "镇", "乡", "区",
)  # fmt: skip
NOT_NAMES = _words(
    """
    马路 道路 走路 公路 修路 小路 大路 土路 铁路 水路 电路 线路 思路 出路 上路 夜路 过马路 人行道
    社区 小区 这里 那里 哪里 家里 心里 夜里 屋里 手里
    """
)
# Suffixes jieba leaves as words of their own: 幸福/路, 建设/巷, 幸福/社区, 人民/广场.
SUFFIX_WORDS = _words("路 街 巷 弄 里 村 镇 苑 大道 大街 社区 小区 花园 家园 新村 公寓 大厦 广场 公园")

DIRECTION = re.compile(
    r"^(?:[村城镇厂]?[东南西北]{1,2}(?:门外?|门口|侧|边|面|段|角|头|口|区|片|墙)?"
    r"|[东南西北中][段区]|[东西南北]{2}角|对面|旁边|附近|周边|一带|沿线|两侧|两边|这边|那边)$"
)

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER = r"(?:[0-9]+|[零〇一二两三四五六七八九十百]+)"
# Units after a number, and what each is normalised to (栋, 幢, 座 and 号楼 name one building).
_UNITS = {
    "号楼": "号楼", "栋楼": "号楼", "栋": "号楼", "幢": "号楼", "座": "号楼", "号院": "号院", "单元": "单元",
    "号门": "号门", "室": "室", "层": "层", "楼": "层", "期": "期", "区": "区", "组": "组", "车间": "车间",
    "号": "号",
}  # fmt: skip
NUMBERED = re.compile(
    rf"第?(?P<number>{_NUMBER})\s*(?P<unit>{'|'.join(sorted(_UNITS, key=len, reverse=True))})"
    r"(?!灰)"  # 一层灰 is dust, not a floor
)


def chinese_number(text: str) -> int | None:
    """三 -> 3, 十二 -> 12, 二十 -> 20, 12 -> 12 (what building and unit numbers need; None otherwise)."""
    if text.isdigit():
        return int(text)
    tens, ten, ones = text.partition("十")
    if not ten:
        return _DIGITS.get(text)
    if len(tens) > 1 or len(ones) > 1 or (tens and tens not in _DIGITS) or (ones and ones not in _DIGITS):
        return None
    return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[ones] if ones else 0)


def numbered(text: str) -> tuple[str, list[str]]:
    """(the text with numbered units blanked out, the units normalised: 三号楼 -> 3号楼, 5栋 -> 5号楼)."""
    found: list[str] = []

    def take(match: re.Match[str]) -> str:
        number = chinese_number(match["number"])
        if number is None:
            return match[0]
        found.append(f"{number}{_UNITS[match['unit']]}")
        return "，"

    return NUMBERED.sub(take, text), found


_NAME = re.compile(f".(?:{'|'.join(NAME_SUFFIXES)})$")


def is_name(word: str) -> bool:
    """幸福路, 和平街, 金桥花园 ...: a name with a place suffix (not 马路, 道路)."""
    return word not in NOT_NAMES and bool(_NAME.search(word)) and word not in SUFFIX_WORDS


def is_place_word(word: str) -> bool:
    if len(word) < 2:
        return False
    return word in LANDMARKS or word in RELATIVE or bool(DIRECTION.match(word)) or is_name(word)


def split_places(words: list[str], *, mark: str) -> tuple[list[str], list[str]]:
    """(words that are not places, place words) among jieba's words.

    A name before a suffix is joined to it (幸福/路 -> 幸福路); a name before `mark` (where a landmark
    was taken out: 实验 before 小学) is a place too.
    """
    kept: list[str] = []
    found: list[str] = []
    for word in words:
        named = bool(kept) and len(kept[-1]) >= 2 and kept[-1].isalnum()
        if word in SUFFIX_WORDS and named:
            found.append(kept.pop() + word)
        elif word == mark:
            if named:
                found.append(kept.pop())
        elif is_place_word(word):
            found.append(word)
        else:
            kept.append(word)
    return kept, found
