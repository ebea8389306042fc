"""The suite runs as production does: `bot` first, so aiogram's Bot API schemas are built on first use
(bot/lazy_aiogram.py; DEFER_AIOGRAM_SCHEMAS=0 runs it with aiogram's eager import instead)."""

import bot  # noqa: F401  — before any test module imports aiogram
