"""ASGI entry point for uvicorn/gunicorn: `bot.main:app`."""

from bot.app import create_app

app = create_app()
