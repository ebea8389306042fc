"""Private chat: the coordinator sends or forwards a message; the intake panel's buttons."""

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.i18n import _
from bot.keyboards import IntakeCb
from bot.scheduler import Scheduler
from bot.service import Service
from handlers.unpack import incoming

router = Router(name="intake")
router.message.filter(F.chat.type == "private")


@router.message(~F.text.startswith("/"))
async def intake_message(message: Message, service: Service, scheduler: Scheduler) -> None:
    answer = await service.intake_message(incoming(message))
    scheduler.poke()  # first: the sender starts on what the use case queued while the reply is on its way
    if answer:
        await message.answer(answer)  # a direct reply to the one who wrote: not a workflow message


@router.callback_query(IntakeCb.filter())
async def intake_press(query: CallbackQuery, callback_data: IntakeCb, service: Service, scheduler: Scheduler) -> None:
    if query.message is None:
        await query.answer(_("Сообщение устарело."), show_alert=True)
        return
    reply = await service.intake_press(query.from_user.id, query.message.chat.id, query.message.message_id,
                                       callback_data.action, callback_data.value)
    scheduler.poke()  # first: the sender starts on what the use case queued while the answer is on its way
    await query.answer(reply.alert, show_alert=reply.show_alert)
