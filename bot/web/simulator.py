"""Placeholder replaced by the simulator implementation."""

from fastapi import APIRouter

router = APIRouter()
