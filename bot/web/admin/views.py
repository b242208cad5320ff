"""Every table view of the admin, in menu order."""

from __future__ import annotations

from .base import AdminView
from .lists import DeliveryView, FeedbackListView, ResponsibilitiesListView, SuggestionsListView
from .people import InviteView, PersonView, RoomRoleView, RoomView
from .proposals import AccessAuditView, ProposalView, StatusChangeView
from .sessions import InviteeView, SessionView
from .words import SensitiveWordView

VIEWS: list[type[AdminView]] = [
    RoomView,
    PersonView,
    RoomRoleView,
    InviteView,
    ProposalView,
    StatusChangeView,
    AccessAuditView,
    SessionView,
    InviteeView,
    SuggestionsListView,
    ResponsibilitiesListView,
    FeedbackListView,
    DeliveryView,
    SensitiveWordView,
]
