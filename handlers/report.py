"""/report [YYYY-MM]: the monthly report, in a private chat or a bound group, for those the profile allows."""

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.report import ReportAsk, report_command
from bot.sender import Sender
from bot.service import Service
from bot.settings import Settings

router = Router(name="report")


@router.message(Command("report"))
async def report(message: Message, command: CommandObject, settings: Settings, service: Service,
                 sender: Sender) -> None:
    if message.from_user is None or message.sender_chat is not None:
        return  # anonymous: whose report would it be?
    ask = ReportAsk(user_id=message.from_user.id, chat_id=message.chat.id, private=message.chat.type == "private",
                    thread_id=message.message_thread_id if message.is_topic_message else None, month=command.args)
    refusal = await report_command(service, ask, settings.database_path.parent / "reports")
    if refusal:
        await message.reply(refusal)
    sender.wake()
