"""Incident-management bot: the composition root (settings, Telegram wiring, CLI)."""
