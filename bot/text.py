"""Reading what people type: normalisation, control words with their synonyms and typos, choices."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

_PUNCT = re.compile(r"[\s\u3000,，。.!！?？、;；:：~～\"'“”‘’()（）【】\[\]<>《》…-]+")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_CIRCLED = {chr(0x2460 + i): i + 1 for i in range(10)}

# Control words understood in every dialog, each with what people actually type. `confirm` asks to
# submit; `agree` is a mere yes (好, 对): it confirms on a confirmation card and nowhere else.
CONTROL_WORDS: dict[str, tuple[str, ...]] = {
    "cancel": ("取消", "退出", "算了", "不要了", "不提了", "结束", "cancel", "quit", "exit"),
    "back": ("返回", "上一步", "后退", "回退", "back"),
    "help": ("帮助", "help", "菜单", "怎么用", "说明"),
    "skip": ("跳过", "略过", "不用了", "没有", "无", "不需要", "skip", "不填", "没有了", "不用", "默认", "用默认"),
    "confirm": ("确认", "确定", "提交", "确认提交", "确定提交"),
    "agree": ("好的", "好", "是", "是的", "对", "对的", "可以", "没问题", "行", "嗯", "ok", "yes", "y"),
    "resume": ("继续", "接着填", "恢复"),
}
# Full-width forms of what codes, numbers and receipts are typed with (ＹＳ－２０２６, １３８…, ＃１, ５０％).
# Chinese punctuation (，：；！？（）) is left as typed: it is how Chinese is written, not a width accident.
_FOLDED = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#%+-./@_"
_INPUT_FOLD = str.maketrans(
    {
        **{chr(ord(c) + 0xFEE0): c for c in _FOLDED},
        "\u3000": " ",  # ideographic space
        "\u200b": None,  # zero-width space and BOM, pasted along with copied text
        "\ufeff": None,
    }
)
_NEGATION = "不没别非未无"


def fold_input(text: str) -> str:
    """What a person typed, folded once at the edge: full-width letters, digits and code symbols become
    ASCII (`ＹＳ－２０２６` -> `YS-2026`), the ideographic space a space; everything else as typed."""
    return text.translate(_INPUT_FOLD)


@functools.lru_cache(maxsize=1024)  # a message is normalized by every reader that tries it
def normalize(text: str) -> str:
    """Fold width and case, drop spaces and punctuation: `　确 认！` -> `确认`."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return _PUNCT.sub("", folded)


def close_to(word: str, candidate: str) -> bool:
    """Same word, or one typo away for words of two characters or more."""
    if word == candidate:
        return True
    if len(candidate) < 2 or len(word) < 2:
        return False
    shorter, longer = sorted((word, candidate), key=len)
    if longer[0] in _NEGATION and longer[1:] == shorter:
        return False  # 附议 is not a typo of 不附议: a negation is no slip of the finger
    return Levenshtein.distance(word, candidate) <= 1 and abs(len(word) - len(candidate)) <= 1


def control_word(text: str) -> str | None:
    """Which control word (cancel/back/help/skip/confirm/agree/resume) the message is, if any."""
    word = normalize(text)
    if not word or len(word) > 6:
        return None
    for name, synonyms in CONTROL_WORDS.items():
        if word in synonyms:
            return name
    # One typo is forgiven against the canonical word only: synonyms such as 好的 sit one
    # character away from ordinary words (我的, 是的).
    close = [name for name, synonyms in CONTROL_WORDS.items() if name != "agree" and close_to(word, synonyms[0])]
    return close[0] if len(close) == 1 else None


def parse_number(text: str) -> int | None:
    """`2`, `２`, `二`, `②`, `第2个`, `2号` -> 2."""
    word = normalize(text)
    word = re.sub(r"^第|[个号项条]$", "", word)
    if word.isdigit() and len(word) <= 4:
        return int(word)
    if word in _CN_DIGITS:
        return _CN_DIGITS[word]
    if word in _CIRCLED:
        return _CIRCLED[word]
    return None


_NUMBER_REST = re.compile(r"^\s*(?:第\s*)?(\d{1,3})\s*(?:项|个|号|条)?(?:[\s,，、:：.。]+|$|(?=\D))(.*)$", re.S)


def split_number(text: str) -> tuple[int | None, str]:
    """(the list number a reply starts with, the rest): `3 50%` -> (3, "50%"), `1满意` -> (1, "满意")."""
    match = _NUMBER_REST.match(text)
    if match is None:
        return None, text.strip()
    return int(match.group(1)), match.group(2).strip()


def choose(text: str, options: Sequence[str], *, aliases: Sequence[Sequence[str]] = ()) -> int | None:
    """The 0-based option the reply picks: by number, by the option's words, or by a close typo.

    `aliases[i]` lists further words that mean option i. Returns None when unclear.
    """
    number = parse_number(text)
    if number is not None:
        return number - 1 if 1 <= number <= len(options) else None
    word = normalize(text)
    if not word:
        return None
    names = [
        [normalize(options[i]), *(normalize(a) for a in (aliases[i] if i < len(aliases) else ()))]
        for i in range(len(options))
    ]
    exact = [i for i, words in enumerate(names) if word in words]
    if len(exact) == 1:
        return exact[0]
    contained = [i for i, words in enumerate(names) if any(_inside(w, word) or _inside(word, w) for w in words)]
    if len(contained) == 1:
        return contained[0]
    close = [i for i, words in enumerate(names) if any(_slip(word, w) for w in words)]
    if len(close) == 1:
        return close[0]
    return None


def _slip(word: str, option: str) -> bool:
    """One typo, where a typo is likely: in a two-character word only the second character (责仁 for 责任,
    typed by sound), so 是的 is not 新的 and 好的 not 我的."""
    if len(word) == 2 or len(option) == 2:
        return len(word) == len(option) == 2 and word[0] == option[0] and close_to(word, option)
    return close_to(word, option)


def _inside(part: str, whole: str) -> bool:
    """`part` occurs in `whole`, and not negated there: 附议 is not inside 不附议, 微建言 not inside 不要微建言."""
    if len(part) < 2 and part != whole:
        return False
    start = whole.find(part)
    while start != -1:
        if start == 0 or (whole[start - 1] not in _NEGATION and whole[max(0, start - 2) : start] != "不要"):
            return True
        start = whole.find(part, start + 1)
    return False


def numbered(options: Sequence[str]) -> str:
    """`1. 甲\n2. 乙` — every option list is numbered so a digit is a full answer."""
    return "\n".join(f"{i}. {option}" for i, option in enumerate(options, 1))


def shorten(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# WeChat drops a passive reply (and a customer-service text) whose content passes 2048 bytes: the person
# sees nothing. Long replies (帮助 for a convenor, long lists) go out in parts under this size.
MAX_REPLY_BYTES = 2000
MORE_FOLLOWS = "（内容较长，其余部分随后发出）"


def split_reply(text: str, limit: int = MAX_REPLY_BYTES) -> list[str]:
    """`text` in parts of at most `limit` UTF-8 bytes, cut between paragraphs, else lines, else characters;
    every part but the last says more follows."""
    budget = limit - len(("\n" + MORE_FOLLOWS).encode())
    if len(text.encode()) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, budget):
        joined = f"{current}{piece}"
        if current and len(joined.rstrip("\n").encode()) > budget:
            parts.append(current.rstrip("\n"))
            current = piece
        else:
            current = joined
    if current.strip():
        parts.append(current.rstrip("\n"))
    return [f"{p}\n{MORE_FOLLOWS}" for p in parts[:-1]] + parts[-1:]


def _pieces(text: str, budget: int) -> list[str]:
    """Paragraphs (with their blank line), a paragraph too long as lines, a line too long as character runs."""
    out: list[str] = []
    for paragraph in text.split("\n\n"):
        block = paragraph + "\n\n"
        if len(block.encode()) <= budget:
            out.append(block)
            continue
        for line in paragraph.split("\n"):
            while len((line + "\n").encode()) > budget:
                cut = budget // 4  # 4 bytes is the widest UTF-8 character
                out.append(line[:cut] + "\n")
                line = line[cut:]
            out.append(line + "\n")
        out.append("\n")
    return out
