"""Talking to the WeChat and WeCom HTTP APIs (base URLs from settings, so tests use a local fake)."""
