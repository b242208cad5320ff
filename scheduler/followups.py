"""Timed follow-up jobs: the 30-day question, daily 督办, the monthly digest."""

from __future__ import annotations

from apscheduler.schedulers.base import BaseScheduler


def register(scheduler: BaseScheduler) -> None:
    """Add the follow-up jobs to the scheduler."""
