"""Persistence: models, repositories and migrations."""
