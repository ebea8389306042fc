"""The door of a group's Telegram chat: who is in it, what the bot may do there, an invite link for one person.

The use cases in bot/people.py ask these questions through the ``Door`` protocol and get plain answers; this
is the one implementation, over aiogram. Calls whose answer is needed at once go here; everything else the
bot says or does in Telegram (revoking a link, removing a member, messages) goes through the outbox.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from bot.people import DoorError

log = logging.getLogger(__name__)

INVITE = "can_invite_users"
RESTRICT = "can_restrict_members"


class TelegramDoor:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def status(self, chat_id: int, user_id: int) -> str | None:
        """The member's status (creator, administrator, member, restricted, left, kicked); a restricted one who
        is not a member counts as left. None when Telegram cannot tell (the bot is not there, no network)."""
        try:
            member = await self.bot.get_chat_member(chat_id, user_id)
        except TelegramAPIError as e:
            log.warning("cannot see %s in %s: %s", user_id, chat_id, e)
            return None
        if member.status == "restricted" and not getattr(member, "is_member", True):
            return "left"
        return str(member.status)

    async def may(self, chat_id: int, right: str) -> bool | None:
        """Whether the bot is an administrator of the chat allowed ``right``; None when it cannot tell."""
        try:
            me = await self.bot.get_chat_member(chat_id, self.bot.id)
        except TelegramAPIError as e:
            log.warning("cannot read my rights in %s: %s", chat_id, e)
            return None
        if me.status == "creator":
            return True
        return me.status == "administrator" and bool(getattr(me, right, False))

    async def create_link(self, chat_id: int, name: str) -> str:
        """A new invite link to the chat for one person (member_limit 1), named after him."""
        allowed = await self.may(chat_id, INVITE)
        if allowed is False:
            raise DoorError(INVITE)
        try:
            link = await self.bot.create_chat_invite_link(chat_id, name=name[:32], member_limit=1)
        except TelegramAPIError as e:
            log.warning("cannot create an invite link to %s: %s", chat_id, e)
            raise DoorError(None, str(e.message)) from e
        return link.invite_link
