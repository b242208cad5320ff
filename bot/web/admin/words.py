"""敏感词: the list the office keeps; residents' text containing a word waits for a convenor's 公开 / 隐藏
before the live page or the board shows it (bot/services/moderation.py). Workers pick up an edit on
their next check: the list's version is read from the database each time."""

from __future__ import annotations

from typing import Any, ClassVar

import anyio
from sqlalchemy import select
from starlette.requests import Request
from wtforms.validators import DataRequired, Length

from bot.text import normalize
from storage.models import SensitiveWord

from .base import AdminView

MODERATION = "内容审核"


class SensitiveWordView(AdminView, model=SensitiveWord):
    name = "敏感词"
    name_plural = "敏感词"
    icon = "fa-solid fa-filter"
    category = MODERATION
    can_create = True
    can_edit = True
    can_delete = True
    column_list: ClassVar[list[Any]] = [
        SensitiveWord.id,
        SensitiveWord.word,
        SensitiveWord.note,
        SensitiveWord.updated_at,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "id": "编号",
        "word": "敏感词",
        "note": "备注",
        "created_at": "添加时间",
        "updated_at": "最近修改",
    }
    column_searchable_list: ClassVar[list[Any]] = [SensitiveWord.word]
    column_sortable_list: ClassVar[list[Any]] = [SensitiveWord.id, SensitiveWord.word, SensitiveWord.updated_at]
    column_default_sort: ClassVar[list[Any]] = [(SensitiveWord.id, True)]
    form_columns: ClassVar[list[Any]] = [SensitiveWord.word, SensitiveWord.note]
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "word": {
            "label": "敏感词（不区分全角半角、大小写，忽略空格和标点）",
            "validators": [DataRequired(message="请填写敏感词"), Length(max=50)],
        },
        "note": {"label": "备注", "validators": [Length(max=200)]},
    }

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        await self._refuse_bad_word(data, None)
        return await super().insert_model(request, data)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        await self._refuse_bad_word(data, int(pk))
        return await super().update_model(request, pk, data)

    async def _refuse_bad_word(self, data: dict[str, Any], word_id: int | None) -> None:
        """A word that folds to nothing, or one already kept, is refused with a sentence."""
        data["word"] = str(data.get("word") or "").strip()
        if not normalize(data["word"]):
            raise ValueError("敏感词不能只有空格或标点。")
        if await anyio.to_thread.run_sync(self._taken, data["word"], word_id):
            raise ValueError(f"「{data['word']}」已经在敏感词里了。")

    def _taken(self, word: str, word_id: int | None) -> bool:
        with self.session_maker() as session:
            stmt = select(SensitiveWord.id).where(SensitiveWord.word == word)
            if word_id is not None:
                stmt = stmt.where(SensitiveWord.id != word_id)
            return session.scalars(stmt).first() is not None
