"""/start and /help in a private chat."""

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

router = Router(name="common")
router.message.filter(F.chat.type == "private")

HELP = (
    "Я веду работу с сообщениями граждан по регламенту «Инцидент-менеджмент».\n"
    "Координатор пересылает мне сообщение, исполнители отвечают в теме инцидента, "
    "я слежу за сроками."
)


@router.message(CommandStart())
@router.message(Command("help"))
async def start(message: Message) -> None:
    await message.answer(HELP)
