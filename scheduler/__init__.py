"""Timed jobs and the outbox worker."""
