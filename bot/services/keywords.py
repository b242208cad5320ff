"""What a proposal is about and where: the terms similar-proposal search and categories work on.

`analyse(text)` reads a text in three passes:

1. numbered places (3号楼, 5栋, 2单元) and then, longest match first, the domain synonym table's words
   and the landmarks (`bot/services/synonyms.py`, `bot/services/places.py`): 灯不亮 and 晚上照明太暗
   both name the group 路灯; 菜市场 is a place;
2. jieba cuts what is left; named places among its words (幸福路, 北段, 东门) join the places;
3. the remaining words, ranked by jieba's TF-IDF, are the text's other keywords (for problems the
   table does not know yet), minus words that say nothing about the problem (晚上, 老人, 坏了 ...).

The TF-IDF ranking is jieba's `analyse.extract_tags` (same IDF table, same formula) over the words
cut here, done without `jieba.analyse`, which is never imported: importing it also builds jieba's
part-of-speech tagger (`jieba.posseg`, for TextRank), about 100 MB per worker process we never use.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import logging
import re
import sys
import threading
import unicodedata
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

from bot.services import places, synonyms


def _import_jieba_without_pkg_resources() -> None:
    """jieba finds its files with setuptools' `pkg_resources` when it can (about 5 MB and a deprecation
    warning per process, for nothing else here) and with a plain path otherwise: it is told it cannot."""
    if "jieba" in sys.modules or "pkg_resources" in sys.modules:
        return
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # `import pkg_resources` raises ImportError
    try:
        import jieba  # noqa: F401
    finally:
        del sys.modules["pkg_resources"]


_import_jieba_without_pkg_resources()
import jieba  # noqa: E402

log = logging.getLogger(__name__)

# Words that say nothing about which problem a proposal is about: who, when, how bad, what to do, and
# the request everyone ends with (请议事室帮忙协调一下): shared by unrelated proposals, it made them "similar".
_STOPWORDS_TEXT = """
问题 建议 希望 我们 你们 他们 这个 那个 一下 一些 现在 目前 已经 还是 非常 特别 比较 没有 不能 可以
需要 能否 是否 居民 大家 情况 反映 觉得 感觉 因为 所以 如果 然后 时候 经常 每天 一直 有人 这里 那里
附近 相关 部门 解决 处理 麻烦 谢谢 请问 门口 严重 缺少 还有 一个 多月 一个多月 很多 不好 不够 太多
太少 总是 白天
晚上 夜里 夜间 半夜 凌晨 傍晚 早上 早晚 天天 老是 好几 几天 好几天 好多天 好久 很久 多次 半个月 一周
两个 星期 半年 多年 年久失修 越来越 三天两头 常年 平时 每次 上周 上个月
老人 老年人 孩子 小孩 娃娃 学生 行人 住户 业主 年轻人 上班族 职工 工人 员工 女孩子 群众 村民 人家
出门 回家 上班 下班 走路 上下楼 出行 经过 通行 使用 不敢 害怕 吓人 提心吊胆 心里 发毛 受不了 着急
危险 安全 不安全 隐患 安全隐患 不方便 方便 影响 休息 睡觉 生活 正常
坏了 损坏 破损 维修 修理 修好 没人管 没人修 没人 尽快 能不能 怎么办 一下子 不管 管管 有关 重视
差点 社区 小区 村里 镇上 提议 好几块 好几件 好几个 好几户 一整天 全是 到处 到处是 地上 东西 地方 不够用
好多 几次 一半 一大半 几户 几块 一堆 前面 后面 只能 根本 容易 不了 起来 下来 上去 下去 得到 直接 自己 反而 担心
帮忙 帮帮忙 帮帮 帮助 协调 协助 协商 商量 商量一下 议事 议事室 议事会 看看 关注 给予 恳请 拜托 领导
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

# The strongest keyword outside the synonym table: 0.75 x 0.75 = 0.56, so two texts whose strongest
# keyword is the same uncommon word (马蜂窝, 道闸) are similar even where the table knows neither.
WORD_WEIGHT = 0.75
MAX_WORDS = 5
PLACE_MARK = "\ue000"  # stands in for a landmark the scan took out, so jieba sees a boundary there
GAP = "，"  # stands in for a synonym word the scan took out

# jieba.analyse's IDF table, read straight from its file (see the module docstring).
IDF_PATH = Path(jieba.__file__).parent / "analyse" / "idf.txt"
# jieba.analyse.tfidf.KeywordExtractor.STOP_WORDS: its default stop words (English only).
JIEBA_STOP_WORDS = frozenset([
    "the", "of", "is", "and", "to", "in", "that", "we", "for", "an", "are", "by", "be", "as", "on", "with",
    "can", "if", "from", "which", "you", "it", "this", "then", "at", "have", "all", "not", "one", "has", "or",
])  # fmt: skip

_ready = threading.Event()
_lock = threading.Lock()
# The IDF table, compactly: 270,000 words as a dict of str -> float cost ~45 MB per process; sorted
# arrays of the words' hashes and their IDF values cost 3 MB. (Two words with the same 64-bit hash
# in one process would share an IDF value: a negligible, harmless error for ranking keywords.)
_idf_keys = array("q")
_idf_values = array("d")
_median_idf = 0.0


def _key(word: str) -> int:
    """A word's 64-bit key in the sorted tables. `hash` alone hashes a string's internal bytes, so a
    2-letter ASCII word and a 1-character CJK word with the same bytes collide (BP and 偂): the length
    tells them apart."""
    return hash(word) ^ len(word)


def _load_idf() -> None:
    global _idf_keys, _idf_values, _median_idf
    keys, values = array("q"), array("d")
    with IDF_PATH.open(encoding="utf-8") as lines:
        for line in lines:
            word, freq = line.strip().split(" ")
            keys.append(hash(word) ^ len(word))  # _key, inlined
            values.append(float(freq))
    _median_idf = sorted(values)[len(values) // 2]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    _idf_keys = array("q", (keys[i] for i in order))
    _idf_values = array("d", (values[i] for i in order))


def _idf(word: str) -> float:
    key = _key(word)
    index = bisect_left(_idf_keys, key)
    if index < len(_idf_keys) and _idf_keys[index] == key:
        return _idf_values[index]
    return _median_idf


def _tfidf(words: list[str], top: int) -> list[tuple[str, float]]:
    """jieba.analyse.extract_tags's ranking (TF x IDF) of words jieba has cut, without jieba.analyse."""
    freq: dict[str, float] = {}
    for word in words:
        freq[word] = freq.get(word, 0.0) + 1.0
    total = sum(freq.values()) or 1.0
    for word in freq:
        freq[word] *= _idf(word) / total
    return sorted(freq.items(), key=itemgetter(1), reverse=True)[:top]


class CompactFreq:
    """jieba's prefix dictionary (`Tokenizer.FREQ`: word or word prefix -> frequency, 0 for a prefix
    only), as sorted arrays of the words' hashes and their frequencies: ~9 MB instead of the ~60 MB
    dict jieba builds, which was most of a web worker's memory beyond the imported code. jieba only
    reads it (`in`, `[]`, `.get`) when it cuts, so its cuts are the same (two words with the same
    64-bit key in one process would share a frequency: negligible, as for the IDF table above).
    A look-up is a binary search (~1 µs against a dict's ~0.05): a few hundred µs more per text cut,
    and texts are cut on two dialog steps only, once each (the LRU cache below).
    """

    __slots__ = ("_keys", "_values")

    def __init__(self, dictionary: Path) -> None:
        # What jieba's Tokenizer.gen_pfdict builds, keyed by hash: a word's frequency (a repeated word:
        # the last line), and 0 for each of its prefixes that is not a word of its own.
        freq: dict[int, int] = {}
        with dictionary.open("rb") as lines:
            for line in lines:
                parts = line.strip().decode("utf-8").split(" ")
                if not parts[0]:
                    continue
                word = parts[0]
                freq[hash(word) ^ len(word)] = int(parts[1])  # _key, inlined: 1.3 million calls at start-up
                for end in range(1, len(word)):
                    freq.setdefault(hash(word[:end]) ^ end, 0)
        keys = sorted(freq)
        self._keys = array("q", keys)
        self._values = array("q", map(freq.__getitem__, keys))

    def _index(self, word: str) -> int:
        key = _key(word)
        index = bisect_left(self._keys, key)
        return index if index < len(self._keys) and self._keys[index] == key else -1

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._index(word) >= 0

    def __getitem__(self, word: str) -> int:
        index = self._index(word)
        if index < 0:
            raise KeyError(word)
        return self._values[index]

    def get(self, word: str, default: int | None = None) -> int | None:
        index = self._index(word)
        return self._values[index] if index >= 0 else default


def _load_dictionary() -> None:
    """jieba's default dictionary into a `CompactFreq` (jieba never builds its own dict of it)."""
    tokenizer = jieba.dt
    with tokenizer.lock:
        with tokenizer.get_dict_file() as default:
            dictionary = Path(default.name)
        total = 0
        with dictionary.open("rb") as lines:
            for line in lines:
                parts = line.strip().split(b" ")
                if parts[0]:
                    total += int(parts[1])
        tokenizer.FREQ = CompactFreq(dictionary)
        tokenizer.total = total
        tokenizer.initialized = True


def warm_up() -> None:
    """Load jieba's dictionary once per process (about a second); call at start-up, not per request."""
    if _ready.is_set():
        return
    with _lock:
        if not _ready.is_set():
            jieba.setLogLevel(logging.WARNING)
            _load_dictionary()
            _load_idf()
            _tfidf(["预热"], 1)
            _settle()
            _ready.set()


def _settle() -> None:
    """Once per process, after the load: what start-up built is done changing, so

    - its garbage goes back to the system: building the tables makes and drops about 50 MB of temporary
      objects, and glibc keeps freed heap pages mapped until asked to trim them (measured: 10 MB of a web
      worker's RSS for life; a no-op off glibc);
    - what is left is frozen out of the cyclic collector: a full collection walked its ~155,000 objects
      every time, 80-95 ms in which no callback is answered (the open loop's slowest replies).
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL(None).malloc_trim(0)
    gc.freeze()


@dataclass(frozen=True)
class Terms:
    """A text's problem terms (synonym group names, other keywords; name -> weight) and its places."""

    groups: tuple[tuple[str, float], ...]  # in the order the text names them
    words: tuple[tuple[str, float], ...]  # best first
    places: tuple[str, ...]

    @property
    def problem(self) -> dict[str, float]:
        return {**dict(self.words), **dict(self.groups)}


_Entry = tuple[str, str | None]  # (word, group name or None for a landmark)
_Pattern = tuple[re.Pattern[str], int, str]  # (pattern, length of its first part, group name)
_GAP_CHARS = r"[^，。！？、；：,.!?;:\s]{0,4}?"  # what "…" in a synonym stands for: up to 4 characters


def _build_scan_tables() -> tuple[dict[str, tuple[_Entry, ...]], dict[str, tuple[_Pattern, ...]]]:
    """First character -> literal words, longest first; first character -> "…" patterns (停…水)."""
    entries: dict[str, str | None] = {word: None for word in places.LANDMARKS}
    patterns: dict[str, list[_Pattern]] = {}
    for group in synonyms.GROUPS:
        for word in group.words:
            if "…" in word:
                parts = word.split("…")
                regex = _GAP_CHARS.join(re.escape(part) for part in parts)
                patterns.setdefault(word[0], []).append((re.compile(regex), len(parts[0]), group.name))
            else:
                entries[word] = group.name
    literal: dict[str, list[_Entry]] = {}
    for word, name in entries.items():
        literal.setdefault(word[0], []).append((word, name))
    return (
        {first: tuple(sorted(words, key=lambda e: -len(e[0]))) for first, words in literal.items()},
        {first: tuple(found) for first, found in patterns.items()},
    )


_LITERAL, _PATTERNS = _build_scan_tables()
_GROUP_WEIGHT = {group.name: group.weight for group in synonyms.GROUPS}


def _match_at(text: str, i: int) -> tuple[int, str | None] | None:
    """(length, group name or None for a landmark) of the word starting at `i`, if any: the longest plain
    word, unless a pattern whose first part is as long matches (电线杆…歪 over 电线杆; not 停…水 over 停车)."""
    literal = next(((len(w), name) for w, name in _LITERAL.get(text[i], ()) if text.startswith(w, i)), None)
    for pattern, head, name in _PATTERNS.get(text[i], ()):
        if literal is None or head >= literal[0]:
            match = pattern.match(text, i)
            if match:
                return match.end() - i, name
    return literal


def _scan(text: str) -> tuple[list[str], list[str], str]:
    """(synonym groups named, landmarks named, the text with both blanked out)."""
    groups: list[str] = []
    landmarks: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(text):
        found = _match_at(text, i)
        if found is None:
            rest.append(text[i])
            i += 1
            continue
        length, name = found
        if name is None:
            landmarks.append(text[i : i + length])
        else:
            groups.append(name)
        rest.append(GAP if name else PLACE_MARK)
        i += length
    return groups, landmarks, "".join(rest)


def _is_keyword(word: str) -> bool:
    return (
        2 <= len(word) <= 32
        and word[0].isalnum()  # never a mark of the keyword index (#, @)
        and not word.isdigit()
        and word not in STOPWORDS
        and word.lower() not in JIEBA_STOP_WORDS
    )


def analyse(text: str, room_name: str = "") -> Terms:
    """The text's terms; words of the room's own name (幸福社区 ...) count as places."""
    return _analyse(text, room_name)


# A dialog analyses the same description twice (similar look-up, then filing): remember recent ones.
@functools.lru_cache(maxsize=512)
def _analyse(text: str, room_name: str) -> Terms:
    warm_up()
    folded = unicodedata.normalize("NFKC", text).lower()
    rest, numbered = places.numbered(folded)
    groups, landmarks, rest = _scan(rest)
    # Without jieba's HMM: it glues unknown characters into non-words (有棵, 门坏) that would pass as keywords.
    words, named = places.split_places(jieba.lcut(rest, HMM=False), mark=PLACE_MARK)
    found_places = [*numbered, *landmarks, *named]
    kept: list[str] = []
    for word in words:
        if room_name and len(word) >= 2 and word in room_name:
            found_places.append(word)
        elif _is_keyword(word):
            # A compound also stands for its parts, so 马蜂窝 meets 蜂窝 and 信报箱 meets 报箱.
            kept.extend(w for w in jieba.lcut_for_search(word, HMM=False) if _is_keyword(w))
    ranked = _tfidf(kept, MAX_WORDS)
    strongest = ranked[0][1] if ranked else 1.0
    return Terms(
        groups=tuple((name, _GROUP_WEIGHT[name]) for name in dict.fromkeys(groups)),
        words=tuple((word, round(WORD_WEIGHT * weight / strongest, 4)) for word, weight in ranked),
        places=tuple(dict.fromkeys(p for p in found_places if p)),
    )
