"""People joining and leaving a bound group's Telegram chat: a member update (to an administrator bot, with the
invite link used) and the "joined" / "left" service messages; either or both may come, handling is idempotent."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import ChatMemberUpdated, Message

from bot import people
from bot.service import Service

router = Router(name="members")
GROUPS = F.chat.type.in_({"group", "supergroup"})
PRESENT = ("creator", "administrator", "member")


@router.chat_member(GROUPS)
async def member_updated(event: ChatMemberUpdated, service: Service) -> None:
    new = event.new_chat_member
    present = new.status in PRESENT or (new.status == "restricted" and bool(getattr(new, "is_member", False)))
    link = event.invite_link.invite_link if event.invite_link else None
    await people.member_changed(service, event.chat.id, new.user.id, new.user.full_name, present, link)


@router.message(GROUPS, F.new_chat_members)
async def joined(message: Message, service: Service) -> None:
    for user in message.new_chat_members or []:
        if not user.is_bot:
            await people.member_changed(service, message.chat.id, user.id, user.full_name, True)


@router.message(GROUPS, F.left_chat_member)
async def left(message: Message, service: Service) -> None:
    user = message.left_chat_member
    if user is not None and not user.is_bot:
        await people.member_changed(service, message.chat.id, user.id, user.full_name, False)
