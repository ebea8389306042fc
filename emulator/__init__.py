"""A strict, stateful Bot API emulator: a real HTTP server that a real aiogram Bot talks to (the tests' Telegram,
and the sandbox's: bot/sandbox/).

Quick start::

    from emulator import TelegramEmulator

    async def test_greeting():
        async with TelegramEmulator() as tg:
            bot = tg.create_bot()                      # aiogram Bot -> emulator, parse_mode=HTML
            alice = tg.create_user("Alice", started=True)
            await bot.send_message(alice.id, "Hello, <b>Alice</b>")
            assert tg.last_message(alice).text == "Hello, Alice"
            tg.assert_no_violations()

Module map: server.py (HTTP + facade), methods.py (what each method does), spec.py (validation against
api.min.json), html.py (parse_mode=HTML), text.py (limits, trimming, automatic entities), state.py (the
world), updates.py (getUpdates), actions.py (test-side injection), reading.py (test-side reading),
faults.py (429/5xx/hangs, flood control), calls.py (call log).
"""

from .calls import CallRecord
from .errors import ApiError, NotEmulated, SpecViolation
from .faults import Fault, Faults, FloodControl
from .html import HtmlParseError, parse_html, utf16_len
from .server import DEFAULT_TOKEN, TelegramEmulator
from .spec import SPEC_PATH, ApiSpec, SpecError, SpecNotFoundError, find_spec_path, load_spec
from .state import Button, CallbackQuery, Chat, Clock, FakeClock, InviteLink, Member, Message, Topic, User

__all__ = [
    "DEFAULT_TOKEN",
    "SPEC_PATH",
    "ApiError",
    "ApiSpec",
    "Button",
    "CallRecord",
    "CallbackQuery",
    "Chat",
    "Clock",
    "FakeClock",
    "Fault",
    "Faults",
    "FloodControl",
    "HtmlParseError",
    "InviteLink",
    "Member",
    "Message",
    "NotEmulated",
    "SpecError",
    "SpecNotFoundError",
    "SpecViolation",
    "TelegramEmulator",
    "Topic",
    "User",
    "find_spec_path",
    "load_spec",
    "parse_html",
    "utf16_len",
]
