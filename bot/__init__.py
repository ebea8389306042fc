"""Incident-management bot: the composition root (settings, Telegram wiring, CLI)."""

from bot.lazy_aiogram import install

# Before anything imports aiogram: its Bot API schemas are built on first use, not at import (see the module;
# DEFER_AIOGRAM_SCHEMAS=0 switches it off).
install()
