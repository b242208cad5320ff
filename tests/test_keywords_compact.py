"""jieba's dictionary held compactly (bot/services/keywords.py `CompactFreq`) cuts exactly as jieba's own:
the same words, and the same search-mode words, on 3,000 resident texts (issue 12: a web worker's memory)."""

from __future__ import annotations

import gc
import random
from pathlib import Path

import jieba

from bot.services import keywords
from bot.services.keywords import CompactFreq

LABELLED = Path(__file__).resolve().parents[1] / "bench" / "similar_labelled.txt"


def resident_texts(count: int) -> list[str]:
    """The labelled set's texts, and halves of two spliced together (new word boundaries), seeded."""
    lines = [
        line.split(":", 1)[-1].split("=>")[0].strip(" ?")
        for line in LABELLED.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    lines = [line for line in lines if line]
    rng = random.Random(12)
    texts = []
    for i in range(count):
        a, b = rng.sample(lines, 2)
        texts.append(a if i % 3 == 0 else a[: len(a) // 2 + 1] + b[len(b) // 3 :])
    return texts


def test_compact_dictionary_cuts_like_jiebas_own() -> None:
    stock = jieba.Tokenizer()
    stock.initialize()
    keywords.warm_up()  # what every process does at start-up
    compact = jieba.dt
    assert isinstance(compact.FREQ, CompactFreq) and compact.total == stock.total
    assert len(compact.FREQ._keys) == len(stock.FREQ)
    texts = resident_texts(3000)
    assert len(set(texts)) > 2500
    for text in texts:
        assert compact.lcut(text, HMM=False) == stock.lcut(text, HMM=False), text
        assert compact.lcut_for_search(text, HMM=False) == stock.lcut_for_search(text, HMM=False), text


def test_once_loaded_the_process_keeps_nothing_for_the_cyclic_collector_to_walk_again() -> None:
    """After the load, start-up's objects (the tables, the app, the imported modules) are frozen: a full
    collection under traffic then walks only what traffic made, instead of pausing every callback for the
    80-95 ms a walk over all of them took."""
    keywords.warm_up()
    assert gc.get_freeze_count() > 50_000
    assert keywords.analyse("幸福路的路灯坏了").groups, "the frozen tables still answer"
