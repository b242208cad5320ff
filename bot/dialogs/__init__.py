"""Multi-step conversations, each declared as data in its own module."""

from __future__ import annotations

from bot.dialogs import (
    answer,
    binding,
    broadcast,
    experts,
    followup,
    lists,
    naming,
    offer,
    opinion,
    picks,
    propose,
    review,
    scan,
    session,
    suggest,
)
from bot.dialogs.engine import Dialog

DIALOGS: dict[str, Dialog] = {
    d.name: d
    for d in (
        propose.DIALOG,
        answer.DIALOG,
        naming.DIALOG,
        suggest.DIALOG,
        offer.DIALOG,
        broadcast.DIALOG,
        review.DIALOG,
        scan.DIALOG,
        *session.DIALOGS,
        *lists.DIALOGS,
        *followup.DIALOGS,
        *picks.DIALOGS,
        *binding.DIALOGS,
        experts.DIALOG,
        *opinion.DIALOGS,
    )
}
