"""A randomized conversation (issue 9): residents chat with the bot at random, and it must stay sane.

`Conversations` is a hypothesis state machine. Every run starts from an empty database with two
rooms, an older proposal of a neighbour (so 提议题 meets a similar proposal and 附议 has a target)
and three residents, each on /wechat or /wecom, some with a remembered room, some with one or two
published results awaiting their rating. Then, one message a step, a resident sends one of:

- a command word (提议题, 微建言, 我的, 帮助, 继续, 评价, 附议 with a receipt), a digit, an option word
  (微建言, 不用了, 跳过, 确认, 好, 对, 是的, 全部), 取消 / 返回 / 继续;
- free text: Chinese sentences short and long, some opening with 不满意 / 一般 / 满意 or a command word
  in the middle of a complaint, some exactly a rating word or a rating set apart (不满意，灯还是不亮);
- full-width input (ＹＳ－２０２６…, １３８…, １), phone numbers, receipt numbers (their own, others',
  unknown), a photo, a location, a voice note without recognition, a voice note WeChat recognised
  (read back before it is taken: 「我听到的是…对吗？」, answered 对 / 不对 / 2 / 是);

or answers what the bot just asked, several times in a row (a room, a description, 跳过, a photo,
确认: deep into the forms), or time passes on the fake clock (+1m, +31m, +3h, +2d), or someone the
bot promised a draft sends 继续.

After every step (`@invariant`, and after each message of a rule that sends several):

1. the callback answered 200 with a passive reply, never the internal error sentence, nothing logged
   as an error;
2. every receipt the bot announced to a person (受理编号：…, 微建言已提交 … 编号：…, 已附议 …) is in
   that person's 我的: in the database after every step, in the 我的 reply whenever 我的 is sent,
   and by sending 我的 for everyone at the end of every run;
3. a rating is stored only by a message that answers one: a rating word alone or set apart
   (满意 / 不满意，理由), 评价 …, or a number / receipt / rating / 全部 right after the bot asked
   which result or what rating; 「不满意物业的服务态度」 or a bare digit with nothing asked never rates;
4. drafts: a 继续 while a promised draft (已保存为草稿 / 回复「继续」可接着填写) is kept gets
   好的，接着填写, and no form is put away as a draft without a word;
5. one numbered question at a time: a reply never shows two lists numbered from 1;
6. a text of four characters or more that is not a greeting is never answered with just the welcome.

A failing invariant prints the conversation so far, so the failing case reads as a chat. The test
also prints how many steps ran and what the replies showed the machine reached (it fails if some
part of the conversation was never reached). CI plays the same 50 runs every time (derandomized);
`CONVERSATION_EXPLORE=1000` plays a thousand new random runs instead, to hunt.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.conversation import MAX_DRAFTS
from bot.dispatch import GREETINGS, UNSUPPORTED, WELCOME
from bot.pipeline import ERROR_REPLY
from bot.services import proposals, suggestions
from bot.settings import Settings
from bot.text import fold_input, normalize
from storage.db import transaction
from storage.models import Base, DialogState, ResultDelivery
from tests.conftest import make_settings
from tests.fake_wechat import FakeWeChat
from tests.transcript import person_id
from tests.transcript_givens import Setup, World
from tests.transcript_givens import proposal as given_proposal
from tests.transcript_givens import result as given_result
from tests.transcript_givens import room as given_room
from tests.wxclient import Reply, WeChatCallbackClient, WeComCallbackClient

# Runs × steps: at least 2,000 messages on every CI run (asserted at the end of the test), the same
# conversations every time. CONVERSATION_EXPLORE=500 plays 500 new random runs instead (to hunt).
EXPLORE = int(os.environ.get("CONVERSATION_EXPLORE") or 0)
RUNS = EXPLORE or 50
STEPS = 60
MIN_MESSAGES = 2000

START = FakeClock().now()
ROOMS = ("幸福社区议事室", "光明村议事室")
RESIDENTS = ("王阿姨", "张大爷", "李老师")
NEIGHBOUR = "赵师傅"
NEIGHBOUR_TEXT = "幸福路北段路灯坏了一个多月，晚上很黑"
UNKNOWN_RECEIPTS = ("YS-2026-999999", "WJ-2026-888888")

ANNOUNCED = re.compile(r"(?:受理编号|编号)[：:]\s*((?:YS|WJ)-\d{4}-\d{6})")
SUPPORTED = re.compile(r"已附议 ((?:YS|WJ)-\d{4}-\d{6})")
HIDDEN = re.compile(r"还有 (\d+) 条较早的记录")
DRAFTS_LEFT = re.compile(r"还有 (\d+) 份草稿")
NUMBERED_FROM_1 = re.compile(r"(?m)^1\. ")
# What the bot says when it asks which result a rating is for, or what the rating is (and how it
# asks again: 没有第 3 项。请回复 1 到 2 之间的序号, with the results listed; 请回复 1、2 或 3：1. 满意 …).
ASKS_RATING = ("结果待评价", "是评哪一项", "您的评价是", "1. 满意", "评价请写")
RESULT_LISTED = "（结果："
DRAFT_KEPT = "已保存为草稿"
DRAFT_HINT = "回复「继续」可接着填写"  # also said of a draft kept earlier (the welcome's reminder)
RESUMED = "好的，接着填写"
DRAFT_NEWS = re.compile(f"{RESUMED}|{DRAFT_KEPT}|{DRAFT_HINT}")
RATING_WORDS = sorted(
    ("满意", "基本满意", "不满意", "非常满意", "很满意", "比较满意", "还算满意", "不太满意", "很不满意", "非常不满意",
     "不满", "一般", "还行", "基本满足"),
    key=len,
    reverse=True,
)  # fmt: skip
APART = " ，,。.！!：:；;、～~"
ALL_WORDS = ("全部", "都是", "所有", "全都", "都")


def fullwidth(text: str) -> str:
    """ASCII letters, digits and - as typed on a full-width keyboard: YS-2026 -> ＹＳ－２０２６."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and (c.isalnum() or c == "-") else c for c in text)


# --- what the residents send ---------------------------------------------------------------------

COMMANDS = ("提议题", "微建言", "我的", "帮助", "继续", "评价", "附议")
DIGITS = ("1", "2", "3", "4", "5", "0", "１", "２", "３")
OPTIONS = ("微建言", "提议题", "不用了", "跳过", "确认", "好", "对", "是的", "全部", "新建", "换议事室")
CONTROLS = ("取消", "返回", "继续")
SENTENCES = (
    "幸福路的路灯又坏了，晚上出门很不方便",
    "小区门口的垃圾桶满了好几天没人清理",
    "建议在菜市场门口加装一个红绿灯",
    "楼道里堆满了杂物，消防通道被堵住了",
    "对面工地晚上十二点还在施工，吵得睡不着",
    "我的电动车在车棚里充不了电，插座坏了",
    "提议题的流程太复杂了，能不能简单一点",
    "微建言：公园晚上应该多开几盏灯",
    "继续说说那个停车的问题吧，车位太少了",
    "评价一下上次的处理，我觉得还可以",
    "都两个月了路灯还是没人修",
    "全部都是老问题，一直没人管",
    "所有的井盖都应该检查一遍",
    "是的我还想补充一下，下雨天路面积水很深",
    "取消那个停车收费吧，太贵了",
    "一般晚上八点以后幸福路的路灯就全灭了",
    "不满意物业的服务态度，保安经常不在岗",
    "满意度调查什么时候搞一次",
    "还行吧就是处理得慢了点",
    "幸福路12号门口",
    "路灯坏了",
    "垃圾没人收",
    "路灯",
    "好的",
    "你好",
    "谢谢",
    "在吗",
    "我想反映一下我们小区的停车问题。" * 34,  # over 500 characters: too long for a 微建言
    "楼下的广场舞音乐太吵了。" * 90,  # over 1,000 characters
)
RATINGS = (
    "满意",
    "不满意",
    "基本满意",
    "一般",
    "非常满意",
    "不满意，灯还是一闪一闪的",
    "满意 谢谢你们",
    "一般，还是有点吵",
    "1 满意",
    "2 不满意 还是很吵",
    "１ 满意",
    "评价 满意",
    "评价 1 不满意 还是很吵",
    "评价",
)
PHONES = ("13812345678", "１３８１２３４５６７８", "138 1234 5678", "12345")
GAPS = {"1m": timedelta(minutes=1), "31m": timedelta(minutes=31), "3h": timedelta(hours=3), "2d": timedelta(days=2)}
RECEIPT_FORMS = ("plain", "fullwidth", "spaced", "support", "rate")
PHOTO, LOCATION = "［照片］", "［位置］"
# A resident who answers what the bot just asked: the first prompt found in its last reply, and the
# answers that fit it (PHOTO and LOCATION send one). Nothing recognised: they start with a complaint.
SPOKEN = "［语音］"  # an answer said, not typed: sent as a voice note with WeChat's recognition
FOLLOW: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("我听到的是", ("对", "是", "不对", "2", "1")),
    ("要把它提交给议事室吗", ("1", "2", "2", "提议题", "微建言", "不用了")),
    ("哪个议事室", ("1", "2", "幸福", "光明村")),
    ("相近的议事室", ("1", "2")),
    (
        "请用几句话说说",
        (
            "幸福路的路灯又坏了，晚上出门很不方便",
            "楼道里堆满了杂物，消防通道被堵住了",
            "路灯",
            SPOKEN + "菜市场门口下雨就积水",
        ),
    ),
    ("请写下您的微建言", ("公园晚上应该多开几盏灯", "建议在菜市场门口加装一个红绿灯")),
    ("已有相似的提议", ("0", "1", "附议", "新建")),
    ("有现场照片吗", ("跳过", PHOTO, PHOTO)),
    ("还有要补充的照片吗", ("跳过", PHOTO)),
    ("问题在什么位置", ("跳过", "幸福路12号门口", LOCATION, SPOKEN + "幸福路十二号门口")),
    ("留一个联系电话", ("跳过", "13812345678", "１３８１２３４５６７８")),
    ("回复「确认」提交", ("确认", "确认", "好", "返回", "换议事室")),
    ("是评哪一项", ("1", "2", "全部")),
    ("结果待评价", ("1 满意", "2 不满意 还是很吵", "1")),
    ("您的评价是", ("1", "2", "3", "满意")),
    ("回复「继续」可接着填写", ("继续",)),
)
OPENERS = (
    "幸福路的路灯又坏了，晚上出门很不方便",
    "小区门口的垃圾桶满了好几天没人清理",
    "建议在菜市场门口加装一个红绿灯",
)


def fitting_answer(prompt: str, pick: int) -> str:
    """What a cooperative resident answers to `prompt` (the pick-th fitting answer)."""
    answers = next((answers for marker, answers in FOLLOW if marker in prompt), OPENERS)
    return answers[pick % len(answers)]


def receipt_text(receipt: str, form: str) -> str:
    if form == "fullwidth":
        return fullwidth(receipt)
    if form == "spaced":
        return " ".join(fullwidth(receipt[:2])) + " " + fullwidth(receipt[2:])  # Ｙ Ｓ －２０２６－…
    if form == "support":
        return f"附议 {receipt}"
    if form == "rate":
        return f"评价 {receipt} 满意"
    return receipt


# --- reading what was sent -----------------------------------------------------------------------


def opens_with_rating(typed: str) -> bool:
    """A rating word standing alone or set apart (满意 / 不满意，理由), as a person means a rating."""
    t = fold_input(typed).strip()
    return any(t.startswith(w) and (len(t) == len(w) or t[len(w)] in APART) for w in RATING_WORDS)


def answers_rating_question(typed: str) -> bool:
    """What answers "which result?" or "what rating?": a number, a receipt, 全部, or a rating."""
    t = fold_input(typed).strip()
    word = normalize(t)
    receipt = re.match(r"(ys|wj)\d{10}", word)  # however it is typed: ＹＳ－２０２６…, Ｙ Ｓ －２０２６…, ys2026…
    return bool(re.match(r"^(第)?\d", t)) or bool(receipt) or word in ALL_WORDS or opens_with_rating(t)


def may_rate(typed: str, asked: bool) -> bool:
    """Whether a message may store a rating: it answers a pending rating, unasked or asked."""
    if opens_with_rating(typed) or re.match(r"评价($|[\s:：，,]|\d|[YWyw])", fold_input(typed).strip()):
        return True
    return asked and answers_rating_question(typed)


# --- the machine ---------------------------------------------------------------------------------


@dataclass
class Resident:
    name: str
    channel: str  # wechat | wecom
    user: str  # the openid / userid sent with every message
    person_id: int = 0
    own: list[str] = field(default_factory=list)  # receipts of their proposals and suggestions
    announced: list[str] = field(default_factory=list)  # receipts the bot told them (must be in 我的)
    rated: int = 0  # their stored ratings, as last counted
    asked_rating: bool = False  # the bot's last reply to them asked which result or what rating
    drafts: int = 0  # drafts the bot promised them (已保存为草稿) and not yet resumed
    last_reply: str = ""  # what the bot last said to them
    kept: list[tuple[str, str]] = field(default_factory=list)  # their drafts in the database: (dialog, saved at)


@dataclass
class Exchange:
    """One message and what came back."""

    who: Resident
    kind: str  # text | image | location | voice | heard (a voice note with WeChat's recognition)
    typed: str
    reply: Reply
    content: str
    asked_before: bool  # the bot had just asked them for a rating
    drafts_before: int


@dataclass
class Observed:
    """The database after a step, read once for every invariant."""

    rated: dict[int, int]  # person id -> ratings stored
    mine: set[str]  # the sender's receipts, as 我的 lists them
    drafts: list[tuple[str, str]]  # the sender's kept drafts: (dialog, saved at)


# What the replies show the machine reached (counted for the summary; a few must be reached at all).
REACHED = {
    "receipt announced": "编号：",
    "rating stored": "的评价「",
    "rating asked": "结果待评价",
    "offer": "要把它提交给议事室吗",
    "similar proposal": "已有相似的提议",
    "room asked": "请问您要找哪个议事室",
    "phone asked": "留一个联系电话",
    "confirmation": "回复「确认」提交",
    "draft kept": DRAFT_KEPT,
    "draft resumed": RESUMED,
    "expired, answer read": "没填完的「",
    "supported": "已附议",
    "voice": "听不懂语音",
    "voice heard": "我听到的是",
}


@dataclass
class Tally:
    runs: int = 0
    steps: int = 0
    messages: int = 0
    reached: Counter[str] = field(default_factory=Counter)


TALLY = Tally()


@dataclass
class Harness:
    """What the machine drives: the app's callback clients, its clock and database, the error log."""

    wechat: WeChatCallbackClient
    wecom: WeComCallbackClient
    factory: sessionmaker[Session]
    engine: Engine
    clock: FakeClock
    caplog: pytest.LogCaptureFixture


def reset_database(engine: Engine) -> None:
    """Every run starts from empty tables, ids from 1 again (so runs replay alike). On PostgreSQL a
    DELETE a table and a sequence restart cost a tenth of a TRUNCATE of them all."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        if engine.dialect.name == "postgresql":
            sequences = conn.scalars(text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"))
            for name in sequences.all():
                conn.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))


class Conversations(RuleBasedStateMachine):
    """Residents on /wechat and /wecom mixing commands, digits, option words, free text, ratings,
    full-width input, media, receipts and idle time; the invariants are in the module docstring."""

    harness: Harness  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        h = self.harness
        reset_database(h.engine)
        h.clock.set(START)
        self.residents: list[Resident] = []
        self.others: list[str] = []  # receipts that belong to nobody played (the neighbour's)
        self.log: list[str] = []
        self.last: Exchange | None = None
        self.clean = True  # the last step passed every invariant (the closing 我的 check runs only then)
        self.media = count(1)
        self._errors_seen = len(h.caplog.records)
        TALLY.runs += 1

    # --- setting up -------------------------------------------------------------------------------

    @initialize(
        channels=st.lists(st.sampled_from(["wechat", "wecom"]), min_size=3, max_size=3),
        remembered=st.lists(st.booleans(), min_size=3, max_size=3),
        results=st.tuples(st.integers(1, 2), st.integers(0, 2), st.integers(0, 1)),
    )
    def setup(self, channels: list[str], remembered: list[bool], results: tuple[int, int, int]) -> None:
        h = self.harness
        with transaction(h.factory) as session:
            g = Setup(session, World(h.factory, h.clock, "wechat"))
            for name in ROOMS:
                given_room(g, name)
            self.others.append(given_proposal(g, NEIGHBOUR, ROOMS[0], NEIGHBOUR_TEXT))
        for name, channel, keep_room, waiting in zip(RESIDENTS, channels, remembered, results, strict=True):
            who = Resident(name, channel, person_id(channel, name))
            with transaction(h.factory) as session:
                g = Setup(session, World(h.factory, h.clock, channel))
                for n in range(waiting):
                    about = ("菜市场门口的下水道经常堵", "幸福路北段的路灯一直不亮")[n]
                    who.own.append(given_proposal(g, name, ROOMS[n % 2], about))
                    given_result(g, name, ("已疏通下水道", "已更换路灯灯泡")[n])
                person = g.person(name)
                person.last_room_id = g.room(ROOMS[0]).id if keep_room else None
                session.flush()
                who.person_id = person.id
            self.residents.append(who)
        self.log.append(
            "given: "
            + "; ".join(f"{r.name}@{r.channel} 待评价 {n} 项" for r, n in zip(self.residents, results, strict=True))
        )

    # --- sending ---------------------------------------------------------------------------------

    def client(self, who: Resident) -> WeChatCallbackClient | WeComCallbackClient:
        return self.harness.wechat if who.channel == "wechat" else self.harness.wecom

    def resident(self, name: str) -> Resident:
        return next(r for r in self.residents if r.name == name)

    def send(self, name: str, kind: str, typed: str = "") -> Exchange:
        """One message from a resident; the reply is read as Tencent reads it and remembered."""
        who = self.resident(name)
        client = self.client(who)
        self.clean = False
        TALLY.steps += 1
        TALLY.messages += 1
        if kind == "text":
            reply = client.send_text(who.user, typed)
        elif kind == "image":
            n = next(self.media)
            reply = client.send_image(who.user, pic_url=f"https://mmbiz.qpic.cn/random/{n}.jpg", media_id=f"img-{n}")
            typed = "［照片］"
        elif kind == "location":
            reply = client.send_location(who.user, 31.2304, 121.4737, label="幸福路12号")
            typed = "［位置：幸福路12号］"
        elif kind == "heard":
            reply = client.send_voice(who.user, media_id=f"voice-{next(self.media)}", recognition=typed)
        else:
            reply = client.send_voice(who.user, media_id=f"voice-{next(self.media)}")
            typed = "［语音］"
        content = reply.content
        said = SPOKEN if kind == "heard" else ""
        self.log.append(f"> {who.name}@{who.channel}: {said}{typed[:80]}")
        self.log.append("< " + content.replace("\n", " / ")[:400])
        self.last = Exchange(who, kind, typed, reply, content, who.asked_rating, who.drafts)
        self.read_reply(who, content)
        return self.last

    def read_reply(self, who: Resident, content: str) -> None:
        """What the reply tells the model: receipts announced, a rating asked for, drafts kept or resumed."""
        if "受理编号" in content or "提交成功" in content or "微建言已提交" in content:
            who.announced += [r for r in ANNOUNCED.findall(content) if r not in who.announced]
        who.announced += [r for r in SUPPORTED.findall(content) if r not in who.announced]
        who.own += [r for r in who.announced if r not in who.own]
        who.last_reply = content
        TALLY.reached.update(what for what, marker in REACHED.items() if marker in content)
        who.asked_rating = any(marker in content for marker in ASKS_RATING) or (
            RESULT_LISTED in content and "请回复" in content
        )
        # In the order a person reads them: 好的，接着填写… then （…已保存为草稿…） is a draft resumed,
        # then another one promised.
        for said in DRAFT_NEWS.findall(content):
            if said == RESUMED:
                who.drafts = max(0, who.drafts - 1)
            elif said == DRAFT_KEPT:
                who.drafts = min(who.drafts + 1, MAX_DRAFTS)
            else:
                who.drafts = max(who.drafts, 1)

    def fail(self, message: str) -> str:
        return f"{message}\n--- the conversation so far ---\n" + "\n".join(self.log)

    # --- rules: what residents send ----------------------------------------------------------------

    names = st.sampled_from(RESIDENTS)

    @rule(name=names, word=st.sampled_from(COMMANDS))
    def command(self, name: str, word: str) -> None:
        self.send(name, "text", word)

    @rule(name=names, digit=st.sampled_from(DIGITS))
    def digit(self, name: str, digit: str) -> None:
        self.send(name, "text", digit)

    @rule(name=names, word=st.sampled_from(OPTIONS))
    def option(self, name: str, word: str) -> None:
        self.send(name, "text", word)

    @rule(name=names, word=st.sampled_from(CONTROLS))
    def control(self, name: str, word: str) -> None:
        self.send(name, "text", word)

    @rule(name=names, sentence=st.sampled_from(SENTENCES))
    def free_text(self, name: str, sentence: str) -> None:
        self.send(name, "text", sentence)

    @rule(name=names, rating=st.sampled_from(RATINGS))
    def rating(self, name: str, rating: str) -> None:
        self.send(name, "text", rating)

    @rule(name=names, phone=st.sampled_from(PHONES))
    def phone(self, name: str, phone: str) -> None:
        self.send(name, "text", phone)

    @rule(
        name=names,
        whose=st.sampled_from(["own", "other", "unknown"]),
        pick=st.integers(0, 7),
        form=st.sampled_from(RECEIPT_FORMS),
    )
    def receipt(self, name: str, whose: str, pick: int, form: str) -> None:
        who = self.resident(name)
        if whose == "own":
            pool = who.own
        elif whose == "other":
            pool = self.others + [r for o in self.residents if o is not who for r in o.own]
        else:
            pool = list(UNKNOWN_RECEIPTS)
        chosen = pool[pick % len(pool)] if pool else UNKNOWN_RECEIPTS[pick % 2]
        self.send(name, "text", receipt_text(chosen, form))

    @rule(name=names, kind=st.sampled_from(["image", "image", "location", "voice"]))
    def media_message(self, name: str, kind: str) -> None:
        self.send(name, kind)

    @rule(name=names, sentence=st.sampled_from(SENTENCES))
    def spoken(self, name: str, sentence: str) -> None:
        """A resident says it: WeChat's recognition of a voice note."""
        self.send(name, "heard", sentence)

    @rule(name=names, picks=st.lists(st.integers(0, 9), min_size=1, max_size=8))
    def follow_prompts(self, name: str, picks: list[int]) -> None:
        """A resident answers what they were asked, several times in a row (deep into the forms)."""
        for pick in picks:
            answer = fitting_answer(self.resident(name).last_reply, pick)
            if answer.startswith(SPOKEN):
                self.send(name, "heard", answer.removeprefix(SPOKEN))
            else:
                self.send(name, {PHOTO: "image", LOCATION: "location"}.get(answer, "text"), answer)
            self.after_every_step()

    @rule(gap=st.sampled_from(sorted(GAPS)))
    def idle(self, gap: str) -> None:
        """Nobody writes for a while: open questions may expire."""
        TALLY.steps += 1
        self.harness.clock.advance(GAPS[gap])
        self.log.append(f"（{gap} 过去了）")
        self.last = None

    @precondition(lambda self: any(r.drafts for r in self.residents))
    @rule(data=st.data())
    def resume_draft(self, data: st.DataObject) -> None:
        """Someone the bot promised a draft sends 继续 (checked by the draft invariant)."""
        name = data.draw(st.sampled_from([r.name for r in self.residents if r.drafts]), label="name")
        self.send(name, "text", "继续")

    # --- invariants --------------------------------------------------------------------------------

    @invariant()
    def after_every_step(self) -> None:
        """The invariants, in order; the closing 我的 check runs only after a step that passed them all."""
        seen = self.observe()
        self.answered()
        self.receipts_kept(seen)
        self.mine_lists_announced()
        self.rated_only_when_answered(seen)
        self.promised_draft_resumes()
        self.drafts_announced(seen)
        self.one_numbered_question()
        self.nothing_dropped()
        self.clean = True

    def observe(self) -> Observed:
        sender = self.last.who.person_id if self.last is not None else 0
        with self.harness.factory() as session:
            rated = session.execute(
                select(ResultDelivery.person_id, func.count())
                .where(ResultDelivery.rated_at.is_not(None))
                .group_by(ResultDelivery.person_id)
            ).all()
            mine: set[str] = set()
            if self.last is not None and self.last.who.announced:
                mine |= {str(p.receipt) for p in proposals.proposals_of(session, person_id=sender)}
                mine |= {str(n.receipt) for n in suggestions.suggestions_of(session, person_id=sender)}
            row = session.get(DialogState, sender)
            drafts = [(str(d.get("dialog")), str(d.get("saved_at"))) for d in (row.drafts if row is not None else [])]
        return Observed({int(pid): int(n) for pid, n in rated}, mine, drafts)

    def answered(self) -> None:
        """200, a passive reply to every message, never the internal error sentence, no error logged."""
        records = self.harness.caplog.records
        errors = [r.getMessage() for r in records[self._errors_seen :] if r.levelno >= logging.ERROR]
        self._errors_seen = len(records)
        assert not errors, self.fail(f"errors logged: {errors}")
        if self.last is None:
            return
        x = self.last
        assert x.reply.status_code == 200, self.fail(f"status {x.reply.status_code}: {x.reply.raw[:200]}")
        assert x.content.strip(), self.fail(f"no reply to {x.kind} 「{x.typed}」")
        assert ERROR_REPLY not in x.content, self.fail("the internal error sentence")

    def receipts_kept(self, seen: Observed) -> None:
        """Every receipt announced to the sender is theirs in the database (what 我的 lists)."""
        if self.last is None:
            return
        who = self.last.who
        missing = [r for r in who.announced if r not in seen.mine]
        assert not missing, self.fail(f"announced to {who.name} but not theirs: {missing}")

    def mine_lists_announced(self) -> None:
        """The 我的 reply lists every receipt announced (bar the older ones it says it leaves out)."""
        if self.last is None or self.last.kind != "text" or self.last.typed != "我的":
            return
        self.check_mine(self.last.who, self.last.content)

    def check_mine(self, who: Resident, content: str) -> None:
        assert "您的提议和微建言" in content or (not who.own and "还没有提交过" in content), self.fail(
            f"我的 did not list {who.name}'s items"
        )
        hidden = HIDDEN.search(content)
        missing = [r for r in who.announced if r not in content]
        assert len(missing) <= (int(hidden.group(1)) if hidden else 0), self.fail(
            f"我的 of {who.name} lacks announced receipts {missing}"
        )

    def rated_only_when_answered(self, seen: Observed) -> None:
        """A stored rating comes from a message that answers one; nobody else's ratings move."""
        sender = self.last.who if self.last is not None else None
        for who in self.residents:
            now = seen.rated.get(who.person_id, 0)
            if now == who.rated:
                continue
            assert who is sender and self.last is not None, self.fail(f"{who.name}'s rating changed without a message")
            assert now > who.rated, self.fail(f"{who.name}'s ratings went from {who.rated} to {now}")
            x = self.last
            assert x.kind in {"text", "heard"} and may_rate(x.typed, x.asked_before), self.fail(
                f"「{x.typed}」 stored a rating for {who.name}, but it answers no rating"
                + ("" if x.asked_before else " (none was asked)")
            )
            who.rated = now

    def promised_draft_resumes(self) -> None:
        """继续 while a promised draft is kept gets it back; the drafts left are at least those promised."""
        if self.last is None or self.last.kind != "text" or normalize(self.last.typed) != "继续":
            return
        x = self.last
        if x.drafts_before:
            assert RESUMED in x.content, self.fail(f"{x.who.name} was promised a draft, but 继续 did not resume it")
        left = DRAFTS_LEFT.search(x.content)
        if left:
            assert int(left.group(1)) >= x.who.drafts, self.fail(f"fewer drafts left than promised to {x.who.name}")

    def drafts_announced(self, seen: Observed) -> None:
        """A form is never put away silently: a new draft in the database was announced (已保存为草稿),
        or, on 继续 while another form was open, counted among the drafts left (还有 N 份草稿)."""
        if self.last is None:
            return
        who, kept = self.last.who, seen.drafts
        new = [dialog for dialog, saved in kept if (dialog, saved) not in who.kept]
        who.kept = kept
        if not new:
            return
        told = DRAFT_KEPT in self.last.content or (
            normalize(self.last.typed) == "继续" and DRAFTS_LEFT.search(self.last.content) is not None
        )
        assert told, self.fail(f"{who.name}'s 「{'、'.join(new)}」 was put away as a draft without a word")

    def one_numbered_question(self) -> None:
        """One numbered question at a time: a reply never shows two lists numbered from 1 (a digit
        sent next would pick from either)."""
        if self.last is None:
            return
        lists = NUMBERED_FROM_1.findall(self.last.content)
        assert len(lists) <= 1, self.fail(f"two numbered questions in one reply to 「{self.last.typed[:40]}」")

    def nothing_dropped(self) -> None:
        """A text of four characters or more (typed or said), not a greeting, gets more than the welcome."""
        if self.last is None or self.last.kind not in {"text", "heard"}:
            return
        x = self.last
        word = normalize(x.typed)
        if len(word) < 4 or word in GREETINGS:
            return
        assert not x.content.startswith(WELCOME) and x.content != UNSUPPORTED, self.fail(
            f"「{x.typed[:40]}」 got only the welcome"
        )

    def teardown(self) -> None:
        """At the end of a run that passed so far, everyone's 我的 lists what they were told."""
        if not self.clean:
            return
        for who in self.residents:
            x = self.send(who.name, "text", "我的")
            assert x.reply.status_code == 200 and x.content, self.fail(f"no 我的 for {who.name}")
            self.check_mine(who, x.content)
            TALLY.steps -= 1  # the closing check is not a step of the conversation
            TALLY.messages -= 1


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat) -> Settings:
    """The app as the suite configures it, with time to answer on a busy machine: a reply past the
    deadline would go out through the outbox, and the passive reply checked here would be empty."""
    return make_settings(db_url, fake.base_url, reply_deadline=60.0)


def test_random_conversations(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    engine: Engine,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    record_property: Callable[[str, Any], None],
) -> None:
    """Fifty runs of up to sixty steps, the same conversations on every CI run (derandomized); the
    step count and what the machine reached are shown at the end of the pytest run."""
    caplog.set_level(logging.ERROR)
    Conversations.harness = Harness(wechat, wecom, factory, engine, clock, caplog)
    before = Tally(TALLY.runs, TALLY.steps, TALLY.messages, Counter(TALLY.reached))
    started = time.perf_counter()
    run_state_machine_as_test(
        Conversations,
        settings=hypothesis_settings(
            max_examples=RUNS,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=not EXPLORE,
            database=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        ),
    )
    seconds = time.perf_counter() - started
    steps, messages, runs = TALLY.steps - before.steps, TALLY.messages - before.messages, TALLY.runs - before.runs
    reached = TALLY.reached - before.reached
    summary = (
        f"conversation machine: {steps} steps ({messages} messages, {steps - messages} idle gaps) in {runs} runs"
        f" plus a closing 我的 per resident and run, {seconds:.1f} s\n"
        "reached: " + ", ".join(f"{what} {reached[what]}" for what in REACHED)
    )
    print(summary)
    record_property("summary", summary)  # shown at the end of the run (tests/conftest.py)
    record_property("conversation_steps", steps)
    record_property("conversation_messages", messages)
    assert messages >= MIN_MESSAGES or EXPLORE, summary
    never = [what for what in REACHED if not reached[what]]
    assert not never, f"the machine never reached: {never}"
