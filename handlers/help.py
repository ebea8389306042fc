"""/help in a private chat: what to do, for one's roles. /status (private or group): what is open and due."""

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.menus import StatusAsk, help_command, status_command
from bot.sender import Sender
from bot.service import Service

router = Router(name="help")


@router.message(Command("help"), F.chat.type == "private")
async def help_(message: Message, service: Service, sender: Sender) -> None:
    if message.from_user is None:
        return
    await help_command(service, message.from_user.id, message.chat.id)
    sender.wake()


@router.message(Command("status"))
async def status(message: Message, service: Service, sender: Sender) -> None:
    if message.from_user is None or message.sender_chat is not None:
        return  # anonymous: whose incidents would they be?
    ask = StatusAsk(user_id=message.from_user.id, chat_id=message.chat.id, private=message.chat.type == "private",
                    message_id=message.message_id,
                    thread_id=message.message_thread_id if message.is_topic_message else None)
    await status_command(service, ask)
    sender.wake()
