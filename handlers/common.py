"""/start in a private chat (/help is in handlers/help.py)."""

from aiogram import F, Router
from aiogram.filters import CommandStart
from aiogram.types import Message

from bot.i18n import N_, _

router = Router(name="common")
router.message.filter(F.chat.type == "private")

HELP = N_(
    "Я веду работу с сообщениями граждан по регламенту «Инцидент-менеджмент».\n"
    "Координатор пересылает мне сообщение, исполнители отвечают в теме инцидента, "
    "я слежу за сроками.\n"
    "/help — что делать вам, /status — открытые инциденты и сроки.\n"
    "/language — язык (language)."
)


@router.message(CommandStart())
async def start(message: Message) -> None:
    await message.answer(_(HELP))
