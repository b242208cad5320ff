"""Chinese keywords (jieba TF-IDF) for tagging proposals and finding similar ones.

The TF-IDF step is jieba's `analyse.extract_tags` algorithm (same tokenizer, same IDF table, same
ranking), done here so `jieba.analyse` is never imported: importing it also builds jieba's
part-of-speech tagger (`jieba.posseg`, for TextRank), about 100 MB per worker process we never use.
"""

from __future__ import annotations

import functools
import logging
import threading
from array import array
from bisect import bisect_left
from operator import itemgetter
from pathlib import Path

import jieba

log = logging.getLogger(__name__)

# Words that say nothing about what a proposal is about.
_STOPWORDS_TEXT = """
问题 建议 希望 我们 你们 他们 这个 那个 一下 一些 现在 目前 已经 还是 非常 特别 比较 没有 不能 可以
需要 能否 是否 居民 大家 情况 反映 觉得 感觉 因为 所以 如果 然后 时候 经常 每天 一直 有人 这里 那里
附近 相关 部门 解决 处理 麻烦 谢谢 请问 门口 严重 缺少 还有 一个 多月 一个多月 很多 不好 不够 太多
太少 总是 白天
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

SPLIT_WORDS = ("灯不亮", "不亮")
DOMAIN_WORDS = (
    "路灯",
    "井盖",
    "电动车",
    "充电桩",
    "垃圾分类",
    "停车位",
    "斑马线",
    "红绿灯",
    "消防通道",
    "楼道",
    "物业",
    "快递柜",
    "健身器材",
    "污水",
    "积水",
    "噪音",
    "占道经营",
    "老旧小区",
    "加装电梯",
)

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


def _load_idf() -> None:
    global _idf_keys, _idf_values, _median_idf
    keys, values = array("q"), array("d")
    with IDF_PATH.open(encoding="utf-8") as lines:
        for line in lines:
            word, freq = line.strip().split(" ")
            keys.append(hash(word))
            values.append(float(freq))
    _median_idf = sorted(values)[len(values) // 2]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    _idf_keys = array("q", (keys[i] for i in order))
    _idf_values = array("d", (values[i] for i in order))


def _idf(word: str) -> float:
    key = hash(word)
    index = bisect_left(_idf_keys, key)
    if index < len(_idf_keys) and _idf_keys[index] == key:
        return _idf_values[index]
    return _median_idf


def _tfidf(text: str, top: int) -> list[tuple[str, float]]:
    """jieba.analyse.extract_tags(text, topK=top, withWeight=True), without jieba.analyse."""
    freq: dict[str, float] = {}
    for word in jieba.cut(text):
        if len(word.strip()) < 2 or word.lower() in JIEBA_STOP_WORDS:
            continue
        freq[word] = freq.get(word, 0.0) + 1.0
    total = sum(freq.values())
    for word in freq:
        freq[word] *= _idf(word) / total
    return sorted(freq.items(), key=itemgetter(1), reverse=True)[:top]


def warm_up() -> None:
    """Load jieba's dictionary once per process (about a second); call at start-up, not per request."""
    if _ready.is_set():
        return
    with _lock:
        if not _ready.is_set():
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            # Words jieba cuts wrongly in complaints: `路灯不亮` must yield 路灯, not 灯不亮.
            for word in SPLIT_WORDS:
                jieba.del_word(word)
            for word in DOMAIN_WORDS:
                jieba.add_word(word)
            _load_idf()
            _tfidf("预热", 1)
            _ready.set()


def extract(text: str, top: int = 8) -> list[tuple[str, float]]:
    """The text's keywords with weights scaled so the strongest is 1.0."""
    return list(_extract(text, top))


# A dialog extracts the same description twice (similar look-up, then filing): remember recent ones.
@functools.lru_cache(maxsize=512)
def _extract(text: str, top: int) -> tuple[tuple[str, float], ...]:
    warm_up()
    pairs = [
        (word, float(weight))
        for word, weight in _tfidf(text, top * 2)
        if word not in STOPWORDS and len(word) >= 2 and not word.isdigit() and len(word) <= 32
    ][:top]
    if not pairs:
        return ()
    strongest = max(weight for _, weight in pairs)
    return tuple((word, round(weight / strongest, 4)) for word, weight in pairs)


def tags(text: str, top: int = 3) -> list[str]:
    return [word for word, _ in extract(text, top)]
