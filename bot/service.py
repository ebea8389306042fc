"""The bot's use cases in one object, as the handlers see it: intake, cards and steps on incidents, over
the shared context (the database, the clock, the profiles, who is who: bot/context.py)."""

from __future__ import annotations

from bot.cards import Cards
from bot.intake import Intake
from bot.steps import Steps


class Service(Steps, Intake, Cards):
    """Intake (bot/intake.py), cards (bot/cards.py) and steps on incidents (bot/steps.py)."""
