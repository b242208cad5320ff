"""A moderated wall (issue 14 item 6): sensitive words hold residents' text off the live page until 公开."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import moderation
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import SensitiveWord, Suggestion
from tests.fake_wechat import FakeWeChat
from tests.helpers import CONVENOR, talk, texts_to
from tests.test_live_page import live_path, online_room, suggest
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient


def keep_words(factory: sessionmaker[Session], clock: FakeClock, *words: str) -> None:
    """The office adds words to the list (as the admin's 敏感词 page does)."""
    with transaction(factory) as session:
        session.add_all(SensitiveWord(word=w, created_at=clock.now(), updated_at=clock.now()) for w in words)


def test_a_held_item_appears_on_the_live_page_after_its_convenor_lets_it_through(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    client: TestClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """Held off the page and its counts, the convenor told with the number; 公开 shows it, 隐藏 takes one back."""
    online_room(factory, clock, wecom)
    keep_words(factory, clock, "骗子")
    path = live_path(wecom)
    feed = path.replace("?", "/feed?")
    plain = suggest(wechat, "希望食堂周末也开放")
    held = suggest(wechat, "物业经理是个骗 子，收了钱不办事")  # spaces and punctuation do not hide a word

    shown = client.get(feed).json()
    assert [item["receipt"] for item in shown["items"]] == [plain]
    assert shown["total"] == 1 and "骗" not in client.get(path).text + str(shown)
    with factory() as session:
        note_id = session.scalars(select(Suggestion.id).where(Suggestion.receipt == held)).one()
    base, query = path.split("?")
    refused = client.post(f"{base}/suggestions/{note_id}/answer?{query}", json={})
    assert refused.status_code == 404  # the page cannot act on what it does not show
    while outbox_worker.run_once():
        pass
    told = [t for t in texts_to(fake, CONVENOR) if held in t and "待审核" in t]
    assert len(told) == 1 and f"公开 {held}" in told[0] and f"隐藏 {held}" in told[0] and "「骗子」" in told[0]

    assert f"已公开 {held}" in talk(wecom, CONVENOR, f"公开 {held}")[0]
    shown = client.get(feed).json()
    assert [item["receipt"] for item in shown["items"]] == [held, plain] and shown["total"] == 2

    assert f"已隐藏 {plain}" in talk(wecom, CONVENOR, f"隐藏 {plain}")[0]
    shown = client.get(feed).json()
    assert [item["receipt"] for item in shown["items"]] == [held] and shown["total"] == 1
    with factory() as session:  # hidden, not gone: still the resident's, with who hid it and when
        note = session.scalars(select(Suggestion).where(Suggestion.receipt == plain)).one()
        assert note.visibility == moderation.HIDDEN and note.moderated_at == clock.now()
        assert note.moderated_by_id is not None
    mine = talk(wechat, "o-resident-0001", "我的")[0]
    assert plain in mine and held in mine


def test_matching_folds_width_case_and_punctuation_and_follows_the_list(
    factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """Full-width, upper case and spaced-out words match; an added or removed word counts at the next check."""
    with factory() as session:
        assert moderation.matches(session, "没有敏感词的时候什么都不拦") == []
    keep_words(factory, clock, "骗子", "ABC")
    with factory() as session:
        assert moderation.matches(session, "ａｂｃ公司的骗。子，还是骗子") == ["ABC", "骗子"]
        assert moderation.matches(session, "正常的一句话") == []
    keep_words(factory, clock, "黑心")
    with transaction(factory) as session:
        assert moderation.matches(session, "黑心物业") == ["黑心"]
        word = session.scalars(select(SensitiveWord).where(SensitiveWord.word == "ABC")).one()
        session.delete(word)
    with factory() as session:
        assert moderation.matches(session, "ABC公司") == []
