"""Prometheus metrics (served at /metrics)."""

from prometheus_client import Counter, Histogram

MESSAGES = Counter("shangliang_messages_total", "Inbound messages handled", ["channel", "kind", "outcome"])
HANDLE_SECONDS = Histogram(
    "shangliang_message_seconds",
    "Time to handle one inbound message",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 4, 10),
)
REFUSED = Counter("shangliang_callbacks_refused_total", "Callbacks refused at the edge", ["channel", "reason"])
