"""A basic group upgraded to a supergroup (Telegram gives it a new id): the bot follows it at once, so what
people write in the new chat is taken. (The sender follows it too, when Telegram refuses a call for the old id.)"""

from aiogram import F, Router
from aiogram.types import Message

from bot.migration import group_migrated
from bot.scheduler import Scheduler
from bot.service import Service

router = Router(name="migration")


@router.message(F.migrate_from_chat_id)
async def migrated_here(message: Message, service: Service, scheduler: Scheduler) -> None:
    await group_migrated(service, message.migrate_from_chat_id or 0, message.chat.id)
    scheduler.poke()  # what was queued for the old id goes to the new one now


@router.message(F.migrate_to_chat_id)
async def migrated_away(message: Message, service: Service, scheduler: Scheduler) -> None:
    await group_migrated(service, message.chat.id, message.migrate_to_chat_id or 0)
    scheduler.poke()
