"""Chinese keywords (jieba TF-IDF) for tagging proposals and finding similar ones."""

from __future__ import annotations

import logging
import threading

import jieba
import jieba.analyse

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

_ready = threading.Event()
_lock = threading.Lock()


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
            jieba.analyse.extract_tags("预热")
            _ready.set()


def extract(text: str, top: int = 8) -> list[tuple[str, float]]:
    """The text's keywords with weights scaled so the strongest is 1.0."""
    warm_up()
    pairs = [
        (word, float(weight))
        for word, weight in jieba.analyse.extract_tags(text, topK=top * 2, withWeight=True)
        if word not in STOPWORDS and len(word) >= 2 and not word.isdigit() and len(word) <= 32
    ][:top]
    if not pairs:
        return []
    strongest = max(weight for _, weight in pairs)
    return [(word, round(weight / strongest, 4)) for word, weight in pairs]


def tags(text: str, top: int = 3) -> list[str]:
    return [word for word, _ in extract(text, top)]
