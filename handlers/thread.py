"""Group chats: answers, parts and replies in an incident's thread; buttons on incidents."""

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.i18n import _
from bot.keyboards import IncidentCb
from bot.scheduler import Scheduler
from bot.service import Service
from handlers.unpack import incoming

router = Router(name="thread")
router.message.filter(F.chat.type.in_({"group", "supergroup"}))
router.edited_message.filter(F.chat.type.in_({"group", "supergroup"}))


@router.message(F.from_user.is_bot.is_(False), ~F.text.startswith("/"))
async def thread_message(message: Message, service: Service, scheduler: Scheduler) -> None:
    await service.thread_message(incoming(message))
    scheduler.poke()


@router.edited_message()
async def edited(message: Message, service: Service, scheduler: Scheduler) -> None:
    await service.draft_edited(incoming(message))
    scheduler.poke()


@router.callback_query(IncidentCb.filter())
async def incident_press(query: CallbackQuery, callback_data: IncidentCb, service: Service,
                         scheduler: Scheduler) -> None:
    chat_id = query.message.chat.id if query.message else 0
    reply = await service.press(query.from_user.id, chat_id, callback_data.incident, callback_data.action,
                                callback_data.value, query.message.message_id if query.message else None)
    scheduler.poke()  # first: the sender starts on what the use case queued while the answer is on its way
    await query.answer(reply.alert, show_alert=reply.show_alert)


@router.callback_query()
async def stale_press(query: CallbackQuery) -> None:
    """Anything else, forged or from an old version: say so, change nothing."""
    await query.answer(_("Кнопка устарела или недействительна."), show_alert=True)
